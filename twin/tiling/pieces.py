"""Phase one of a build: one loaded source cut into pieces, one per tile node and layer.

A piece holds the flat (un-indexed) triangles or points of one layer inside one quadtree node,
already in the tileset's glTF frame, with each vertex's feature (an asset of the source) and
colour.  Assets go to tiles whole, by the leaf under their centre, except those more than two
leaves across (terrain, long roads), which are cut by triangle; points go by position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyvista as pv
from vtkmodules.util.numpy_support import vtk_to_numpy

from twin.layer import Layer
from twin.scene import Twin
from twin.tiling.frame import LocalFrame, enu_to_gltf
from twin.tiling.grid import NodeKey, TileGrid, ancestors
from twin.tiling.lod import box_triangles, decimate, point_levels
from twin.tiling.orient import orient_solids

#: colours of layers whose style names none, by source kind (RGB)
DEFAULT_COLOURS = {"city": (216, 210, 196), "ifc": (200, 200, 200), "terrain": (167, 181, 154)}


@dataclass
class Piece:
    """One layer's content in one node: what one GLB is written from."""

    key: NodeKey
    layer: str
    family: str  # "mesh" (refine REPLACE) or "points" (refine ADD)
    positions: np.ndarray  # (n, 3) float32, glTF frame
    features: np.ndarray  # (n,) uint32 index into ``rows``
    rows: np.ndarray  # (f,) source-local asset rows of the piece's features
    colours: np.ndarray  # (n, 4) uint8 RGBA
    single_sided: bool = False  # every feature a closed solid wound outward: back faces may be culled


@dataclass
class _Geometry:
    """A layer as flat elements (triangles or points) with their assets and colours."""

    corners: np.ndarray  # (m, 3) or (m, 1) point ids per element
    owners: np.ndarray  # (m,) source-local asset row
    colours: np.ndarray  # (n_points, 4) uint8
    solid: np.ndarray | None = None  # (m,) bool: the element's asset is a closed outward solid


def cut(twin: Twin, frame: LocalFrame, grid: TileGrid) -> tuple[list[Piece], dict[int, NodeKey], int]:
    """Every piece of every layer of a one-source twin, the leaf holding most of each asset,
    and the source's top level."""
    assert twin.origin is not None
    bounds = twin.assets.bounds - np.repeat(twin.origin, 2)
    finite = np.isfinite(bounds).all(axis=1)
    extent = np.array([[-1.0, 1.0, -1.0, 1.0]]) if not finite.any() else bounds[finite][:, :4]
    top = grid.top_level(np.array([extent[:, 0].min(), extent[:, 1].max(), extent[:, 2].min(), extent[:, 3].max()]))
    pieces: list[Piece] = []
    homes: dict[int, NodeKey] = {}
    for layer in twin.layers:
        if layer.geometry == "lines" or layer.dataset.n_points == 0:
            continue
        cutter = _PointCutter if layer.geometry == "points" else _MeshCutter
        layer_pieces, layer_homes = cutter(layer, twin, frame, grid, bounds, top).run()
        pieces += layer_pieces
        homes.update(layer_homes)
    return _merged(pieces), homes, top


def _merged(pieces: list[Piece]) -> list[Piece]:
    """One piece per node and layer (a coarse node gets boxes and decimated meshes separately)."""
    groups: dict[tuple[NodeKey, str], list[Piece]] = {}
    for piece in pieces:
        groups.setdefault((piece.key, piece.layer), []).append(piece)
    out = []
    for same in groups.values():
        if len(same) == 1:
            out.append(same[0])
            continue
        rows, inverse = np.unique(np.concatenate([p.rows for p in same]), return_inverse=True)
        starts = np.cumsum([0, *(len(p.rows) for p in same)])
        features = np.concatenate([inverse[a:b][p.features] for p, a, b in zip(same, starts[:-1], starts[1:])])
        out.append(
            Piece(
                key=same[0].key,
                layer=same[0].layer,
                family=same[0].family,
                positions=np.concatenate([p.positions for p in same]),
                features=features.astype(np.uint32),
                rows=rows.astype(np.uint32),
                colours=np.concatenate([p.colours for p in same]),
                single_sided=all(p.single_sided for p in same),
            )
        )
    return out


