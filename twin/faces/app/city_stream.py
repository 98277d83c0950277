"""A streamed city in the app: each view's camera picks tiles, the layer meshes follow, the status line says so.

The city's layers are ordinary :class:`~twin.layer.Layer` objects whose datasets this module
refreshes in place (``ShallowCopy`` of the newly merged mesh), so everything that works on a
layer works on a streamed one: picking (by ``asset_index``, the city's asset row), highlight,
risk colours (the live colour arrays are written again for the new cells from the current
levels: a level change reaches a tile when it loads), search, fly-to, isolate and nearby (the
twin's asset table is the whole city, loaded or not).

Every ``POLL_S`` the loop reads the camera of every claimed view (server-side rendering: the
camera the image stream moves; client-side: the one the browser reports with
``twin_city_camera``, sent by ``city.js``).  When one moved, or a tile came in, the tiles are
chosen again (:meth:`CityStream.plan`, milliseconds); when what to draw changed, the meshes are
merged on a worker thread and swapped in on the loop, and every claimed view is shown anew.
The views share the meshes, so they share the budget (each of ``n`` views gets ``1/n``).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import numpy as np

from twin.asset_index import AssetIndex
from twin.faces.app.risk_paint import array_name
from twin.faces.app.search import IndexSearch
from twin.faces.app.triggers import Triggers, replies
from twin.faces.rendering import cull_back_faces
from twin.layer import Layer
from twin.scene import Twin
from twin.streaming.city import CityStream
from twin.streaming.select import Budget, Camera
from twin.streaming.tileset import Tileset

log = logging.getLogger("twin.app")
POLL_S = 0.25
#: after the first browser came in, wait this long before opening the search index (its first frame first)
WARM_AFTER_S = 2.0
UI_DIR = Path(__file__).resolve().parent


def is_city(path: Path) -> bool:
    """A folder holding a tileset (``twin serve DIR``)."""
    return path.is_dir() and (path / "tileset.json").is_file()


def open_city(path: Path, budget: Budget | None = None):
    """The stream and the twin of a city tileset folder, with the overview tiles loaded for the first frame."""
    stream = CityStream(path, budget=budget)
    stream.load_coarse()
    return stream, stream.twin()


def hand_over(twin: Twin, budget: Budget | None = None) -> tuple[CityStream, list[Layer]] | None:
    """A scene whose manifest names a city tileset too big to load whole (``loaders/tileset.py`` says
    ``streamed``): a stream for it, with that source's layers to refresh; None for any other scene.

    The source's layers already hold every asset of the city (from its index), so the stream only maps
    index rows to the scene's rows and the tileset's frame to the scene's.
    """
    for record in twin.sources:
        if not record.details.get("streamed") or "tileset" not in record.extras:
            continue
        if record.crs and twin.crs and record.crs != twin.crs:
            twin.warnings.append(f"{record.name}: a city tileset in another CRS than the scene's is not streamed")
            continue
        tileset = Path(record.extras["tileset"])
        layers = [layer for layer in twin.layers if layer.name in record.layers]
        rows = record.extras.get("asset_rows") or {}
        maps = [_row_map(layer, rows.get(layer.name.split("/", 1)[-1])) for layer in layers]
        stream = CityStream(tileset.parent, budget=budget, row_maps=maps)
        stream.offset = _offset(twin, stream.tileset)
        if len(stream.tileset.layers) != len(layers):
            stream.close()
            continue
        stream.load_coarse()
        return stream, layers
    return None


def _row_map(layer: Layer, rows) -> np.ndarray | None:
    """Index row -> scene row for one layer (the last entry, for index -1, stays -1)."""
    if rows is None:
        return None
    rows = np.asarray(rows, dtype=np.int64)
    out = np.full(int(rows.max(initial=-1)) + 2, -1, dtype=np.int64)
    out[rows] = layer.asset_start + np.arange(len(rows))
    return out


def _offset(twin: Twin, tileset: Tileset) -> np.ndarray:
    """The scene's local frame minus the tileset's: its origin minus the scene's."""
    city = tileset.city or {}
    return np.asarray(city.get("origin") or (0, 0, 0), dtype=np.float64) - np.asarray(twin.origin, dtype=np.float64)


