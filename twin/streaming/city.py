"""A streamed city: a CIM Twin tileset shown by view, within a budget, as one mesh per layer.

:class:`CityStream` owns the tileset, the tile cache and each view's camera.  :meth:`plan` (cheap,
on the caller's thread) picks tiles for every view, splitting the budget between the views that
share the meshes, and queues what is missing, coarse first; :meth:`assemble` (pure; run it on
a worker thread) merges what is ready into one PolyData per layer.  :meth:`twin` makes the
:class:`~twin.scene.Twin` the app serves: the whole city's asset table (from ``assets.parquet``,
so search, fly-to and risk reach assets that are not loaded) and one layer per tileset layer
whose dataset the app refreshes in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyvista as pv

from twin.assets import AssetTable
from twin.colours.utilities import network_color
from twin.errors import InputError
from twin.layer import Layer, LayerStyle
from twin.scene import Twin
from twin.streaming.assets import CityAssets
from twin.streaming.cache import MEMORY_CAP, POINT_KINDS, TileCache
from twin.streaming.content import TileContent
from twin.streaming.merge import empty, merge
from twin.streaming.select import Budget, Camera, Selection, admitted, select, top_tiles
from twin.streaming.tileset import Tileset, read_tileset


def read_assets(folder: Path) -> AssetTable:
    """The city's asset index (``assets.parquet``) as the twin's asset table, its columns read on demand.

    The one place that reads the index for the twin (search reads it through ``twin.asset_index``).
    """
    return CityAssets(folder / "assets.parquet")


@dataclass
class Status:
    """What the views show of the city (the status line)."""

    tiles: int
    tiles_total: int
    triangles: int
    triangles_total: int
    points: int
    points_total: int
    loading: int
    failed: int
    cached_bytes: int

    def text(self) -> str:
        parts = [
            f"tiles {self.tiles:,}/{self.tiles_total:,}",
            f"{_mega(self.triangles)} of {_mega(self.triangles_total)} triangles",
        ]
        if self.points_total:
            parts.append(f"{_mega(self.points)} of {_mega(self.points_total)} points")
        if self.loading:
            parts.append(f"loading {self.loading}")
        if self.failed:
            parts.append(f"{self.failed} tile{'s' if self.failed > 1 else ''} skipped")
        return " · ".join(parts)


def _mega(n: int) -> str:
    return f"{n / 1e6:.1f} M" if n >= 100_000 else f"{n:,}"


class CityStream:
    """One city tileset streamed for any number of views that share its layer meshes.

    Parameters
    ----------
    folder
        The tileset folder (``tileset.json``, ``tiles/``, ``assets.parquet``).
    budget
        What all views together may draw; each of ``n`` active views gets ``1/n`` of it.
    cap
        The tile cache's memory cap in bytes.
    on_loaded
        Called from the loading thread when a tile is in (wake the app's loop).
    """

    def __init__(
        self,
        folder: str | Path,
        budget: Budget | None = None,
        cap: int = MEMORY_CAP,
        on_loaded: Callable[[int], None] | None = None,
        workers: int = 2,
        row_maps: Sequence[np.ndarray | None] | None = None,
        offset: Sequence[float] | np.ndarray = (0.0, 0.0, 0.0),
    ) -> None:
        self.folder = Path(folder)
        self.tileset: Tileset = read_tileset(self.folder, cached=True)
        self.budget = budget or Budget()
        self.cache = TileCache(self.tileset, cap=cap, workers=workers, on_loaded=on_loaded)
        self.cameras: dict[str, Camera] = {}
        self.selections: dict[str, Selection] = {}
        self.drawn: list[int] = []
        self.layer_points = [str(layer.get("kind")) in POINT_KINDS for layer in self.tileset.layers]
        # when the city is one source of a bigger scene: each layer's asset rows in the scene's table
        # (index row -> scene row), and the scene's local frame = the tileset's + offset
        self.row_maps = list(row_maps or [None] * len(self.tileset.layers))
        self.offset = np.asarray(offset, dtype=np.float64)

    @property
    def counts(self) -> dict[str, int]:
        """The tiler's totals (``extras.cim_twin.counts``)."""
        city = self.tileset.city or {}
        return {k: int(v) for k, v in (city.get("counts") or {}).items()}

    # -- views ----------------------------------------------------------------------------------
    def set_camera(self, view: str, camera: Camera) -> bool:
        """A view's new camera; True when it moved enough to select again."""
        if self.offset.any():  # the scene's frame to the tileset's
            position, focal = np.subtract(camera.position, self.offset), np.subtract(camera.focal_point, self.offset)
            camera = replace(camera, position=tuple(position.tolist()), focal_point=tuple(focal.tolist()))
        old = self.cameras.get(view)
        self.cameras[view] = camera
        return old is None or old.key() != camera.key()

    def drop(self, view: str) -> None:
        self.cameras.pop(view, None)
        self.selections.pop(view, None)

    def plan(self) -> bool:
        """Select tiles for every view and queue what is missing; True when what to draw changed."""
        share = max(len(self.cameras), 1)
        budget = replace(self.budget, triangles=self.budget.triangles // share, points=self.budget.points // share)
        missing: list[list[int]] = []
        for view, camera in self.cameras.items():
            selection = select(self.tileset, camera, budget, self.cache.cost, self.cache.loaded)
            self.selections[view] = selection
            missing.append(selection.missing)
        if not self.cameras:
            self.selections = {}
        drawn = sorted({t for s in self.selections.values() for t in s.drawn} or self._coarse())
        self.cache.pinned = set(drawn) | {t for s in self.selections.values() for t in s.wanted}
        self.cache.request(_interleave(missing))
        changed = drawn != self.drawn
        self.drawn = drawn
        return changed

    def _coarse(self) -> set[int]:
        """Before any view: the overview tiles that are in."""
        return {t for t in self.overview() if self.cache.loaded(t)}

    def overview(self) -> list[int]:
        """The coarsest tiles of the layers that fit the budget: what shows the whole city at once."""
        return admitted(self.tileset, top_tiles(self.tileset), self.cache.cost, self.budget)

    def load_coarse(self) -> None:
        """Load the overview tiles now (before the first frame) and draw them."""
        self.cache.load_now(self.overview())
        self.plan()

    # -- meshes ---------------------------------------------------------------------------------
    def assemble(self, tiles: list[int] | None = None) -> list[pv.PolyData]:
        """One merged mesh per layer from the given (default: drawn) tiles that are in the cache."""
        chosen = self.drawn if tiles is None else tiles
        per_layer: list[list[TileContent]] = [[] for _ in self.tileset.layers]
        for tile in chosen:
            for content in self.cache.get(tile):
                if content.layer < len(per_layer):
                    per_layer[content.layer].append(content)
        meshes = [merge(parts, points) for parts, points in zip(per_layer, self.layer_points)]
        for mesh, row_map, points in zip(meshes, self.row_maps, self.layer_points):
            _to_scene(mesh, row_map, self.offset, points)
        return meshes

    def status(self, meshes: list[pv.PolyData] | None = None) -> Status:
        """What is shown of the whole city (``meshes``: the assembled layers, for exact counts)."""
        counts = self.counts
        triangles = points = 0
        for mesh, is_points in zip(meshes or [], self.layer_points):
            if is_points:
                points += mesh.n_cells  # one vertex cell per point drawn (an empty layer keeps one unused point)
            else:
                triangles += mesh.n_cells
        return Status(
            tiles=len(self.drawn),
            tiles_total=counts.get("tiles", len(self.tileset)),
            triangles=triangles,
            triangles_total=counts.get("triangles", 0),
            points=points,
            points_total=counts.get("points", 0),
            loading=self.cache.busy,
            failed=len(self.cache.failed),
            cached_bytes=self.cache.nbytes,
        )

    # -- the twin -------------------------------------------------------------------------------
    def twin(self, name: str | None = None) -> Twin:
        """The twin the app serves: the city's asset table and one (refreshable) layer per tileset layer."""
        city = self.tileset.city
        if city is None:
            raise InputError(
                self.tileset.path,
                "not a CIM Twin city tileset (no extras.cim_twin block)",
                hint="add a foreign tileset to a scene manifest as a source instead (loaders/tileset.py)",
            )
        twin = Twin(name or self.folder.name, crs=city.get("crs"), origin=city.get("origin") or (0.0, 0.0, 0.0))
        twin.path = self.tileset.path
        twin.assets = read_assets(self.folder)
        meshes = self.assemble()
        for index, layer in enumerate(self.tileset.layers):
            points = self.layer_points[index]
            twin.layers.append(
                Layer(
                    name=str(layer["name"]),
                    kind="pointcloud" if points else _app_kind(str(layer.get("kind"))),
                    geometry="points" if points else "mesh",
                    dataset=meshes[index] if index < len(meshes) else empty(points),
                    association="point" if points else "cell",
                    style=LayerStyle(color=network_color(layer["network"]) if layer.get("network") else None),
                    source=str(self.tileset.path),
                    asset_start=0,
                    asset_stop=len(twin.assets),
                )
            )
        return twin

    def close(self) -> None:
        self.cache.close()


def _to_scene(mesh: pv.PolyData, row_map: np.ndarray | None, offset: np.ndarray, points: bool) -> None:
    """A merged mesh in the scene's frame and asset rows (a city that is one source among others)."""
    if offset.any() and mesh.n_points:
        mesh.points = (np.asarray(mesh.points, dtype=np.float64) + offset).astype(np.float32)
    if row_map is not None:
        data = mesh.point_data if points else mesh.cell_data
        data["asset_index"] = row_map[np.asarray(data["asset_index"])].astype(np.int32)


def _app_kind(kind: str) -> str:
    """The app's layer kinds (colours, underground mode) from the tileset's layer kinds."""
    return {"building": "city", "buildings": "city", "pipe": "pipes", "pipes": "pipes", "terrain": "terrain"}.get(
        kind, "city" if kind not in ("ifc", "pipes", "terrain", "city") else kind
    )


def _interleave(lists: list[list[int]]) -> list[int]:
    """Each view's most urgent tile in turn, so no browser waits for another's whole list."""
    out: list[int] = []
    for i in range(max((len(x) for x in lists), default=0)):
        out.extend(x[i] for x in lists if i < len(x))
    return out
