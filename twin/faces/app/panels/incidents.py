"""The incidents panel: the open incidents (one failure, all its alerts) and the one opened.

The list reads the server-written ``incidents`` key (:mod:`twin.faces.app.incident_feed`): each
incident's level on the four-colour scale (colour + icon + label), hazard, place, alerts and age.
The incident opened (per browser: ``incident``, from ``twin_incident``) shows its plan as a
checklist the operator checks off in their name, the grids it touches with the workers on duty,
the nearest resources with distance and travel time (their routes are drawn in the 3D view),
its timeline, a field to note an action and the situation report (PDF) button.
"""

from __future__ import annotations

from trame.widgets import client, html
from trame.widgets import vuetify3 as v3

from twin.faces.app.panels import testid
from twin.faces.app.panels.risk import level, level_chip
from twin.faces.i18n import LOCALE_JS, aria_label, text, tr, tr_expr

ROUTE_COLOUR, RESOURCE_COLOUR = "#00e676", "#ff80ab"  # as drawn (client_views.COLORS "routes", "resources")
#: minutes since an incident opened, re-read with every tick of the clock
AGE = "(clock, Math.max(0, Math.round((Date.now() / 1000 - {i}.opened) / 60)))"
#: "2 / 5" plan steps done of those needed
PROGRESS = "{p}.done + ' / ' + ({p}.done + {p}.open + {p}.overdue)"


def ijs(function: str, *args: str) -> str:
    return f"window.twinIncidents.{function}({', '.join(('trame', *args))})"


def localised(expr: str, key: str) -> str:
    """The Chinese text of ``expr`` (its ``key_zh``) on a Chinese page when there is one."""
    return f"(lang === 'zh' && {expr}.{key}_zh ? {expr}.{key}_zh : {expr}.{key})"


def toolbar(bar) -> None:
    """The incidents button in the title bar, with the number of open incidents."""
    with bar:
        with v3.VBtn(
            variant="text",
            density="comfortable",
            icon=True,
            v_if="incidents",
            click="show_incidents = !show_incidents",
            title=(tr("Incidents"),),
            raw_attrs=[testid("incidents-button"), aria_label("Incidents")],
        ):
            with v3.VBadge(
                content=("incidents.list.length",),
                model_value=("incidents.list.length > 0",),
                color=(f"incidents.list.length ? {level('incidents.list[0].level', 'colour')} : 'grey'",),
                raw_attrs=[testid("incidents-count")],
            ):
                v3.VIcon("mdi-clipboard-alert-outline")


def build() -> None:
    """The panel over the 3D view (top right, above the alerts), while the incidents button is on."""
    client.ClientTriggers(mounted=ijs("init"))
    with v3.VCard(
        v_if="mode !== 'briefing' && show_incidents && incidents",
        width=430,
        elevation=8,
        style="position: absolute; right: 12px; top: 12px; max-height: calc(100% - 24px); overflow-y: auto; z-index: 6",
        raw_attrs=[testid("incidents")],
    ):
        with v3.VCardTitle(classes="d-flex align-center text-subtitle-1"):
            v3.VBtn(
                icon="mdi-arrow-left",
                size="x-small",
                variant="text",
                v_if="incident",
                click=ijs("close"),
                raw_attrs=[testid("incident-back"), aria_label("All incidents")],
            )
            v3.VIcon("mdi-clipboard-alert-outline", classes="mr-2", v_if="!incident")
            html.Span(text("Open incidents") + " ({{ incidents.list.length }})", v_if="!incident")
            html.Span(text("Incident") + " #{{ incident.id }}", v_if="incident")
            v3.VSpacer()
            v3.VBtn(
                icon="mdi-close",
                size="x-small",
                variant="text",
                click="show_incidents = false",
                raw_attrs=[aria_label("Close")],
            )
        _listing()
        _detail()


