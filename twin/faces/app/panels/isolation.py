"""The inspector's isolation card: the water headline, the deficit legend, the buildings and
pipes affected, and a "won't close" button on each valve (the re-plan grows the area).

Everything reads the browser's own ``analysis`` (the reply of ``twin_isolate``,
:mod:`twin.faces.app.isolation_analysis`); a valve marked here is sent back with the next
isolation (``inoperable``), so the server keeps no per-browser list.
"""

from __future__ import annotations

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from twin.faces.app.panels import testid
from twin.faces.i18n import text, tr

#: "N buildings / M customers without water, K critical" in the browser's language
HEADLINE = (
    f"{tr('{n} buildings / {m} customers without water, {k} critical')}"
    ".replace('{n}', analysis.water.buildings).replace('{m}', analysis.water.customers)"
    ".replace('{k}', analysis.water.critical)"
)


def replan(inoperable: str) -> str:
    """The template call that isolates the inspected segment again with ``inoperable`` (a JS list)."""
    return (
        "window.twinUI.call(trame, 'twin_isolate', [my_view, inspector.index, window.twinUI.camera(trame), "
        f"{inoperable}]).then((r) => r && r.analysis && trame.state.set('analysis', r.analysis))"
    )


def headline() -> None:
    html.Div(
        f"{{{{ {HEADLINE} }}}}",
        v_if="analysis.water",
        classes="px-4 pb-1 text-body-1 font-weight-bold",
        raw_attrs=[testid("analysis-water")],
    )


def details() -> None:
    with html.Div(v_if="analysis.kind === 'isolate'", classes="px-4 pb-3 text-body-2"):
        _legend()
        _valves()
        _buildings()
        _pipes()
        html.Div(
            "{{ analysis.hydraulic_note }}",
            v_if="analysis.hydraulic_note",
            classes="text-caption text-medium-emphasis mt-2",
            raw_attrs=[testid("analysis-hydraulic-note")],
        )


def _legend() -> None:
    with html.Div(v_if="analysis.legend", classes="my-2", raw_attrs=[testid("deficit-legend")]):
        html.Div(text("Pressure below service"), classes="text-caption")
        html.Div(style=("{ height: '10px', borderRadius: '3px', background: analysis.legend.gradient }",))
        with html.Div(classes="d-flex text-caption"):
            html.Span("{{ analysis.legend.low_m }} m")
            html.Span(style="flex: 1")
            html.Span("{{ analysis.legend.high_m }} m · " + text("no water"))
        with html.Div(classes="d-flex align-center text-caption mt-1"):
            html.Span(style="display:inline-block;width:12px;height:12px;background:#ff40ff;margin-right:6px")
            html.Span(text("Section out of supply"))


def _valves() -> None:
    with html.Div(v_if="analysis.valves.length", classes="mt-2"):
        html.Div(text("Valves to close"), classes="text-caption")
        with html.Div(classes="d-flex flex-wrap ga-1"):
            with v3.VChip(
                v_for="valve in analysis.valves",
                key="valve",
                size="small",
                color="green",
                raw_attrs=[testid("'valve-' + valve", bound=True)],
            ):
                html.Span("{{ valve }}")
                v3.VIcon(
                    "mdi-lock-alert",
                    end=True,
                    size="small",
                    click=replan("[...(analysis.inoperable || []), valve]"),
                    raw_attrs=[
                        f':title="{tr("Will not close: plan without it")}"',
                        testid("'seize-' + valve", bound=True),
                    ],
                )
    with html.Div(v_if="analysis.inoperable && analysis.inoperable.length", classes="mt-2"):
        html.Div(text("Valves that will not close"), classes="text-caption")
        with html.Div(classes="d-flex flex-wrap ga-1 align-center"):
            v3.VChip("{{ valve }}", v_for="valve in analysis.inoperable", key="valve", size="small", color="red")
            v3.VBtn(
                text("Reset"),
                size="x-small",
                variant="text",
                click=replan("[]"),
                raw_attrs=[testid("seized-reset")],
            )


def _buildings() -> None:
    with html.Div(v_if="analysis.buildings.length", classes="mt-2", raw_attrs=[testid("analysis-buildings")]):
        html.Div(text("Buildings without water"), classes="text-caption")
        with html.Div(v_for="b in analysis.buildings", key="b.id", classes="d-flex align-center flex-wrap"):
            v3.VChip("{{ b.critical }}", v_if="b.critical", size="x-small", color="red", classes="mr-1")
            html.Span("{{ b.name }}", classes="mr-2")
            html.Span("{{ b.node }}", classes="text-caption text-medium-emphasis")


def _pipes() -> None:
    with html.Div(v_if="analysis.pipes.length", classes="mt-2", raw_attrs=[testid("analysis-pipes")]):
        html.Div(text("Pipes at risk of turbidity"), classes="text-caption")
        with html.Div(v_for="p in analysis.pipes", key="p.id", classes="d-flex"):
            html.Span("{{ p.id }}", classes="mr-2")
            html.Span("{{ p.change }}", classes="font-weight-bold")
            html.Span(style="flex: 1")
            html.Span("{{ p.velocity }}", classes="text-caption text-medium-emphasis")


def briefing_line() -> None:
    """The briefing screen's water line while an isolation with its consequences is current."""
    with html.Div(
        v_if="analysis && analysis.water",
        raw_attrs=[testid("briefing-water")],
        classes=("analysis.water.critical > 0 ? 'twin-pulse' : ''",),
        # above the tour's target, between the two columns of tiles
        style="position: absolute; left: 50%; transform: translateX(-50%); bottom: 180px; max-width: 60%; "
        "padding: 10px 24px; border-radius: 10px; background: rgba(18,22,29,0.9); border: 2px solid #4fc3f7; "
        "font-size: 1.7rem; font-weight: 700; display: flex; align-items: center; gap: 12px; text-align: center;",
    ):
        v3.VIcon("mdi-water-off", color="#4fc3f7", size="x-large")
        with html.Div():
            html.Div("{{ analysis.title }}", style="font-size: 1.2rem; opacity: 0.8;")
            html.Div(f"{{{{ {HEADLINE} }}}}", raw_attrs=[testid("briefing-water-text")])
