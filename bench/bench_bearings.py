"""Bearings on the demo district: what the section's plane and caps add to a settings change, and
what the coordinate probe under the mouse costs on the event loop.

Baselines measured in the same run: the same settings change with the section off (``twin_apply``
of a clip the GPU does alone), and one offscreen frame of the view (what a server-side browser
waits for anyway after any change).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from common import best_time, report  # noqa: E402

DEMO = ROOT / "scenes" / "demo.toml"


def main() -> None:
    from twin.faces.app.actions import Actions
    from twin.faces.app.client_views import default_config
    from twin.faces.app.pool import ViewPool
    from twin.faces.app.section import SectionDrawing
    from twin.loading import load

    twin = load(DEMO)
    ids = iter(range(1, 100))
    pool = ViewPool(twin, lambda window: str(next(ids)), capacity=2, size=(1280, 800))
    triggers = Actions.build(twin, pool, push=lambda view_id: None, scene_of=lambda view_id: {}).triggers()
    view_id = pool.claim()
    view = pool.get(view_id)
    config = default_config(twin)
    steps = iter(range(10_000))

    def clip(on: bool) -> dict:
        at = 0.2 + (next(steps) % 60) / 100  # a new plane each time: no cap comes from the cache
        return config | {"clip": {"on": on, "axis": "x", "at": at, "flip": False}}

    drawing = next(hook for hook in pool.hooks if isinstance(hook, SectionDrawing))
    hooks = list(pool.hooks)
    pool.hooks[:] = [hook for hook in hooks if hook is not drawing]
    raw, _ = best_time(lambda: triggers["twin_apply"](view_id, clip(True)), repeat=5)  # GPU clip only
    pool.hooks[:] = hooks
    ours, _ = best_time(lambda: triggers["twin_apply"](view_id, clip(True)), repeat=5)
    report("section: settings change with plane and caps / without", ours, raw)
    view.window.Render()
    frame, _ = best_time(view.window.Render, repeat=3)
    report("section: plane and caps added / one 1280x800 frame", ours - raw, frame)
    triggers["twin_look"](view_id, "top")
    event = {"position": {"x": 640, "y": 400}, "size": [1280, 800]}
    probe, _ = best_time(lambda: triggers["twin_probe"](view_id, event), repeat=5)
    report("probe: coordinates under the mouse / one 1280x800 frame", probe, frame)


if __name__ == "__main__":
    main()
