"""The right drawer: the selected asset's identity, attributes and actions, analyses, measurements."""

from __future__ import annotations

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from twin.faces.app.panels import js, testid

ACTIONS = (
    ("fly_to", "mdi-airplane", "Fly to"),
    ("isolate", "mdi-valve-closed", "Isolate"),
    ("nearby", "mdi-radar", "Nearby"),
)


def build() -> None:
    with html.Div(v_if="tool === 'measure'", classes="pa-3", raw_attrs=[testid("measure-panel")]):
        html.Div("Measure", classes="text-overline")
        html.Div(
            "Click two points in the view.",
            v_if="!measure || !measure.distance",
            classes="text-body-2 text-medium-emphasis",
        )
        with v3.VTable(v_if="measure && measure.distance !== undefined", density="compact"):
            with html.Tbody():
                for key, label in (("distance", "3D"), ("horizontal", "Horizontal"), ("vertical", "Vertical")):
                    with html.Tr():
                        html.Td(label)
                        html.Td(
                            f"{{{{ measure.{key}.toFixed(2) }}}} m",
                            classes="text-right font-weight-bold",
                            raw_attrs=[testid(f"measure-{key}")],
                        )
    with html.Div(v_if="!inspector && tool !== 'measure'", classes="pa-4 text-medium-emphasis text-body-2"):
        v3.VIcon("mdi-cursor-default-click-outline", classes="mr-1")
        html.Span("Click a building, a point or a pipe, or search for an asset.")
    with html.Div(v_if="inspector", raw_attrs=[testid("inspector")]):
        with html.Div(classes="pa-3 pb-1"):
            html.Div("{{ inspector.title }}", classes="text-h6", raw_attrs=[testid("inspector-title")])
            v3.VChip("{{ inspector.kind }}", size="small", classes="mr-1", v_if="inspector.kind")
            v3.VChip("{{ inspector.layer }}", size="small", variant="outlined")
            v3.VBtn(
                icon="mdi-close", size="small", variant="text", classes="float-right mt-n9", click=js("clearSelection")
            )
        with html.Div(classes="px-3 pb-2 d-flex flex-wrap ga-1"):
            for name, icon, label in ACTIONS:
                v3.VBtn(
                    label,
                    prepend_icon=icon,
                    size="small",
                    variant="tonal",
                    color="primary",
                    v_if=f"inspector.actions.includes('{name}')",
                    click=js("action", f"'{name}'"),
                    raw_attrs=[testid(f"action-{name}")],
                )
        with v3.VCard(
            v_if="analysis", variant="tonal", color="amber", classes="mx-3 mb-2", raw_attrs=[testid("analysis")]
        ):
            v3.VCardTitle("{{ analysis.title }}", classes="text-subtitle-1")
            with v3.VTable(density="compact", classes="bg-transparent"):
                with html.Tbody():
                    with html.Tr(v_for="row in analysis.rows", key="row[0]"):
                        html.Td("{{ row[0] }}", classes="text-caption")
                        html.Td("{{ row[1] }}", classes="text-body-2")
        with v3.VExpansionPanels(multiple=True, variant="accordion", model_value=("[0, 1, 2]",)):
            with v3.VExpansionPanel(
                v_for="(section, i) in inspector.sections",
                key="section.title",
                value=("i",),
                v_show="section.rows.length",
            ):
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