def _listing() -> None:
    with html.Div(v_if="!incident"):
        html.Div(
            text("No open incidents"),
            v_if="!incidents.list.length",
            classes="px-4 pb-3 text-medium-emphasis",
            raw_attrs=[testid("incidents-none")],
        )
        with v3.VList(density="compact", classes="py-0"):
            with v3.VListItem(
                v_for="i in incidents.list",
                key="i.id",
                click=ijs("open", "i.id"),
                raw_attrs=[testid("'incident-' + i.id", bound=True)],
            ):
                with v3.Template(v_slot_prepend=True):
                    v3.VIcon(f"{{{{ {level('i.level', 'icon')} }}}}", color=(level("i.level", "colour"),))
                v3.VListItemTitle(
                    f"{{{{ {level('i.level', 'label')} }}}} · {{{{ {tr_expr('i.hazard')} }}}} · {{{{ i.place }}}}",
                    classes="text-body-2 font-weight-bold",
                    style="white-space: normal",
                )
                v3.VListItemSubtitle(
                    f"{{{{ i.alerts }}}} {text('alerts')} · {{{{ {AGE.format(i='i')} }}}} {text('min')}"
                    f"{{{{ i.progress ? ' · ' + {tr('plan')} + ' ' + {PROGRESS.format(p='i.progress')} : '' }}}}",
                    raw_attrs=[testid("'incident-meta-' + i.id", bound=True)],
                )


def _detail() -> None:
    with html.Div(v_if="incident", classes="px-3 pb-3", raw_attrs=[testid("incident-detail")]):
        with html.Div(classes="d-flex align-center flex-wrap ga-2 mb-1"):
            level_chip("incident.level")
            html.Span(
                f"{{{{ {tr_expr('incident.hazard')} }}}} · {{{{ incident.place }}}}",
                classes="text-body-1 font-weight-bold",
                raw_attrs=[testid("incident-title")],
            )
        html.Div(
            f"{{{{ {tr_expr('incident.state')} }}}} · {{{{ incident.alerts }}}} {text('alerts')} · "
            f"{{{{ incident.assets }}}} {text('assets')} · "
            f"{text('since')} {{{{ new Date(incident.opened * 1000).toLocaleString({LOCALE_JS}) }}}}",
            classes="text-caption",
            raw_attrs=[testid("incident-meta")],
        )
        html.Div(
            f"{text('valves to close')} {{{{ incident.affected.valves }}}} · "
            f"{text('customers losing supply')} {{{{ incident.affected.customers }}}}",
            v_if="incident.affected.valves || incident.affected.customers",
            classes="text-caption",
        )
        v3.VBtn(
            text("Situation report (PDF)"),
            prepend_icon="mdi-file-pdf-box",
            size="small",
            variant="tonal",
            color="primary",
            classes="my-2",
            click=ijs("report"),
            raw_attrs=[testid("incident-report")],
        )
        _plan()
        _grids()
        _resources()
        _timeline()


def _section(title: str) -> None:
    html.Div(text(title), classes="text-overline mt-2")


def _plan() -> None:
    _section("Plan")
    html.Div(text("No plan for this hazard"), v_if="!incident.plan", classes="text-caption")
    with html.Div(v_if="incident.plan", raw_attrs=[testid("incident-plan")]):
        html.Div(
            f"{{{{ {localised('incident.plan', 'name')} }}}} · {{{{ {PROGRESS.format(p='incident.progress')} }}}} "
            + text("done"),
            classes="text-body-2 font-weight-bold",
        )
        with html.Div(v_for="s in incident.plan.steps", key="s.id", classes="d-flex align-start ga-1"):
            v3.VCheckboxBtn(
                model_value=("s.state === 'done'",),
                disabled=("s.state === 'done' || s.state === 'not needed'",),
                density="compact",
                style="flex: none",
                color=("s.state === 'overdue' ? 'error' : 'success'",),
                update_modelValue=ijs("check", "s.id"),
                raw_attrs=[testid("'step-' + s.id", bound=True)],
            )
            with html.Div(classes="text-caption pt-1", style="flex: 1"):
                html.Div(
                    f"{{{{ {localised('s', 'title')} }}}}",
                    classes="text-body-2",
                    style=("s.state === 'not needed' ? 'opacity: 0.5' : ''",),
                )
                html.Span(
                    f"{{{{ {localised('s', 'department')} }}}} · {{{{ {tr_expr('s.state')} }}}}",
                    style=("s.state === 'overdue' ? 'color: #ff5252; font-weight: 700' : ''",),
                    raw_attrs=[testid("'step-state-' + s.id", bound=True)],
                )
                html.Span(
                    f" · {text('due')} {{{{ new Date(s.due * 1000).toLocaleTimeString({LOCALE_JS}) }}}}",
                    v_if="s.due && s.state !== 'done'",
                )
                html.Span(
                    f" · {text('done by')} {{{{ s.done_by }}}} "
                    f"{{{{ new Date(s.done_at * 1000).toLocaleTimeString({LOCALE_JS}) }}}}",
                    v_if="s.state === 'done'",
                    raw_attrs=[testid("'step-by-' + s.id", bound=True)],
                )


