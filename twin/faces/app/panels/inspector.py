"""The right drawer: the selected asset's identity, attributes and actions, analyses, measurements.

The asset's own data comes first: its title with its live level (colour, icon and label), the
actions, and its own sections (pipe, IFC, point) open; the live-risk card (``live_card``, drawn
by :mod:`~twin.faces.app.panels.risk` when risk is live) follows them, then the rest.
"""

from __future__ import annotations

from collections.abc import Callable

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from twin.faces.app.panels import isolation, js, testid
from twin.faces.app.panels.risk import level_chip
from twin.faces.i18n import aria_label, text

ACTIONS = (
    ("fly_to", "mdi-airplane", "Fly to"),
    ("isolate", "mdi-valve-closed", "Isolate"),
    ("nearby", "mdi-radar", "Nearby"),
)


def build(live_card: Callable[[], None] | None = None) -> None:
    _measure()
    with html.Div(v_if="!inspector && tool !== 'measure'", classes="pa-4 text-medium-emphasis text-body-2"):
        v3.VIcon("mdi-cursor-default-click-outline", classes="mr-1")
        html.Span(text("Click a building, a point or a pipe, or search for an asset."))
    with html.Div(v_if="inspector", raw_attrs=[testid("inspector")]):
        _header(live=live_card is not None)
        _analysis()
        _sections("i < inspector.own")
        if live_card is not None:
            live_card()
        _sections("i >= inspector.own")


def _measure() -> None:
    with html.Div(v_if="tool === 'measure'", classes="pa-3", raw_attrs=[testid("measure-panel")]):
        html.Div(text("Measure"), classes="text-overline")
        html.Div(
            text("Click two points in the view."),
            v_if="!measure || !measure.distance",
            classes="text-body-2 text-medium-emphasis",
        )
        with v3.VTable(v_if="measure && measure.distance !== undefined", density="compact"):
            with html.Tbody():
                for key, label in (("distance", "3D"), ("horizontal", "Horizontal"), ("vertical", "Vertical")):
                    with html.Tr():
                        html.Td(text(label))
                        html.Td(
                            f"{{{{ measure.{key}.toFixed(2) }}}} m",
                            classes="text-right font-weight-bold",
                            raw_attrs=[testid(f"measure-{key}")],
                        )


def _header(live: bool) -> None:
    """Title, kind, layer and (risk live) the asset's level, then the actions it offers."""
    with html.Div(classes="pa-3 pb-1"):
        html.Div("{{ inspector.title }}", classes="text-h6", raw_attrs=[testid("inspector-title")])
        v3.VChip("{{ inspector.kind }}", size="small", classes="mr-1", v_if="inspector.kind")
        v3.VChip("{{ inspector.layer }}", size="small", variant="outlined", classes="mr-1")
        if live:  # only a live app has risk_levels
            with html.Span(
                v_if="asset_risk && asset_risk.index === inspector.index", raw_attrs=[testid("inspector-level")]
            ):
                level_chip("asset_risk.level")
        v3.VBtn(
            icon="mdi-close",
            size="small",
            variant="text",
            classes="float-right mt-n9",
            click=js("clearSelection"),
            raw_attrs=[aria_label("Close the inspector")],
        )
    with html.Div(classes="px-3 pb-2 d-flex flex-wrap ga-1"):
        for name, icon, label in ACTIONS:
            v3.VBtn(
                text(label),
                prepend_icon=icon,
                size="small",
                variant="tonal",
                color="primary",
                v_if=f"inspector.actions.includes('{name}')",
                click=js("action", f"'{name}'"),
                raw_attrs=[testid(f"action-{name}")],
            )


def _analysis() -> None:
    with v3.VCard(v_if="analysis", variant="tonal", color="amber", classes="mx-3 mb-2", raw_attrs=[testid("analysis")]):
        v3.VCardTitle("{{ analysis.title }}", classes="text-subtitle-1")
        isolation.headline()
        with v3.VTable(density="compact", classes="bg-transparent"):
            with html.Tbody():
                with html.Tr(v_for="row in analysis.rows", key="row[0]"):
                    html.Td("{{ row[0] }}", classes="text-caption")
                    html.Td("{{ row[1] }}", classes="text-body-2")
        isolation.details()


def _sections(which: str) -> None:
    """The inspector's sections for which ``which`` (a JS condition on the index ``i``) holds;
    the asset's own ones (the first ``inspector.own``) open."""
    with v3.VExpansionPanels(
        multiple=True,
        variant="accordion",
        model_value=("inspector.sections.map((s, i) => i).filter(i => i < inspector.own)",),
    ):
        with html.Template(v_for="(section, i) in inspector.sections", key="section.title"):
            with v3.VExpansionPanel(value=("i",), v_if=f"({which}) && section.rows.length"):
                with v3.VExpansionPanelTitle():
                    v3.VIcon("{{ section.icon }}", size="small", classes="mr-2")
                    html.Span("{{ section.title }}")
                with v3.VExpansionPanelText():
                    with v3.VTable(density="compact"):
                        with html.Tbody():
                            with html.Tr(
                                v_for="row in section.rows",
                                key="row[0]",
                                raw_attrs=[testid("'row-' + row[0]", bound=True)],
                            ):
                                html.Td("{{ row[0] }}", classes="text-caption text-medium-emphasis", style="width: 42%")
                                html.Td("{{ row[1] }}", classes="text-body-2", style="word-break: break-all")
