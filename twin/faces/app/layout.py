"""The page: title bar, layer drawer, 3D view, inspector drawer, status line, dialogs, snackbar.

The templates read the state keys declared in :mod:`twin.faces.app.state`.
"""

from __future__ import annotations

import vtk
from trame.ui.vuetify3 import VAppLayout
from trame.widgets import client, html
from trame.widgets import vtk as vtk_widgets
from trame.widgets import vuetify3 as v3

from twin.faces.app.loading import overlay as loading_overlay
from twin.faces.app.panels import (
    bearings,
    briefing,
    incidents,
    inspector,
    js,
    layer_tree,
    risk,
    status,
    testid,
    toolbar,
)
from twin.faces.i18n import aria_label, text, tr, vuetify_locale

THEME = {
    "defaultTheme": "twin",
    "themes": {
        "twin": {
            "dark": True,
            "colors": {
                "background": "#12161d",
                "surface": "#1a1f28",
                "primary": "#4fc3f7",
                "secondary": "#90a4ae",
                "error": "#ff5252",
                "warning": "#ffb300",
                "info": "#4fc3f7",
                "success": "#66bb6a",
            },
        }
    },
}
VIEW_STYLE = "position: absolute; inset: 0;"
#: below this width (a tablet in portrait, a phone) the panels are drawers over the view; below PHONE
#: the inspector is a bottom sheet (the same numbers in client.js: twinUI.narrow)
NARROW, PHONE = 1000, 600
NARROW_JS = f"$vuetify.display.width < {NARROW}"
#: a title bar wider than the screen scrolls sideways: every control stays reachable on a phone
BAR_STYLE = (
    ".v-app-bar .v-toolbar__content { overflow-x: auto; overflow-y: hidden; scrollbar-width: thin; }"
    ".v-app-bar .v-toolbar__content > * { flex-shrink: 0; }"
)
#: server-side rendering draws at half the size while the camera moves (llvmpipe is fill-rate bound:
#: a quarter of the pixels is about 4x the frame rate), then a full-size still when it stops
INTERACTIVE_RATIO = 0.5


def build(server, window, live: bool = False, city: bool = False) -> VAppLayout:
    """The whole page; ``window`` is any render window (each browser binds its own view by id).

    With ``live`` the live-risk parts join in (:mod:`twin.faces.app.panels.risk`, :mod:`~.briefing`);
    in briefing mode (``mode``) the title bar, drawers and status line give way to the kiosk.
    """
    with VAppLayout(server, vuetify_config={"theme": THEME, "locale": vuetify_locale()}, full_height=True) as layout:
        client.ClientTriggers(mounted=js("init"))
        loading_overlay()  # CIM Twin's loading screen until this browser's view is claimed
        if city:  # a streamed city: a vtk.js view reports its camera (city.js)
            client.ClientTriggers(mounted="window.twinCity.start(trame)")
        with v3.VAppBar(density="compact", flat=True, border="b", v_if="mode !== 'briefing'") as bar:
            v3.VAppBarNavIcon(
                click="show_layers = !show_layers",
                density="comfortable",
                raw_attrs=[aria_label("Show or hide the layers"), testid("layers-button")],
            )
        client.Style(BAR_STYLE)
        toolbar.build(bar)
        with bar:
            v3.VBtn(
                icon="mdi-card-search-outline",
                variant="text",
                density="comfortable",
                click="show_inspector = !show_inspector",
                raw_attrs=[aria_label("Show or hide the inspector"), testid("inspector-button")],
            )
        if live:
            risk.toolbar(bar)
            incidents.toolbar(bar)
        # on a phone or tablet (below NARROW px) the panels are drawers over the view, closed at first
        # (client.js); the inspector comes up from the bottom on a phone
        with v3.VNavigationDrawer(
            model_value=("show_layers",),
            update_modelValue="show_layers = $event",
            width=300,
            temporary=(NARROW_JS,),
            disable_resize_watcher=True,
            raw_attrs=[testid("layers"), aria_label("Layers")],
        ):
            layer_tree.build()
        with v3.VNavigationDrawer(
            location=(f"$vuetify.display.width < {PHONE} ? 'bottom' : 'right'",),
            width=(f"$vuetify.display.width < {PHONE} ? Math.round($vuetify.display.height * 0.55) : 360",),
            model_value=("show_inspector",),
            update_modelValue="show_inspector = $event",
            temporary=(NARROW_JS,),
            disable_resize_watcher=True,
            raw_attrs=[testid("inspector-drawer"), aria_label("Inspector")],
        ):
            inspector.build(risk.inspector_section if live else None)
        with v3.VMain():
            with html.Div(style="position: relative; width: 100%; height: 100%;"):
                _view(window)
                if live:
                    risk.overlays()
                    incidents.build()
                    briefing.build()
        status.build(v3.VFooter(app=True, border="t", v_if="mode !== 'briefing'"))
        _dialogs()
        if live:
            risk.banners()
    return layout


