"""The title bar: scene name, the search field with suggestions, view and tool buttons."""

from __future__ import annotations

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from twin.faces.app.panels import js, testid
from twin.faces.i18n import LANGUAGES, aria_label, text, tr

VIEW_BUTTONS = (
    ("iso", "mdi-axis-arrow", "Isometric view"),
    ("top", "mdi-arrow-collapse-down", "Top view"),
    ("front", "mdi-arrow-collapse-right", "Front view (from the south)"),
)


#: each language named in itself, for the language menu
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


def icon_button(icon: str, tip: str, click: str, test: str, **kwargs) -> None:
    with v3.VTooltip(text=(tr(tip),), location="bottom"):
        with v3.Template(v_slot_activator="{ props }"):
            v3.VBtn(
                icon=icon,
                v_bind="props",
                click=click,
                density="comfortable",
                variant="text",
                raw_attrs=[testid(test), aria_label(tip)],
                **kwargs,
            )


def search_field() -> None:
    v3.VAutocomplete(
        placeholder=(tr("Search id, GlobalId, name or address code"),),
        prepend_inner_icon="mdi-magnify",
        items=("suggestions",),
        item_title="title",
        item_value="index",
        no_filter=True,
        hide_no_data=True,
        density="compact",
        variant="solo-filled",
        flat=True,
        hide_details=True,
        clearable=True,
        model_value=("search_choice", None),
        style="max-width: 440px; min-width: min(280px, 55vw)",
        update_search=js("search", "$event"),
        update_modelValue=js("choose", "$event"),
        raw_attrs=[testid("search"), aria_label("Search")],
    )


def build(toolbar) -> None:
    """Fill the app bar."""
    with toolbar:
        v3.VIcon("mdi-city-variant-outline", color="primary", classes="ml-3 mr-2")
        html.Span(text("CIM Twin"), classes="text-h6 font-weight-bold mr-3 text-no-wrap")
        html.Span(
            "{{ scene_name }}",
            classes="text-subtitle-1 text-medium-emphasis mr-4 text-no-wrap text-truncate",
            style="max-width: 220px",
            raw_attrs=[testid("scene-name")],
        )
        search_field()
        v3.VSpacer()
        for name, icon, tip in VIEW_BUTTONS:
            icon_button(icon, tip, js("look", f"'{name}'"), f"view-{name}")
        with v3.VMenu():
            with v3.Template(v_slot_activator="{ props }"):
                v3.VBtn(
                    icon="mdi-bookmark-multiple-outline",
                    v_bind="props",
                    variant="text",
                    density="comfortable",
                    raw_attrs=[testid("bookmarks"), aria_label("Bookmarks")],
                )
            with v3.VList(density="compact"):
                v3.VListItem(
                    v_for="name in bookmarks",
                    key="name",
                    title=("name",),
                    prepend_icon="mdi-camera-marker",
                    click=js("look", "name"),
                )
                v3.VDivider()
                v3.VListItem(
                    title=(tr("Save this view…"),),
                    prepend_icon="mdi-bookmark-plus-outline",
                    click="bookmark_dialog = true",
                )
        v3.VDivider(vertical=True, classes="mx-1")
        icon_button(
            "mdi-layers-triple-outline",
            "Underground mode: see the pipes",
            js("setCfg", "{underground: cfg.underground === 'off' ? 'translucent' : 'off'}"),
            "underground",
            color=("cfg.underground !== 'off' ? 'amber' : undefined",),
        )
        icon_button(
            "mdi-box-cutter",
            "Section: clip the scene",
            js("setClip", "{on: !cfg.clip.on}"),
            "clip",
            color=("cfg.clip.on ? 'amber' : undefined",),
        )
        icon_button(
            "mdi-ruler",
            "Measure between two picked points",
            "window.twinBearings.toggleMeasure(trame)",  # off: its markers and labels go too
            "measure",
            color=("tool === 'measure' ? 'amber' : undefined",),
        )
        v3.VDivider(vertical=True, classes="mx-1")
        icon_button("mdi-camera-outline", "Save a PNG of the view", js("screenshot"), "screenshot")
        icon_button("mdi-share-variant-outline", "Copy a link to this view", js("share"), "share")
        with v3.VBtnToggle(
            model_value=("rendering",),
            mandatory=True,
            density="compact",
            variant="outlined",
            divided=True,
            classes="mx-2",
            update_modelValue=js("setRendering", "$event"),
            raw_attrs=[testid("rendering")],
        ):
            v3.VBtn(
                text("Server"),
                value="server",
                size="small",
                prepend_icon="mdi-server",
                raw_attrs=[testid("rendering-server")],
            )
            v3.VBtn(
                text("Client"),
                value="client",
                size="small",
                prepend_icon="mdi-monitor",
                raw_attrs=[testid("rendering-client")],
            )
        language_menu()


def language_menu() -> None:
    """The language switch: the page's text changes at once, the scene stays as it is."""
    with v3.VMenu():
        with v3.Template(v_slot_activator="{ props }"):
            v3.VBtn(
                icon="mdi-translate",
                v_bind="props",
                variant="text",
                density="comfortable",
                raw_attrs=[testid("language"), aria_label("Language")],
            )
        with v3.VList(density="compact"):
            for lang in LANGUAGES:
                v3.VListItem(
                    title=LANGUAGE_NAMES[lang],
                    active=(f"lang === '{lang}'",),
                    click=f"window.twinI18n.set(trame, '{lang}')",
                    raw_attrs=[testid(f"language-{lang}"), f'lang="{lang}"'],
                )