class CityStreaming(Triggers):
    """Keeps one app's streamed layers in step with its views' cameras.

    ``app`` is the :class:`~twin.faces.app.application.TwinApp`; its live risk (if any) is
    looked up at each swap, so the order the two are set up in does not matter.  ``layers``: the
    twin's layers the stream refreshes, in the tileset's order (None: the twin is the city).
    """

    def __init__(self, app, stream: CityStream, layers: list[Layer] | None = None) -> None:
        super().__init__(app.pool, app.push, app.scene_of, app._caller)
        self.app, self.stream = app, stream
        self.layers = list(app.twin.layers) if layers is None else layers  # the stream's, in its order
        self._woken = False
        self._merging = False
        stream.cache.on_loaded = self._loaded
        self.loop: asyncio.AbstractEventLoop | None = None
        app.server.enable_module({"serve": {"twin_ui": str(UI_DIR)}, "scripts": ["twin_ui/city.js"]})
        app.server.controller.on_server_ready.add(self._started)
        self.finder: IndexSearch | None = None
        if layers is None:  # the whole scene is the city: its rows are the index's (opened after the first frame)
            self.finder = app.actions.selection.finder = IndexSearch(lambda: AssetIndex.open(stream.folder))
        self.publish()

    # -- the loop -----------------------------------------------------------------------------
    def _started(self, **_: Any) -> None:
        self.loop = asyncio.get_event_loop()
        self.loop.create_task(self._poll())

    def _loaded(self, _tile: int) -> None:
        """From a loading thread: a tile is in."""
        self._woken = True

    async def _poll(self) -> None:
        while True:
            try:
                self.step()
            except Exception:  # noqa: BLE001 - the loop must survive one bad step
                log.exception("city streaming step failed")
            await asyncio.sleep(POLL_S)

    def active(self) -> list[str]:
        """Views claimed by a browser (the pool's spares wait for one)."""
        return [v for v in self.pool.views if v not in self.pool.spares]

    def step(self) -> bool:
        """Follow the cameras; start a merge when what to draw changed.  True when one started."""
        moved = False
        if self.finder is not None and self.active() and self.loop is not None:  # a browser is in: its first
            # frame goes out now, then the search index opens on a worker (seconds, off the first frame's path)
            finder, self.finder = self.finder, None
            self.loop.call_later(WARM_AFTER_S, self.loop.run_in_executor, None, finder.warm)
        for view_id in self.active():
            moved |= self.stream.set_camera(view_id, camera_of(self.pool.views[view_id]))
        for view_id in [v for v in self.stream.cameras if v not in self.active()]:
            self.stream.drop(view_id)
        woken, self._woken = self._woken, False
        if not (moved or woken) or self._merging:
            if woken:
                self._woken = True  # look again once the merge under way is swapped in
            return False
        if not self.stream.plan():  # the same tiles to draw (a loaded tile may wait for its siblings)
            self.publish()
            return False
        self._merging = True
        tiles = list(self.stream.drawn)
        if self.loop is None:
            self.swap(self.stream.assemble(tiles))
        else:
            future = self.loop.run_in_executor(None, self.stream.assemble, tiles)
            future.add_done_callback(self._merged)
        return True

    def _merged(self, done) -> None:
        try:
            self.swap(done.result())
        except Exception:  # noqa: BLE001 - keep streaming after one bad merge
            self._merging = False
            log.exception("merging the city's tiles failed")

    def swap(self, meshes: list) -> None:
        """Put newly merged meshes into the layers, recolour them, and show every claimed view."""
        self._merging = False
        paint = getattr(getattr(self.app, "live", None), "paint", None)
        for layer, mesh in zip(self.layers, meshes):
            layer.dataset.ShallowCopy(mesh)
            layer.dataset.Modified()
            for view in self.pool.views.values():  # the drawn tiles decide: all closed boxes, or not
                cull_back_faces(view.scene.actors[layer.name], layer)
        if paint is not None:
            for minimum in sorted(paint.minimums):
                paint.write(array_name(minimum), paint.levels, minimum)
        self.publish(meshes)
        for view_id in self.active():
            self.app.show(view_id)

    def publish(self, meshes: list | None = None) -> None:
        """The status line's text (shared: the views share the meshes)."""
        status = self.stream.status(meshes or [layer.dataset for layer in self.layers])
        self.app.server.state["city_status"] = status.text()

    # -- the client-side camera -----------------------------------------------------------------
    @replies
    def twin_city_camera(self, view_id: str, camera: dict) -> dict:
        """A vtk.js view's camera (client-side rendering): the server picks its tiles from it."""
        self.view(view_id, camera)
        self.pool.views[str(view_id)].client_side = True
        return {}


def camera_of(view) -> Camera:
    """A client view's camera and window size as the streaming core's camera (scene frame = local)."""
    cam = view.plotter.camera
    width, height = view.window.GetSize()
    return Camera(
        tuple(cam.position),
        tuple(cam.focal_point),
        tuple(cam.up),
        float(cam.view_angle),
        int(width) or 1280,
        int(height) or 800,
    )