def _grids() -> None:
    _section("Grids and workers on duty")
    html.Div("—", v_if="!incident.grid_layers.length", classes="text-caption")
    with html.Div(
        v_for="g in incident.grid_layers",
        key="g.layer + g.id",
        classes="text-caption",
        raw_attrs=[testid("incident-grids")],
    ):
        html.B("{{ g.name || g.id }}")
        html.Span(f" ({{{{ {tr_expr('g.layer')} }}}}) · ")
        html.Span("{{ g.on_duty.length ? g.on_duty.map(w => w.name + ' ' + w.phone).join(', ') : '—' }}")


def _resources() -> None:
    with html.Div(classes="d-flex align-center ga-2"):
        _section("Nearest resources")
        v3.VSpacer()
        html.Span(style=f"display: inline-block; width: 18px; height: 4px; background: {ROUTE_COLOUR}")
        html.Span(text("route"), classes="text-caption")
        v3.VIcon("mdi-circle", size="x-small", color=RESOURCE_COLOUR)
        html.Span(text("resource"), classes="text-caption")
    html.Div("—", v_if="!incident.resources.length", classes="text-caption")
    with html.Div(
        v_for="r in incident.resources",
        key="r.id + r.need",
        classes="text-caption d-flex ga-2",
        raw_attrs=[testid("'resource-' + r.id + '-' + r.need", bound=True)],
    ):
        html.Span(f"{{{{ {tr_expr('r.need')} }}}}", style="min-width: 90px; opacity: 0.75")
        html.Span("{{ r.name }}", style="flex: 1")
        html.Span(
            f"{{{{ Math.round(r.distance_m) }}}} m · {{{{ r.minutes }}}} {text('min')}",
            style="white-space: nowrap",
        )


def _timeline() -> None:
    _section("Timeline")
    with html.Div(classes="d-flex align-center ga-1 mb-1"):
        v3.VTextField(
            v_model=("incident_note",),
            placeholder=(tr("Action taken…"),),
            density="compact",
            hide_details=True,
            variant="outlined",
            raw_attrs=[testid("incident-note")],
        )
        v3.VBtn(
            text("Note"),
            size="small",
            variant="tonal",
            click=ijs("act"),
            raw_attrs=[testid("incident-note-save")],
        )
    with html.Div(raw_attrs=[testid("incident-timeline")]):
        with html.Div(v_for="(e, k) in incident.timeline.slice().reverse()", key="k", classes="text-caption"):
            html.Span(
                f"{{{{ new Date(e.ts * 1000).toLocaleTimeString({LOCALE_JS}) }}}} ",
                style="opacity: 0.7; font-variant-numeric: tabular-nums",
            )
            html.B(f"{{{{ {tr_expr('e.event')} }}}}")
            html.Span("{{ e.by ? ' · ' + e.by : '' }}")
            html.Span("{{ e.note ? ' — ' + window.twinI18n.reason(e.note, lang) : '' }}")
