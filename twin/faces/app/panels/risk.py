"""Live-risk parts of the page: the risk switch, legend with counts and filter, alerts, the live
inspector section, the playback bar and the banners (disconnected, degraded) every screen shows.
"""

from __future__ import annotations

import json

from trame.widgets import client, html
from trame.widgets import vuetify3 as v3

from twin.faces.app.panels import testid
from twin.faces.i18n import LOCALE_JS, aria_label, text, tr, tr_expr
from twin.risk.colours import LEVEL_LABELS, LEVEL_RGB
from twin.risk.levels import BLUE, NAMES, NODATA, ORANGE, RED, YELLOW

#: level name -> (colour, icon, label): colour is always paired with an icon and a label
LEVELS = tuple(
    (NAMES[code], "#{:02x}{:02x}{:02x}".format(*LEVEL_RGB[code]), icon, LEVEL_LABELS[code])
    for code, icon in (
        (RED, "mdi-alert-octagon"),
        (ORANGE, "mdi-alert"),
        (YELLOW, "mdi-alert-circle"),
        (BLUE, "mdi-information"),
        (NODATA, "mdi-help-circle"),
    )
)
FILTERS = (("All", 0), ("≥ IV", 2), ("≥ III", 3), ("≥ II", 4), ("I", 5))
#: the same table as shared, read-only state (``risk_levels``) for the templates
LEVEL_STATE = {
    **{n: {"colour": c, "icon": i, "label": lab} for n, c, i, lab in LEVELS},
    "none": {"colour": "#607d8b", "icon": "mdi-check-circle", "label": "no risk"},
}


def level(expr: str, key: str) -> str:
    """JS for one property (colour, icon, label) of the level named by ``expr``; a label is translated."""
    prop = f"risk_levels[{expr}].{key}"
    return tr_expr(prop) if key == "label" else prop


#: a Vue expression for an alert's reason, in the browser's language (``window.twinI18n.reason``)
REASON = "window.twinI18n.reason({a}.reason, lang)"


def rjs(function: str, *args: str) -> str:
    return f"window.twinRisk.{function}({', '.join(('trame', *args))})"


def toolbar(bar) -> None:
    """The risk switch, the alerts bell and the snapshot / playback buttons in the title bar."""
    with bar:
        v3.VDivider(vertical=True, classes="mx-1")
        v3.VBtn(
            icon="mdi-alert-decagram-outline",
            variant="text",
            density="comfortable",
            color=("(cfg.risk || {}).on ? 'red' : undefined",),
            title=(tr("Four-colour risk view (on / off)"),),
            click=rjs("setRisk", "{on: !(cfg.risk || {}).on}"),
            raw_attrs=[testid("risk-switch"), aria_label("Four-colour risk view (on / off)")],
        )
        with v3.VBtn(
            variant="text",
            density="comfortable",
            click="show_alerts = !show_alerts",
            icon=True,
            raw_attrs=[testid("alerts-button"), aria_label("Alerts")],
        ):
            with v3.VBadge(
                content=("risk.alerts.length",),
                model_value=("risk.alerts.length > 0",),
                color=("risk.alerts.some(a => a.level === 'red') ? 'red' : 'orange'",),
            ):
                v3.VIcon("mdi-bell-outline")
        v3.VBtn(
            icon="mdi-file-image-outline",
            variant="text",
            density="comfortable",
            click=rjs("snapshot"),
            title=(tr("Snapshot for a situation report (view, legend, time, alerts)"),),
            raw_attrs=[testid("snapshot"), aria_label("Snapshot for a situation report (view, legend, time, alerts)")],
        )
        v3.VBtn(
            icon="mdi-history",
            variant="text",
            density="comfortable",
            click=rjs("openPlayback", "playback_minutes"),
            title=(tr("Play back the recorded levels and alerts"),),
            raw_attrs=[testid("playback-open"), aria_label("Play back the recorded levels and alerts")],
        )


