"""The view's bearings: north arrow, orientation axes with the standard views, home, scale bar,
the coordinates under the mouse, and the keyboard shortcuts' help.

They read the per-browser keys ``bearings`` (north angle, screen axes, scale bar) and ``probe``
(the point under the mouse), which ``bearings.js`` asks the server for as the camera or mouse
moves (:mod:`twin.faces.app.bearings_actions`).
"""

from __future__ import annotations

from trame.widgets import client, html
from trame.widgets import vuetify3 as v3
from trame_client.widgets.core import HtmlElement

from twin.faces.app.panels import js, testid
from twin.faces.app.panels.toolbar import icon_button
from twin.faces.i18n import aria_label, text, tr

#: (key, what it does) for the help overlay; bearings.js binds the keys
SHORTCUTS = (
    ("H", "Home view"),
    ("T", "Top view"),
    ("F", "Front view (from the south)"),
    ("S", "Side view (from the east)"),
    ("I", "Isometric view"),
    ("N", "Turn north up"),
    ("M", "Measure between two picked points"),
    ("C", "Section: clip the scene"),
    ("Esc", "Cancel the tool in use"),
    ("?", "Show the keyboard shortcuts"),
)
#: the orientation widget's buttons: (standard view, label, accessible name)
ORIENTATION_VIEWS = (
    ("top", "Top", "Top view"),
    ("front", "Front", "Front view (from the south)"),
    ("side", "Side", "Side view (from the east)"),
    ("iso", "Iso", "Isometric view"),
)
#: the orientation axes: (screen axis key, colour, letter's msgid)
AXES = (("east", "#ef5350", "E"), ("north", "#66bb6a", "N"), ("up", "#42a5f5", "U"))
AXIS_PX = 24  # an axis seen side-on is this long in the widget (its centre is at 36, 36)
LABEL_PX = 31  # ... and its letter this far out
CARD = "background: rgba(18, 22, 29, 0.78); border-radius: 6px; padding: 4px 8px; color: #eceff1;"


def build() -> None:
    """The bearings over the 3D view (bottom right), hidden in briefing mode."""
    client.ClientTriggers(mounted="window.twinBearings.start(trame)")
    with html.Div(
        v_if="mode !== 'briefing'",
        style="position: absolute; right: 12px; bottom: 12px; z-index: 4; display: flex; flex-direction: column; "
        "align-items: flex-end; gap: 6px; pointer-events: none;",
        raw_attrs=[testid("bearings")],
    ):
        with html.Div(style="display: flex; align-items: flex-end; gap: 6px; pointer-events: auto;"):
            _orientation()
            with html.Div(style=CARD + " display: flex; flex-direction: column; align-items: center;"):
                _north_arrow()
                icon_button("mdi-home-outline", "Home view", "window.twinBearings.act(trame, 'twin_home')", "home")
                icon_button("mdi-keyboard-outline", "Show the keyboard shortcuts", "show_shortcuts = true", "shortcuts")
        _scale_bar()
        _coordinates()
    _help()


def _north_arrow() -> None:
    """An arrow that points to grid north as the camera turns; a click turns north up."""
    with v3.VBtn(
        variant="text",
        density="comfortable",
        icon=True,
        click="window.twinBearings.act(trame, 'twin_north_up')",
        raw_attrs=[testid("north-arrow"), aria_label("North arrow: turn north up")],
    ):
        with html.Div(
            style="display: flex; flex-direction: column; align-items: center; line-height: 1;",
            raw_attrs=[
                ":style=\"{transform: 'rotate(' + (bearings ? bearings.north : 0) + 'deg)'}\"",
                ':data-angle="bearings ? bearings.north : 0"',
                testid("north-needle"),
            ],
        ):
            html.Span(text("N"), style="font-size: 11px; font-weight: 700; color: #ef5350;")
            with html.Svg(width=14, height=24, raw_attrs=['viewBox="0 0 14 24"', 'aria-hidden="true"']):
                HtmlElement("polygon", raw_attrs=['points="7,0 13,12 1,12"', 'fill="#ef5350"'])  # the north half
                HtmlElement("polygon", raw_attrs=['points="1,12 13,12 7,24"', 'fill="#cfd8dc"'])