class _Cutter:
    """Shared by the mesh and point cutters: the layer in the glTF frame and grouping by node."""

    family = ""

    def __init__(
        self, layer: Layer, twin: Twin, frame: LocalFrame, grid: TileGrid, bounds: np.ndarray, top: int
    ) -> None:
        assert twin.origin is not None
        self.layer, self.frame, self.grid, self.bounds, self.top = layer, frame, grid, bounds, top
        self.origin = twin.origin
        self.local = np.asarray(layer.dataset.points, dtype=np.float64)
        self.gltf = enu_to_gltf(frame.enu(self.local + self.origin))
        self.colours = _vertex_colours(layer, twin.sources[-1].kind if twin.sources else "")

    def group(self, level: int, nodes: np.ndarray, geometry: _Geometry, positions: np.ndarray) -> Iterator[Piece]:
        """Pieces of one level from elements, their nodes ``(m, 2)`` and flat positions."""
        if not len(nodes):
            return
        per = geometry.corners.shape[1]
        order = np.lexsort((nodes[:, 1], nodes[:, 0]))
        sorted_nodes = nodes[order]
        starts = np.flatnonzero(np.r_[True, (sorted_nodes[1:] != sorted_nodes[:-1]).any(axis=1)])
        for start, stop in zip(starts, np.r_[starts[1:], len(order)]):
            chosen = order[start:stop]
            rows, features = np.unique(geometry.owners[chosen], return_inverse=True)
            vertex = (chosen[:, None] * per + np.arange(per)).ravel()
            i, j = sorted_nodes[start]
            yield Piece(
                key=(level, int(i), int(j)),
                layer=self.layer.name,
                family=self.family,
                positions=positions[vertex],
                features=np.repeat(features.astype(np.uint32), per),
                rows=rows.astype(np.uint32),
                colours=geometry.colours[geometry.corners[chosen].ravel()],
                single_sided=geometry.solid is not None and bool(geometry.solid[chosen].all()),
            )

    def homes(self, owners: np.ndarray, leaves: np.ndarray) -> dict[int, NodeKey]:
        """The leaf holding the most elements of each asset."""
        triples, counts = np.unique(np.column_stack([owners, leaves]), axis=0, return_counts=True)
        triples = triples[np.lexsort((-counts, triples[:, 0]))]
        first = np.r_[True, triples[1:, 0] != triples[:-1, 0]]
        return {int(a): (0, int(i), int(j)) for a, i, j in triples[first]}


