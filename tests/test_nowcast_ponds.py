"""The flood nowcast drawn in the app (twin.faces.app.nowcast_ponds): a storm's ponds as one water
surface and its flooding manholes as markers in every view, swapped in on the event loop, and the
``nowcast`` state every browser reads."""

from __future__ import annotations

import asyncio
import itertools
from types import SimpleNamespace

import pytest
from conftest import DEMO

from twin.faces.app.nowcast_ponds import MANHOLES, WATER, NowcastPonds, summary
from twin.faces.app.pool import ViewPool
from twin.hydraulics.live import NowcastLoop
from twin.loading import load

STORM = [(0.0, 60.0)]  # mm/h over the whole horizon, as in test_hydraulics_live
DRY = [(0.0, 0.0)]


class State(dict):
    """trame's state as the module uses it: keys, and a ``with`` block that flushes them."""

    flushed = 0

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.flushed += 1


class Server:
    def __init__(self) -> None:
        self.state = State()
        self.ready: list = []
        self.controller = SimpleNamespace(on_server_ready=SimpleNamespace(add=self.ready.append))


@pytest.fixture(scope="module")
def demo():
    return load(DEMO)


def test_a_storm_is_drawn_in_every_view_and_a_dry_forecast_takes_it_away(demo) -> None:
    rain = [STORM]
    loop = NowcastLoop(demo, None, forecast=lambda: rain[0])
    ids = (str(i) for i in itertools.count(1))
    pool = ViewPool(demo, lambda window: next(ids), capacity=3, size=(160, 120))
    first = pool.claim()
    server, shown = Server(), []
    ponds = NowcastPonds(server, loop, pool, shown.append)
    second = pool.claim()  # a browser that comes later gets the same two actors
    pool.views[second].apply(pool.views[second].config)
    for view_id in (first, second):
        overlays = pool.views[view_id].overlays
        assert overlays[WATER].mapper.dataset is ponds.water and overlays[MANHOLES].mapper.dataset is ponds.manholes
    assert server.state["nowcast"]["status"] == "pending" and ponds.water.n_cells == 0

    async def serve_a_run() -> None:
        for ready in server.ready:
            ready()
        await asyncio.to_thread(loop.run_once)  # the nowcast's own thread; the meshes come to this loop
        for _ in range(100):
            if ponds.drawn == loop.runs:
                return
            await asyncio.sleep(0.02)

    asyncio.run(serve_a_run())
    result = loop.latest
    ponded = [n for n in result["nodes"] if "ponding" in n]
    assert result["status"] == "ok" and ponded and ponds.drawn == 1
    assert ponds.water.n_cells > 0 and ponds.manholes.n_points == len(result["nodes"])
    assert sorted(shown) == sorted([first, second])  # each browser's view redrawn once
    state = server.state["nowcast"]
    assert state == summary(result) and state["flooding"] == len(result["nodes"]) and state["ponds"] == len(ponded)
    assert state["nodes"][0]["reason"].startswith("forecast flooding at ")
    minutes = [n["minutes"] for n in state["nodes"]]
    assert minutes == sorted(minutes)  # soonest first

    rain[0] = DRY
    asyncio.run(serve_a_run())
    assert ponds.drawn == 2 and ponds.water.n_cells == 0 and ponds.manholes.n_cells == 0
    assert server.state["nowcast"]["flooding"] == 0


def test_a_failed_run_keeps_the_water_drawn(demo) -> None:
    loop = NowcastLoop(demo, None, forecast=lambda: STORM)
    pool = ViewPool(demo, lambda window: "v", capacity=1, size=(160, 120))
    pool.claim()
    server = Server()
    loop.run_once()  # a run before the app was built: drawn once the server is up
    ponds = NowcastPonds(server, loop, pool, lambda view_id: None)
    ponds.apply(loop.latest, None)  # what a failed run hands over: no meshes
    assert ponds.drawn == 0
    for ready in server.ready:
        asyncio.run(_call(ready))
    assert ponds.drawn == 1 and ponds.water.n_cells > 0
    cells = ponds.water.n_cells
    ponds.arrived({"status": "failed", "message": "the flood nowcast failed: timeout", "nodes": []})
    ponds.apply({"status": "failed", "message": "the flood nowcast failed: timeout", "nodes": []}, None)
    assert ponds.water.n_cells == cells and server.state["nowcast"]["status"] == "failed"


async def _call(function) -> None:
    function()