def _orientation() -> None:
    """The scene's axes as the camera sees them, and a button per standard view."""
    with html.Div(style=CARD + " display: flex; flex-direction: column; align-items: center;"):
        with html.Svg(
            width=72,
            height=72,
            raw_attrs=['viewBox="0 0 72 72"', 'role="img"', aria_label("Orientation of the scene's axes")],
        ):
            for key, colour, letter in AXES:
                x, y = _axis_end(key, AXIS_PX)
                label_x, label_y = _axis_end(key, LABEL_PX)
                HtmlElement(
                    "line",
                    raw_attrs=[
                        'x1="36"',
                        'y1="36"',
                        f':x2="{x}"',
                        f':y2="{y}"',
                        f'stroke="{colour}"',
                        'stroke-width="3"',
                    ],
                )
                HtmlElement(
                    "text",
                    children=[text(letter)],
                    raw_attrs=[
                        f':x="{label_x}"',
                        f':y="{label_y}"',
                        f'fill="{colour}"',
                        'font-size="11"',
                        'font-weight="700"',
                        'text-anchor="middle"',
                        'dominant-baseline="central"',
                    ],
                )
        with html.Div(style="display: flex; gap: 2px;"):
            for view, label, name in ORIENTATION_VIEWS:
                v3.VBtn(
                    text(label),
                    size="x-small",
                    variant="tonal",
                    click=js("look", f"'{view}'"),
                    raw_attrs=[testid(f"orient-{view}"), aria_label(name)],
                )


def _axis_end(key: str, length: float) -> tuple[str, str]:
    """Vue expressions for where an axis of the orientation widget ends, ``length`` pixels out when seen side-on."""
    end = f"(bearings ? bearings.axes.{key} : [0, 0])"
    return f"(36 + {length} * {end}[0])", f"(36 - {length} * {end}[1])"


def _scale_bar() -> None:
    with html.Div(v_if="bearings && bearings.scale", style=CARD, raw_attrs=[testid("scale-bar")]):
        html.Div(
            style="height: 6px; border: 2px solid #eceff1; border-top: none;",
            raw_attrs=[":style=\"{width: bearings.scale.pixels + 'px'}\""],
        )
        html.Div(
            "{{ bearings.scale.label }}",
            classes="text-caption",
            style="text-align: center; line-height: 1.2;",
            raw_attrs=[testid("scale-bar-label")],
        )


def _coordinates() -> None:
    """The point under the mouse: scene CRS easting, northing and height, and longitude / latitude."""
    with html.Div(
        v_if="probe",
        classes="text-caption",
        style=CARD + " font-variant-numeric: tabular-nums; text-align: right; line-height: 1.35;",
        raw_attrs=[testid("coordinates"), 'aria-live="off"'],
    ):
        html.Div(
            "X {{ probe.x.toFixed(2) }}  Y {{ probe.y.toFixed(2) }}  Z {{ probe.z.toFixed(2) }}  ({{ scene_crs }})",
            raw_attrs=[testid("coordinates-crs")],
        )
        html.Div(
            text("Longitude") + " {{ probe.lon.toFixed(6) }}°  " + text("Latitude") + " {{ probe.lat.toFixed(6) }}°",
            v_if="probe.lon !== undefined",
            raw_attrs=[testid("coordinates-lonlat")],
        )


def _help() -> None:
    """The keyboard shortcuts, opened with ``?`` or the keyboard button."""
    with v3.VDialog(model_value=("show_shortcuts",), max_width=460, update_modelValue="show_shortcuts = $event"):
        with v3.VCard(title=(tr("Keyboard shortcuts"),), raw_attrs=[testid("shortcuts-help")]):
            with v3.VCardText():
                with v3.VTable(density="compact"):
                    with html.Tbody():
                        for key, what in SHORTCUTS:
                            with html.Tr():
                                with html.Td(style="width: 64px"):
                                    html.Kbd(key)
                                html.Td(text(what))
                html.Div(text("Shortcuts are ignored while typing in a text field."), classes="text-caption mt-2")
            with v3.VCardActions():
                v3.VSpacer()
                v3.VBtn(text("Close"), click="show_shortcuts = false", raw_attrs=[testid("shortcuts-close")])
