"""Briefing mode: a full-screen kiosk over the 3D view, readable from 5 m on a 1920x1080 screen.

No editing controls: KPI tiles (assets by level, active alerts, sensors online / stale, time
since the last reading, open incidents), a clock, the tour's current stop (one per open incident, the
most severe first, a new red one at the front: its alerts and its plan's progress) and a ticker of
the active alerts.
Every level is shown as colour + icon + label; while anything is red, its tile and the tour's
red target pulse (``twin-pulse`` in ``risk.js``; still for viewers who ask for reduced motion).
"""

from __future__ import annotations

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from twin.faces.app.panels import isolation, testid
from twin.faces.app.panels.incidents import PROGRESS
from twin.faces.app.panels.risk import LEVELS, REASON, level
from twin.faces.i18n import text, tr, tr_expr

TILE = (
    "min-width: 150px; padding: 10px 18px; border-radius: 10px; background: rgba(18,22,29,0.88); "
    "border: 2px solid {border}; text-align: center;"
)
BIG = "font-size: 3.2rem; font-weight: 800; line-height: 1.1;"
SMALL = "font-size: 1.25rem; font-weight: 600; letter-spacing: 0.02em;"


def build() -> None:
    # below the degraded banner while it shows, so the title and the clock stay readable
    with html.Div(
        v_if="mode === 'briefing'",
        raw_attrs=[testid("briefing")],
        style=(
            "'position: absolute; inset: ' + (risk.degraded ? '48px' : '0') + ' 0 0 0; "
            "pointer-events: none; color: #fff; z-index: 10;'",
        ),
    ):
        _header()
        _tiles()
        _target()
        isolation.briefing_line()  # while this browser holds a hydraulic result
        _ticker()


def _header() -> None:
    with html.Div(style="position: absolute; left: 24px; right: 24px; top: 16px; display: flex; align-items: center;"):
        html.Div("{{ scene_name }} — " + text("live risk"), style="font-size: 2.4rem; font-weight: 800;")
        html.Div(style="flex: 1")
        html.Div(
            "{{ clock }}",
            raw_attrs=[testid("briefing-clock")],
            style="font-size: 3rem; font-weight: 800; font-variant-numeric: tabular-nums;",
        )


def _tiles() -> None:
    with html.Div(style="position: absolute; left: 24px; top: 90px; display: flex; flex-direction: column; gap: 12px;"):
        for name, colour, icon, label in LEVELS:
            pulse = ("risk.summary.levels.red > 0 ? 'twin-pulse' : ''",) if name == "red" else None
            with html.Div(style=TILE.format(border=colour), raw_attrs=[testid(f"kpi-{name}")], classes=pulse):
                with html.Div(style=f"{SMALL} display: flex; align-items: center; gap: 8px; justify-content: center;"):
                    v3.VIcon(icon, color=colour, size="x-large")
                    html.Span(f"{{{{ {tr(label)}.toUpperCase() }}}}")
                html.Div(f"{{{{ risk.summary.levels.{name} }}}}", style=BIG, raw_attrs=[testid(f"kpi-{name}-count")])
    with html.Div(
        style="position: absolute; right: 24px; top: 90px; display: flex; flex-direction: column; gap: 12px;"
    ):
        _tile("Active alerts", "{{ risk.summary.alerts.active }}", "kpi-alerts", "#ff5252", "mdi-bell-alert")
        _tile(
            "Open incidents",
            "{{ incidents ? incidents.list.length : 0 }}",
            "kpi-incidents",
            "#ff8c00",
            "mdi-clipboard-alert",
        )
        _tile(
            "Sensors online",
            "{{ risk.summary.sensors.online }} / {{ risk.summary.sensors.total }}",
            "kpi-online",
            "#66bb6a",
            "mdi-access-point",
        )
        _tile(
            "Stale / silent",
            "{{ risk.summary.sensors.stale }} / {{ risk.summary.sensors.never_reported }}",
            "kpi-stale",
            "#969696",
            "mdi-access-point-off",
        )
        _tile(
            "Last reading",
            "{{ reading_age === null ? '—' : reading_age < 60 ? Math.round(reading_age) + ' s' : "
            f"reading_age < 3600 ? Math.round(reading_age / 60) + ' ' + {tr('min')} : "
            f"Math.round(reading_age / 3600) + ' ' + {tr('h')} }}}}",
            "kpi-age",
            "#4fc3f7",
            "mdi-timer-sand",
        )


