"""Every key of the app's trame state, declared once: the shared keys and the per-browser ones.

Shared keys are written by the server and are the same for every browser (the scene, the layer
tree, the live risk).  Per-browser keys are client-only: trame never sends them to the server or
to another browser, so one browser's view, selection, search or settings never reach another;
the server answers through trigger replies instead (:mod:`twin.faces.app.actions`).
"""

from __future__ import annotations

from typing import Any

from twin.faces import i18n
from twin.scene import Twin


def shared(
    twin: Twin,
    layer_groups: list[dict],
    bookmarks: list[str],
    legend: list,
    briefing: bool | None,
    lang: str | None = None,
) -> dict:
    """The server-written keys (the live risk adds ``risk`` and ``risk_levels``, see ``live_risk``).

    ``briefing`` is ``None`` without live risk (no ``default_mode`` then); ``lang`` is
    ``twin serve --lang`` (``None``: each browser's own preference).
    """
    points = [layer.dataset.n_points for layer in twin.layers if layer.geometry == "points"]
    keys: dict[str, Any] = {
        "scene_name": twin.name or "CIM Twin",
        "scene_crs": twin.crs or "unknown CRS",
        "asset_count": len(twin.assets),
        "layer_groups": layer_groups,  # the layer drawer's tree
        "legend": legend,
        "bookmarks": bookmarks,  # names; a saved one comes back in that browser's reply
        "points_total": int(sum(point_totals(twin)) or sum(points)),  # in the files, before the budget
        "points_loaded": int(sum(points)),
        "city_status": "",  # a streamed city: tiles and triangles shown of the whole (city_stream)
        "trame__title": f"CIM Twin — {twin.name}",
        "i18n": i18n.browser_catalogues(),  # every language's messages (twin/faces/locale)
        "i18n_fragments": i18n.browser_fragments(),  # ... and the fragments of the risk engine's reasons
        "server_lang": lang,  # twin serve --lang, below ?lang= and above the browser's preference
    }
    if briefing is not None:
        keys["default_mode"] = "briefing" if briefing else "normal"  # the page's mode without ?mode=
    return keys


def per_browser(config: dict, rendering: str, live: bool, lang: str | None = None) -> dict:
    """The client-only keys with their first values; the server never writes them again."""
    keys: dict[str, Any] = {
        "lang": lang or i18n.DEFAULT,  # the page's language: "zh" or "en" (client.js: twinI18n)
        "my_view": None,  # this browser's view id in the pool (from twin_claim)
        "my_scene": None,  # its vtk.js scene when it renders client-side
        "cfg": config,  # its layer settings: visible, opacity, colouring, clip ...
        "inspector": None,  # the selected asset's description
        "analysis": None,  # the inspector's isolate / nearby result
        "measure": None,  # the measure tool's points and distances
        "tool": "select",  # what a click does: "select" or "measure"
        "suggestions": [],  # search results
        "search_text": "",
        "search_choice": None,
        "selected_tree": [],  # the layer tree's selected node
        "tree_opened": [],  # ... and its open nodes
        "toast": {"show": False, "text": ""},  # the snackbar
        "busy": False,  # a trigger is running
        "frame_ms": 0,  # the last frame's render time
        "rendering": rendering,  # "server" (image stream) or "client" (vtk.js)
        "ready": False,  # the view is claimed and restored
        "share_url": "",  # the share dialog's link
        "bookmark_dialog": False,
        "bookmark_name": "",
        "show_layers": True,  # the left drawer
        "show_inspector": True,  # the right drawer
        "mode": "normal",  # "normal" or "briefing" (the kiosk)
        "bearings": None,  # north angle, screen axes and scale bar of this view (bearings.js)
        "probe": None,  # the point under the mouse: scene CRS and lon/lat
        "show_shortcuts": False,  # the keyboard shortcuts' help
    }
    if live:
        keys |= {
            "asset_risk": None,  # the live inspector's risk section
            "show_alerts": True,  # the alert list
            "disconnected": False,  # the server is unreachable (not merely slow: risk.js)
            "server_slow": False,  # a heartbeat (twin_ping) is waiting for its answer
            "clock": "",  # the briefing screen's clock
            "reading_age": None,  # how old the last reading is, as text
            "tour_target": None,  # the briefing tour's current alert
            "tour_camera": None,
            "tour_step": 0,
            "playback": None,  # the open playback's span (twin_playback_open)
            "playback_t": 0,  # ... the time shown
            "playback_state": None,  # ... its levels and alerts
            "playback_playing": False,
            "playback_speed": 60,  # playback seconds per second
            "playback_minutes": 60,  # how far back a playback opens
            "ack_by": "browser",  # the name an acknowledgement is signed with
            "show_incidents": False,  # the incidents panel (the list is shared: ``incidents``)
            "incident": None,  # ... the incident opened in it (twin_incident), followed live
            "incident_note": "",  # ... the action being written for its timeline
        }
    return keys


def declare(state: Any, shared_keys: dict, per_browser_keys: dict) -> None:
    """Write the first values to trame's state and keep the per-browser keys in the browser."""
    state.update({**shared_keys, **per_browser_keys})
    state.client_only(*per_browser_keys)


def point_totals(twin: Twin) -> list[int]:
    """Points in the source files (before the point budget), when loaders report them."""
    totals = []
    for record in twin.sources:
        block = record.details if isinstance(record.details, dict) else {}
        total = block.get("points_total") or block.get("point_count") or 0
        if isinstance(total, (int, float)):
            totals.append(int(total))
    return totals