class _MeshCutter(_Cutter):
    family = "mesh"

    def run(self) -> tuple[list[Piece], dict[int, NodeKey]]:
        corners, owners = _triangles(self.layer)
        if not len(corners):
            return [], {}
        corners, solid = orient_solids(self.local, corners, owners)
        geometry = _Geometry(corners, owners, self.colours, solid)
        bounds = self.bounds[owners]
        wide = 2 * self.grid.size
        split = ((bounds[:, 1] - bounds[:, 0]) > wide) | ((bounds[:, 3] - bounds[:, 2]) > wide)
        centres = np.where(
            split[:, None],
            self.local[corners].mean(axis=1)[:, :2],
            np.column_stack([bounds[:, 0] + bounds[:, 1], bounds[:, 2] + bounds[:, 3]]) / 2,
        )
        leaves = self.grid.leaf_indices(centres)
        pieces = list(self.group(0, leaves, geometry, self.gltf[corners.ravel()]))
        assets, first = np.unique(owners, return_index=True)  # each asset's first triangle
        whole = ~split[first]
        for level in range(1, self.top + 1):
            pieces += self._boxes(level, assets[whole], leaves[first[whole]], self.colours[corners[first[whole], 0]])
            for asset in assets[~whole]:
                pieces += self._decimated(level, int(asset), geometry)
        return pieces, self.homes(owners, leaves)

    def _boxes(self, level: int, assets: np.ndarray, leaves: np.ndarray, colours: np.ndarray) -> list[Piece]:
        """LoD1 boxes of the whole assets at least half the level's geometric error across."""
        size = (self.bounds[assets][:, 1::2] - self.bounds[assets][:, 0::2]).max(axis=1)
        big = size >= self.grid.geometric_error(level) / 2
        if not big.any():
            return []
        corners = box_triangles(self.bounds[assets[big]]) + self.origin
        boxes = _Geometry(
            np.arange(len(corners)).reshape(-1, 3),
            np.repeat(assets[big], 12),
            np.repeat(colours[big], 36, axis=0),
            np.ones(12 * int(big.sum()), dtype=bool),  # box_triangles winds them outward
        )
        nodes = np.repeat(ancestors(leaves[big], level), 12, axis=0)
        return list(self.group(level, nodes, boxes, enu_to_gltf(self.frame.enu(corners))))

    def _decimated(self, level: int, asset: int, geometry: _Geometry) -> list[Piece]:
        """An asset too large to box, decimated to 4**-level of its triangles and cut by node."""
        mask = geometry.owners == asset
        points, triangles = decimate(self.local, geometry.corners[mask], 4.0**-level)
        colour = self.colours[geometry.corners[mask][0, 0]]
        reduced = _Geometry(triangles, np.full(len(triangles), asset), np.broadcast_to(colour, (len(points), 4)))
        nodes = ancestors(self.grid.leaf_indices(points[triangles].mean(axis=1)), level)
        return list(
            self.group(level, nodes, reduced, enu_to_gltf(self.frame.enu(points[triangles.ravel()] + self.origin)))
        )


class _PointCutter(_Cutter):
    family = "points"

    def run(self) -> tuple[list[Piece], dict[int, NodeKey]]:
        owners = np.asarray(self.layer.asset_index, dtype=np.int64)  # rows of the one-source twin
        ids = np.arange(len(owners)).reshape(-1, 1)
        leaves = self.grid.leaf_indices(self.local)
        levels = point_levels(len(owners), self.top, seed=len(owners))
        pieces: list[Piece] = []
        for level in range(self.top + 1):
            chosen = np.flatnonzero(levels == level)
            subset = _Geometry(ids[chosen], owners[chosen], self.colours)
            pieces += self.group(level, ancestors(leaves[chosen], level), subset, self.gltf[chosen])
        return pieces, self.homes(owners, leaves)


def _triangles(layer: Layer) -> tuple[np.ndarray, np.ndarray]:
    """The layer's polygons as triangles ``(m, 3)`` of point ids, with each one's asset (a row of the
    one-source twin, hence of the source)."""
    mesh = layer.dataset
    if not mesh.is_all_triangles:
        mesh = mesh.triangulate()
    polys = mesh.GetPolys()
    if polys.GetNumberOfCells() == 0:
        return np.empty((0, 3), dtype=np.int64), np.empty(0, dtype=np.int64)
    first = mesh.GetVerts().GetNumberOfCells() + mesh.GetLines().GetNumberOfCells()
    owners = np.asarray(mesh.cell_data["asset_index"], dtype=np.int64)[first : first + polys.GetNumberOfCells()]
    corners = vtk_to_numpy(polys.GetConnectivityArray()).reshape(-1, 3).astype(np.int64)
    return corners, owners


def _vertex_colours(layer: Layer, kind: str) -> np.ndarray:
    """RGBA per point: the layer's RGB array where its style names one, else its colour."""
    n = layer.dataset.n_points
    alpha = int(round(255 * layer.style.opacity))
    rgb_name = layer.style.rgb_array
    if rgb_name and rgb_name in layer.dataset.point_data:
        rgb = np.asarray(layer.dataset.point_data[rgb_name], dtype=np.uint8)[:, :3]
        return np.column_stack([rgb, np.full(n, alpha, dtype=np.uint8)])
    colour = pv.Color(layer.style.color).int_rgb if layer.style.color else DEFAULT_COLOURS.get(kind, (190, 190, 190))
    return np.broadcast_to(np.array([*colour, alpha], dtype=np.uint8), (n, 4))