def level_chip(expr: str, size: str = "small") -> None:
    """A level shown as colour + icon + label (never colour alone)."""
    v3.VChip(
        f"{{{{ {level(expr, 'label')} }}}}",
        size=size,
        variant="flat",
        prepend_icon=(level(expr, "icon"),),
        color=(level(expr, "colour"),),
    )


def overlays() -> None:
    """Legend with counts and filter (top left), alerts (top right) and the playback bar, over the view."""
    client.ClientTriggers(mounted=rjs("init"))
    with v3.VCard(
        v_if="mode !== 'briefing' && (cfg.risk || {}).on",
        width=250,
        elevation=6,
        classes="pa-2",
        style="position: absolute; left: 12px; top: 12px; opacity: 0.94; z-index: 5",
        raw_attrs=[testid("risk-legend")],
    ):
        html.Div(text("Risk level"), classes="text-overline")
        html.Div(text("assets at each level (the alert list counts alerts)"), classes="text-caption")
        for name, colour, icon, label in LEVELS:
            with html.Div(classes="d-flex align-center ga-2", raw_attrs=[testid(f"legend-{name}")]):
                v3.VIcon(icon, color=colour, size="small")
                html.Span(text(label), classes="text-body-2")
                v3.VSpacer()
                html.Span(
                    f"{{{{ risk.summary.levels.{name} }}}}",
                    classes="text-body-2 font-weight-bold",
                    raw_attrs=[testid(f"legend-{name}-count")],
                )
        html.Div(text("Show"), classes="text-caption mt-1")
        with v3.VBtnToggle(
            model_value=("(cfg.risk || {}).min || 0",),
            mandatory=True,
            density="compact",
            divided=True,
            variant="outlined",
            update_modelValue=rjs("setRisk", "{min: $event}"),
            raw_attrs=[testid("risk-filter")],
        ):
            for label, code in FILTERS:
                v3.VBtn(text(label), value=code, size="x-small", raw_attrs=[testid(f"risk-filter-{code}")])
    _alerts_card()
    _playback_bar()


ALERTS_STYLE = (
    "position: absolute; right: 12px; top: 12px; width: min(340px, calc(100vw - 24px)); "
    "max-height: 60%; overflow-y: auto; z-index: 5"
)


def _alerts_card() -> None:
    with v3.VCard(
        v_if="mode !== 'briefing' && show_alerts && risk.alerts.length",
        elevation=6,
        style=ALERTS_STYLE,  # never wider than a phone
        raw_attrs=[testid("alerts")],
    ):
        with v3.VCardTitle(classes="d-flex align-center text-subtitle-1"):
            v3.VIcon("mdi-bell-alert", classes="mr-2")
            html.Span(text("Active alerts") + " ({{ risk.alerts.length }})")
            v3.VSpacer()
            v3.VBtn(
                icon="mdi-close",
                size="x-small",
                variant="text",
                click="show_alerts = false",
                raw_attrs=[aria_label("Close")],
            )
        html.Div(text("No active alerts"), v_if="!risk.alerts.length", classes="px-4 pb-3 text-medium-emphasis")
        with v3.VList(density="compact", classes="py-0"):
            with v3.VListItem(
                v_for="a in risk.alerts",
                key="a.id",
                click=rjs("selectAlert", "a"),
                raw_attrs=[testid("'alert-' + a.asset", bound=True)],
            ):
                with v3.Template(v_slot_prepend=True):
                    v3.VIcon(f"{{{{ {level('a.level', 'icon')} }}}}", color=(level("a.level", "colour"),))
                v3.VListItemTitle(
                    f"{{{{ {level('a.level', 'label')}.toUpperCase() }}}} · {{{{ a.name }}}}",
                    classes="text-body-2 font-weight-bold",
                )
                v3.VListItemSubtitle(  # one line: the firing reading and when, then why; the whole on hover
                    text("triggered by")
                    + " {{ a.trigger ? a.trigger + ' (' + new Date(a.trigger_ts * 1000).toLocaleTimeString("
                    + LOCALE_JS
                    + ") + ') · ' : '' }}"
                    + f"{{{{ {REASON.format(a='a')} }}}}",
                    raw_attrs=[testid("'alert-trigger-' + a.asset", bound=True), f':title="{REASON.format(a="a")}"'],
                )
                v3.VListItemSubtitle(
                    "{{ a.values ? " + tr("now") + " + ' ' + a.values : '' }} · "
                    "{{ Math.max(0, Math.round((Date.now() / 1000 - a.opened) / 60)) }}"
                    f" {text('min')} · {{{{ {tr_expr('a.state')} }}}}"
                    f"{{{{ a.acked ? ' ' + {tr('by')} + ' ' + a.acked_by : '' }}}}",
                    raw_attrs=[testid("'alert-state-' + a.asset", bound=True), ':title="a.values"'],
                )
                with v3.Template(v_slot_append=True):
                    v3.VBtn(
                        text("Ack"),
                        size="x-small",
                        variant="tonal",
                        v_if="!a.acked",
                        raw_attrs=[testid("'ack-' + a.asset", bound=True), f'@click.stop="{rjs("ack", "a.id")}"'],
                    )
                    v3.VIcon("mdi-check", v_if="a.acked", size="small", color="success")