def _tile(title: str, value: str, test: str, colour: str, icon: str) -> None:
    with html.Div(style=TILE.format(border=colour), raw_attrs=[testid(test)]):
        with html.Div(style=f"{SMALL} display: flex; align-items: center; gap: 8px; justify-content: center;"):
            v3.VIcon(icon, color=colour, size="x-large")
            html.Span(f"{{{{ {tr(title)}.toUpperCase() }}}}")
        html.Div(value, style=BIG, raw_attrs=[testid(f"{test}-value")])


def _target() -> None:
    with html.Div(
        v_if="tour_target",
        raw_attrs=[testid("tour-target")],
        classes=("tour_target.level === 'red' ? 'twin-pulse' : ''",),
        style="position: absolute; left: 50%; transform: translateX(-50%); bottom: 96px; "
        "padding: 10px 24px; border-radius: 10px; background: rgba(18,22,29,0.9); "
        "font-size: 2rem; font-weight: 700; display: flex; align-items: center; gap: 12px;",
    ):
        v3.VIcon(
            f"{{{{ {level('tour_target.level', 'icon')} }}}}",
            size="x-large",
            color=(level("tour_target.level", "colour"),),
        )
        html.Span(
            f"{{{{ {level('tour_target.level', 'label')}.toUpperCase() }}}} · {{{{ tour_target.name }}}}"
            f" — {{{{ {REASON.format(a='tour_target')} }}}}",
            v_if="!tour_target.incident",
        )
        # a stop of the tour by incident: the incident, its alerts and its plan's progress
        html.Span(
            f"{{{{ {level('tour_target.level', 'label')}.toUpperCase() }}}} · {{{{ {tr_expr('tour_target.hazard')} }}}}"
            f" · {{{{ tour_target.place }}}} — {{{{ tour_target.alerts }}}} {text('alerts')}"
            f"{{{{ tour_target.progress ? ' · ' + {tr('plan')} + ' ' + {PROGRESS.format(p='tour_target.progress')} "
            f"+ ' ' + {tr('done')} : '' }}}}",
            v_if="tour_target.incident",
            raw_attrs=[testid("tour-incident")],
        )
    html.Div(
        text("All quiet — no red or orange alerts"),
        v_if="!tour_target && risk.alerts.length === 0",
        style="position: absolute; left: 50%; transform: translateX(-50%); bottom: 96px; font-size: 2rem; "
        "font-weight: 700; padding: 10px 24px; border-radius: 10px; background: rgba(18,22,29,0.85);",
    )


def _ticker() -> None:
    with html.Div(
        style="position: absolute; left: 0; right: 0; bottom: 0; height: 72px; overflow: hidden; "
        "background: rgba(10,12,16,0.92); border-top: 3px solid #e60000; display: flex; "
        "align-items: center;",
        raw_attrs=[testid("ticker")],
    ):
        # the scrolling animation (twin-ticker) is defined in risk.js: Vue drops <style> in templates
        with html.Div(
            classes="twin-ticker",
            style="font-size: 2rem; font-weight: 700; white-space: nowrap; display: inline-block;",
        ):
            html.Span(text("No active alerts"), v_if="!risk.alerts.length")
            with html.Span(v_for="a in risk.alerts", key="a.id", style="margin-right: 80px;"):
                v3.VIcon(f"{{{{ {level('a.level', 'icon')} }}}}", color=(level("a.level", "colour"),), size="large")
                html.Span(
                    f" {{{{ {level('a.level', 'label')}.toUpperCase() }}}} · {{{{ a.name }}}} — "
                    f"{{{{ {REASON.format(a='a')} }}}} ({{{{ a.values }}}})"
                )