def _view(window) -> None:
    with html.Div(
        classes="twin-view",
        style="position: relative; width: 100%; height: 100%;",
        raw_attrs=[
            '@pointerdown.capture="window.twinUI.down($event)"',
            '@pointerup.capture="window.twinUI.up($event)"',
            ":style=\"{cursor: tool === 'measure' ? 'crosshair' : 'default'}\"",
        ],
    ):
        remote = vtk_widgets.VtkRemoteView(
            window,
            v_if="rendering === 'server' && my_view",
            interactive_ratio=INTERACTIVE_RATIO,
            interactive_quality=50,
            still_quality=90,
            picking_modes=("['click', 'hover']",),
            click=js("pick", "$event"),
            hover=js("hover", "$event"),
            style=VIEW_STYLE,
        )
        # trame-vtk binds viewId / viewState to one key of shared state and takes no other: its
        # attribute table (a library internal, no public setter) is rebound to the per-browser keys
        remote._attributes["view_id"] = ':viewId="my_view"'  # each browser streams its own render window
        local = vtk_widgets.VtkLocalView(
            _empty_window(),
            ref="twin_local",
            v_if="rendering === 'client' && my_scene",
            picking_modes=("['click', 'hover']",),
            click=js("pick", "$event"),
            hover=js("hover", "$event"),
            style=VIEW_STYLE,
        )
        local._attributes["view_state"] = ':viewState="my_scene"'  # this browser's own view, client-only
        _clip_card()
        bearings.build()  # north arrow, orientation, home, scale bar, coordinates, shortcuts
        v3.VProgressLinear(v_if="!ready", indeterminate=True, color="primary", absolute=True, location="top")


def _empty_window():
    """A render window with nothing in it: the vtk.js widget needs one, each browser brings its own scene."""
    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(True)
    window.AddRenderer(vtk.vtkRenderer())
    return window


def _clip_card() -> None:
    with v3.VCard(
        v_if="cfg.clip.on",
        width=260,
        classes="pa-2",
        elevation=6,
        style="position: absolute; left: 12px; bottom: 12px; opacity: 0.92",
        raw_attrs=[testid("clip-card")],
    ):
        html.Div(text("Section"), classes="text-overline")
        with html.Div(classes="d-flex align-center ga-2"):
            with v3.VBtnToggle(
                model_value=("cfg.clip.axis",),
                mandatory=True,
                density="compact",
                divided=True,
                variant="outlined",
                update_modelValue=js("setClip", "{axis: $event}"),
            ):
                for axis in "xyz":
                    v3.VBtn(axis.upper(), value=axis, size="small")
            v3.VBtn(
                icon="mdi-swap-vertical",
                size="small",
                variant="text",
                click=js("setClip", "{flip: !cfg.clip.flip}"),
                raw_attrs=[aria_label("Flip the section")],
            )
        v3.VSlider(
            model_value=("cfg.clip.at",),
            min=0,
            max=1,
            step=0.01,
            density="compact",
            hide_details=True,
            end=js("setClip", "{at: $event}"),
            raw_attrs=[testid("clip-slider")],
        )


def _dialogs() -> None:
    v3.VSnackbar(
        model_value=("toast.show",),
        text=("toast.text",),
        timeout=8000,
        color=("toast.color || 'error'",),
        location="bottom right",
        multi_line=True,
        update_modelValue="toast = Object.assign({}, toast, {show: $event})",
        raw_attrs=[testid("toast")],
    )
    with v3.VDialog(model_value=("bookmark_dialog",), max_width=420, update_modelValue="bookmark_dialog = $event"):
        with v3.VCard(title=(tr("Save this view as a bookmark"),)):
            with v3.VCardText():
                v3.VTextField(
                    v_model=("bookmark_name",),
                    label=(tr("Name"),),
                    autofocus=True,
                    hide_details=True,
                    raw_attrs=[testid("bookmark-name")],
                )
            with v3.VCardActions():
                v3.VSpacer()
                v3.VBtn(text("Cancel"), click="bookmark_dialog = false")
                v3.VBtn(
                    text("Save"),
                    color="primary",
                    click="bookmark_dialog = false; " + js("saveBookmark", "bookmark_name"),
                    raw_attrs=[testid("bookmark-save")],
                )
    with v3.VDialog(
        model_value=("!!share_url",), max_width=640, update_modelValue="share_url = $event ? share_url : ''"
    ):
        with v3.VCard(
            title=(tr("Link to this view"),), subtitle=(tr("Copied to the clipboard when the browser allows it"),)
        ):
            with v3.VCardText():
                v3.VTextField(
                    model_value=("share_url",), readonly=True, hide_details=True, raw_attrs=[testid("share-url")]
                )
            with v3.VCardActions():
                v3.VSpacer()
                v3.VBtn(text("Close"), click="share_url = ''", raw_attrs=[testid("share-close")])