def inspector_section() -> None:
    """Live risk of the selected asset: level and why, sensors with charts, alert history."""
    with v3.VCard(
        v_if="inspector && asset_risk && asset_risk.index === inspector.index",
        variant="tonal",
        classes="mx-3 my-2",
        raw_attrs=[testid("asset-risk")],
    ):
        with v3.VCardTitle(classes="d-flex align-center text-subtitle-1"):
            html.Span(text("Live risk"), classes="mr-2")
            level_chip("asset_risk.level")
        v3.VCardSubtitle(
            f"{{{{ asset_risk.reason ? window.twinI18n.reason(asset_risk.reason, lang) : {tr('no active risk')} }}}}",
            style="white-space: normal",
            raw_attrs=[testid("asset-risk-reason")],
        )
        v3.VCardSubtitle(
            text("since") + f" {{{{ new Date(asset_risk.since).toLocaleString({LOCALE_JS}) }}}}",
            v_if="asset_risk.since",
        )
        with html.Div(v_for="s in asset_risk.sensors", key="s.id", classes="px-3 py-1"):
            with html.Div(classes="d-flex align-center text-caption"):
                html.B("{{ s.id }}", classes="mr-2")
                html.Span(
                    f"{{{{ {tr_expr('s.quantity')} }}}} · {{{{ s.latest ? s.latest_text : {tr('no reading')} }}}}"
                )
                v3.VSpacer()
                html.Span(f"{{{{ s.stale ? {tr('stale')} : {level('s.level', 'label')} }}}}")
            html.Div(v_html="s.svg", raw_attrs=[testid("'chart-' + s.id", bound=True)])
        with html.Div(v_if="asset_risk.alerts.length", classes="px-3 pb-2"):
            html.Div(text("Alert history"), classes="text-overline")
            with html.Div(v_for="a in asset_risk.alerts", key="a.id", classes="text-caption"):
                html.Span(
                    f"#{{{{ a.id }}}} {{{{ {level('a.level', 'label')} }}}} · {{{{ {tr_expr('a.state')} }}}} · "
                    f"{{{{ new Date(a.opened * 1000).toLocaleString({LOCALE_JS}) }}}} · {{{{ a.lasted }}}} · "
                    "{{ window.twinI18n.reason(a.message, lang) }}"
                )


#: the playback windows offered (minutes back from now; a seek is one query whatever the length)
PLAYBACK_WINDOWS = json.dumps(
    [
        {"title": t, "value": v}
        for t, v in (
            ("last 15 min", 15),
            ("last hour", 60),
            ("last 6 h", 360),
            ("last 24 h", 1440),
            ("last 7 days", 10080),
        )
    ]
).replace('"', "'")  # it goes into an HTML attribute


