"""The status line: assets, points shown of total, a streamed city's tiles, frame time, rendering mode, CRS."""

from __future__ import annotations

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from twin.faces.app.panels import testid
from twin.faces.i18n import text, tr

POINTS_SHOWN = (
    "layer_groups.flatMap(g => g.layers).filter(l => l.points && cfg.visible.includes(l.name))"
    ".reduce((s, l) => s + (l.classes.length ? l.classes.filter(c => !(cfg.hidden_classes[l.name] || [])"
    ".includes(c.code)).reduce((n, c) => n + c.count, 0) : l.points), 0)"
)


def build(footer) -> None:
    with footer:
        # one line on any screen: on a phone or tablet the secondary parts give way (Vuetify's d-md-*)
        footer.classes = "text-caption py-0 px-3 d-flex ga-4 text-no-wrap overflow-hidden"
        footer.height = 28
        html.Span("{{ asset_count.toLocaleString(lang) }} " + text("assets"), raw_attrs=[testid("status-assets")])
        html.Span(
            f"{{{{ ({POINTS_SHOWN}).toLocaleString(lang) }}}} {text('of')} {{{{ points_total.toLocaleString(lang) }}}} "
            + text("points")
            + f"{{{{ points_loaded < points_total ? ' (' + points_loaded.toLocaleString(lang) + ' ' + {tr('loaded')}"
            " + ')' : '' }}",
            v_if="points_total",
            classes="d-none d-md-inline",
            raw_attrs=[testid("status-points")],
        )
        html.Span("{{ city_status }}", v_if="city_status", raw_attrs=[testid("status-city")])
        html.Span(
            text("frame") + " {{ frame_ms ? frame_ms.toFixed(0) + ' ms' : '—' }}",
            v_if="rendering === 'server'",
            raw_attrs=[testid("status-frame")],
        )
        mode = f"rendering === 'server' ? {tr('server-side rendering')} : {tr('client-side rendering (vtk.js)')}"
        html.Span(f"{{{{ {mode} }}}}", classes="d-none d-md-inline")
        v3.VSpacer()
        v3.VProgressCircular(v_if="busy", indeterminate=True, size=14, width=2)
        html.Span("{{ scene_crs }}")