def _playback_bar() -> None:
    with v3.VCard(
        v_if="playback && mode !== 'briefing'",
        elevation=8,
        classes="pa-2",
        style="position: absolute; left: 50%; transform: translateX(-50%); bottom: 12px; width: min(680px, 96%); "
        "z-index: 6",
        raw_attrs=[testid("playback")],
    ):
        with html.Div(classes="d-flex align-center ga-2"):
            v3.VChip(text("PLAYBACK"), color="amber", size="small", variant="flat")
            html.Span(
                f"{{{{ new Date(playback_t * 1000).toLocaleString({LOCALE_JS}) }}}}",
                classes="text-body-2 font-weight-bold",
                raw_attrs=[testid("playback-time")],
            )
            v3.VSpacer()
            v3.VSelect(
                model_value=("playback_minutes",),
                items=(f"{PLAYBACK_WINDOWS}.map(w => ({{value: w.value, title: {tr_expr('w.title')}}}))",),
                density="compact",
                hide_details=True,
                variant="outlined",
                style="max-width: 150px",
                update_modelValue=f"playback_minutes = $event; {rjs('openPlayback', '$event')}",
                raw_attrs=[testid("playback-window")],
            )
            v3.VBtn(
                icon=("playback_playing ? 'mdi-pause' : 'mdi-play'",),
                size="small",
                variant="tonal",
                click=f"playback_playing ? {rjs('pause')} : {rjs('play')}",
                raw_attrs=[testid("playback-play")],
            )
            v3.VSelect(
                model_value=("playback_speed",),
                items=("[1, 10, 60, 300, 900, 3600]",),
                density="compact",
                hide_details=True,
                variant="outlined",
                style="max-width: 110px",
                suffix="×",
                update_modelValue="playback_speed = $event",
            )
            v3.VBtn(
                icon="mdi-close",
                size="small",
                variant="text",
                click=rjs("closePlayback"),
                raw_attrs=[testid("playback-close")],
            )
        v3.VSlider(
            model_value=("playback_t",),
            min=("playback.start",),
            max=("playback.end",),
            step=1,
            hide_details=True,
            density="compact",
            end=rjs("seek", "$event"),
            raw_attrs=[testid("playback-slider")],
        )
        with html.Div(v_if="playback_state", classes="d-flex ga-3 text-caption"):
            for name, colour, icon, label in LEVELS:
                with html.Span():
                    v3.VIcon(icon, color=colour, size="x-small")
                    html.Span(
                        f" {text(label)} {{{{ playback_state.levels.{name} }}}}", raw_attrs=[testid(f"playback-{name}")]
                    )
            html.Span("· {{ playback_state.alerts.length }} " + text("alerts open then"))


def banners() -> None:
    """Degraded rule evaluation, on every screen (a lost connection: plain DOM from ``risk.js``), and a
    quiet note while the server is slow to answer (slow is not lost: the page carries on)."""
    html.Div(
        text("Server busy — waiting for its answer…"),
        v_if="server_slow && !disconnected",
        raw_attrs=[testid("server-slow"), 'role="status"'],
        style="position: fixed; left: 50%; transform: translateX(-50%); bottom: 40px; z-index: 2800; "
        "background: rgba(18,22,29,0.9); color: #ffb300; padding: 4px 14px; border-radius: 6px; font-size: 0.9rem;",
    )
    html.Div(
        text("RULE EVALUATION DEGRADED")
        + " — {{ window.twinI18n.reason(risk.degraded_reason, lang) }} — "
        + text("levels may be out of date"),
        v_if="risk.degraded && !disconnected",
        raw_attrs=[testid("degraded")],
        style="position: fixed; inset: 0 0 auto 0; z-index: 2900; background: #ff6f00; color: #000; "
        "font-size: 1.6rem; font-weight: 800; text-align: center; padding: 10px;",
    )
