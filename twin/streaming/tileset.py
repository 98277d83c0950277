"""A 3D Tiles tileset as a flat tree of tiles in one local frame, ready for view-dependent selection.

The tree is read once from ``tileset.json`` (external tilesets it names are followed) into flat
numpy arrays: each tile's bounding sphere and box in the *scene frame*, geometric error, refine
mode, parent and its content files.  The scene frame is the local east-north-up frame of the
tileset: for a CIM Twin city (the contract in :mod:`twin.streaming`) the inverse of the root
``transform`` (the ENU->ECEF matrix at the scene origin), so local coordinates are metres from the
origin; for a foreign tileset the ENU frame at the centre of its root volume.  Everything a content
file holds is mapped to that frame by one 4x4 matrix per tile (:attr:`Tileset.content_matrix`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from twin.errors import InputError
from twin.streaming import tree_cache

#: content kinds this reader draws; anything else is refused with the file and the reason
SUPPORTED_CONTENT = (".glb", ".b3dm", ".json")
UNSUPPORTED_CONTENT = {
    ".i3dm": "instanced 3D models (i3dm) are not supported",
    ".pnts": "point cloud tiles (pnts) are not supported: tile point clouds as glb POINTS",
    ".cmpt": "composite tiles (cmpt) are not supported",
    ".gltf": "glTF JSON content (.gltf) is not supported: use binary glb",
}
#: tileset extensions this reader understands or may safely ignore when they are required
KNOWN_EXTENSIONS = {"3DTILES_content_gltf", "3DTILES_multiple_contents", "3DTILES_metadata"}
#: glTF y-up to 3D Tiles z-up: x = x, y(north) = -z, z(up) = y
Y_UP_TO_Z_UP = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
WGS84_A, WGS84_E2 = 6378137.0, 6.69437999014e-3
#: a tileset centred farther than this from the Earth's centre is in ECEF (else: local, not georeferenced)
EARTH_SURFACE = 6.0e6
#: the 8 corners of the unit cube [-1, 1]^3
CUBE = np.array(np.meshgrid([-1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0], indexing="ij")).reshape(3, -1).T


class Content:
    """One content file of a tile: its path and the layer (tileset group) it belongs to.

    The path is kept as a string (a city has hundreds of thousands of contents: a ``Path`` each
    cost seconds to build at start) and made a ``Path`` when asked.
    """

    __slots__ = ("file", "layer")

    def __init__(self, file: str | Path, layer: int) -> None:
        self.file, self.layer = str(file), layer

    @property
    def path(self) -> Path:
        return Path(self.file)

    def __repr__(self) -> str:
        return f"Content({self.file!r}, {self.layer})"


@dataclass
class Tileset:
    """The tiles of a tileset in flat arrays (tile ``i`` is row ``i``; the root is tile 0).

    Attributes
    ----------
    centre, radius
        Bounding sphere of each tile in the scene frame (metres).
    box
        Axis-aligned bounding box of each tile in the scene frame, ``[xmin, ymin, zmin, xmax, ymax, zmax]``.
    error
        Geometric error (metres); 0 at leaves.
    replace
        True for ``refine: REPLACE``, False for ``ADD``.
    parent
        Parent tile (-1 for the root); ``children[i]`` lists tile ``i``'s children.
    contents
        Each tile's content files.
    content_matrix
        Each tile's 4x4 from its glTF content (y-up) to the scene frame.
    to_ecef
        The scene frame to ECEF (EPSG:4978).
    layers
        Layer names by group index (one ``"content"`` layer for a tileset without groups).
    extras
        The tileset's top-level ``extras`` (the contract's ``cim_twin`` block lives there).
    """

    path: Path
    centre: np.ndarray
    radius: np.ndarray
    box: np.ndarray
    error: np.ndarray
    replace: np.ndarray
    parent: np.ndarray
    children: list[list[int]]
    contents: Sequence[list[Content]]
    content_matrix: np.ndarray
    to_ecef: np.ndarray
    layers: list[dict[str, Any]]
    extras: dict[str, Any] = field(default_factory=dict)
    root_error: float = 0.0

    def __len__(self) -> int:
        return len(self.error)

    @cached_property
    def depth(self) -> np.ndarray:
        """Each tile's depth below the root (0 for the root; computed once, the tree never changes)."""
        depth = np.zeros(len(self), dtype=np.int32)
        for i in range(1, len(self)):  # parents come before their children
            depth[i] = depth[self.parent[i]] + 1
        return depth

    @property
    def city(self) -> dict[str, Any] | None:
        """The contract's ``extras.cim_twin`` block, or None for a foreign tileset."""
        block = self.extras.get("cim_twin")
        return block if isinstance(block, dict) else None


def read_tileset(path: str | Path, cached: bool = False) -> Tileset:
    """Read ``tileset.json`` (or a folder holding it), following external tilesets.

    ``cached``: read the tree kept by the last read of the same unchanged files, and keep this one
    (:mod:`twin.streaming.tree_cache`: a city's 100 MB of JSON is seconds of every serving start).

    Raises
    ------
    InputError
        A missing or malformed file, an unknown required extension, a bounding volume or content
        kind this reader does not support (each naming the file and the tile).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "tileset.json"
    if cached:
        kept = tree_cache.load(path)
        if kept is not None:
            return kept
    document = _read_json(path)
    root = document.get("root")
    if not isinstance(root, dict):
        raise InputError(path, "no 'root' tile", where="root", hint="is this a 3D Tiles tileset.json?")
    builder = _Builder(path, _layers(path, document))
    to_ecef = _matrix(root.get("transform"))
    scene_from_ecef = np.linalg.inv(to_ecef) if "transform" in root else None
    builder.scene_from_ecef = scene_from_ecef
    builder.add(root, document, path, -1, parent=-1, refine="REPLACE", where="root")
    centre = builder.ecef_centre()
    if scene_from_ecef is None and np.linalg.norm(centre) > EARTH_SURFACE:
        to_ecef = enu_to_ecef_at(centre)  # a foreign tileset in ECEF: the ENU frame at its centre
        builder.rebase(np.linalg.inv(to_ecef))
    tileset = builder.build(to_ecef, document)
    if cached:
        tree_cache.save(tileset, [str(path), *builder.externals])
    return tileset


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(path, "no such tileset file") from None
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable tileset JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InputError(path, "not a tileset: the JSON is not an object")
    required = set(document.get("extensionsRequired") or []) - KNOWN_EXTENSIONS
    if required:
        raise InputError(path, f"requires tileset extension(s) this reader does not support: {sorted(required)}")
    return document


def _layers(path: Path, document: dict[str, Any]) -> list[dict[str, Any]]:
    """One layer per 3D Tiles 1.1 group (its ``name``/``kind`` properties), else one for all content."""
    groups = document.get("groups") or []
    layers = []
    for i, group in enumerate(groups):
        props = group.get("properties") or {} if isinstance(group, dict) else {}
        layers.append({"name": str(props.get("name") or f"group {i}"), "kind": str(props.get("kind") or "city")})
    city = (document.get("extras") or {}).get("cim_twin") or {}
    for layer, declared in zip(layers, city.get("layers") or []):
        layer["network"] = declared.get("network")
    return layers or [{"name": path.parent.name or "tileset", "kind": "city"}]


def _matrix(values: Any) -> np.ndarray:
    """A 3D Tiles column-major 4x4 ``transform`` as a row-major numpy matrix (identity when absent)."""
    if values is None:
        return np.eye(4)
    return np.asarray(values, dtype=np.float64).reshape(4, 4).T


def enu_to_ecef_at(ecef: np.ndarray) -> np.ndarray:
    """The east-north-up frame at an ECEF point, as a 4x4 from ENU metres to ECEF."""
    x, y, z = (float(v) for v in ecef)
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1 - WGS84_E2))
    for _ in range(5):  # Bowring-style iteration: converges to well below a millimetre
        n = WGS84_A / np.sqrt(1 - WGS84_E2 * np.sin(lat) ** 2)
        lat = np.arctan2(z + WGS84_E2 * n * np.sin(lat), p)
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    matrix = np.eye(4)
    matrix[:3, 0], matrix[:3, 1], matrix[:3, 2], matrix[:3, 3] = east, north, up, (x, y, z)
    return matrix


def region_corners(region: list[float]) -> np.ndarray:
    """The 8 corners of a 3D Tiles ``region`` (radians and metres) in ECEF."""
    west, south, east, north, low, high = (float(v) for v in region)
    grid = np.meshgrid([west, east], [south, north], [low, high], indexing="ij")
    lon, lat, h = (g.ravel() for g in grid)
    n = WGS84_A / np.sqrt(1 - WGS84_E2 * np.sin(lat) ** 2)
    corners: np.ndarray = np.c_[
        (n + h) * np.cos(lat) * np.cos(lon), (n + h) * np.cos(lat) * np.sin(lon), (n * (1 - WGS84_E2) + h) * np.sin(lat)
    ]
    return corners


class _Builder:
    """Walks the tile tree depth-first into flat lists (a parent always before its children).

    Per tile only the raw JSON numbers are kept (the bounding volume, the index of its world
    matrix: tiles without a ``transform`` share their parent's); the corners of every volume are
    computed in a few array operations in :meth:`build`.  A city's tileset of 100,000+ tiles read
    in ~20 s with numpy calls and a resolved ``Path`` per tile; this way in a few seconds.
    """

    def __init__(self, path: Path, layers: list[dict[str, Any]]) -> None:
        self.path, self.layers = path, layers
        self.scene_from_ecef: np.ndarray | None = None
        self.boxes: list[tuple[int, list[float]]] = []  # (tile, box) of tiles bounded by a box
        self.spheres: list[tuple[int, list[float]]] = []
        self.regions: list[tuple[int, list[float]]] = []
        self.error: list[float] = []
        self.replace: list[bool] = []
        self.parent: list[int] = []
        self.contents: list[list[Content]] = []
        self.worlds: list[np.ndarray] = []  # distinct transforms to ECEF (their content's frame)
        self.world_of: list[int] = []  # each tile's index into ``worlds``
        self.externals: list[str] = []  # the external tilesets read (what a kept tree depends on)
        self._corners: np.ndarray | None = None

    def add(
        self,
        tile: dict[str, Any],
        doc: dict[str, Any],
        base: Path,
        world: int,
        parent: int,
        refine: str,
        where: str,
    ) -> None:
        folder = os.path.dirname(os.path.realpath(base))
        stack: list[tuple[dict[str, Any], int, int, str, Any]] = [(tile, world, parent, refine, where)]
        while stack:
            tile, world, parent, refine, place = stack.pop()
            if "transform" in tile or world < 0:
                matrix = (self.worlds[world] if world >= 0 else np.eye(4)) @ _matrix(tile.get("transform"))
                self.worlds.append(matrix)
                world = len(self.worlds) - 1
            refine = str(tile.get("refine") or refine).upper()
            index = len(self.error)
            self._volume(index, tile.get("boundingVolume") or {}, base, place)
            self.error.append(float(tile.get("geometricError", 0.0)))
            self.replace.append(refine != "ADD")
            self.parent.append(parent)
            self.world_of.append(world)
            contents: list[Content] = []
            self.contents.append(contents)
            specs = tile.get("contents") or ([tile["content"]] if "content" in tile else [])
            for k, content in enumerate(specs):
                uri = str(content.get("uri") or content.get("url") or "")
                name = uri.split("?", 1)[0] if "?" in uri else uri
                dot = name.rfind(".")
                suffix = name[dot:].lower() if dot > name.rfind("/") else ""
                if suffix in UNSUPPORTED_CONTENT or suffix not in SUPPORTED_CONTENT:
                    reason = UNSUPPORTED_CONTENT.get(suffix, f"content of an unknown kind ({uri!r})")
                    raise InputError(base, reason, where=f"{_where(place)}.content[{k}] {uri}")
                plain = not name.startswith(("/", ".")) and "/." not in name and "\\" not in name
                target = f"{folder}/{name}" if plain else os.path.normpath(os.path.join(folder, name))
                if suffix == ".json":  # an external tileset: its root becomes this tile's child
                    external = _read_json(Path(target))
                    self.externals.append(target)
                    self.add(external["root"], external, Path(target), world, index, refine, f"{uri}:root")
                    continue
                contents.append(Content(target, int(content.get("group", 0)) if self.layers else 0))
            children = tile.get("children") or []
            for k in range(len(children) - 1, -1, -1):  # reversed on the stack: depth-first in file order
                stack.append((children[k], world, index, refine, (place, k)))

    def _volume(self, index: int, volume: dict[str, Any], base: Path, place: Any) -> None:
        if "box" in volume:
            self.boxes.append((index, volume["box"]))
        elif "sphere" in volume:
            self.spheres.append((index, volume["sphere"]))
        elif "region" in volume:
            self.regions.append((index, volume["region"]))
        else:
            raise InputError(base, "a tile without a box, sphere or region bounding volume", where=_where(place))

    def corners(self) -> np.ndarray:
        """Every tile's 8 bounding corners in ECEF (or the root frame), ``(n, 8, 3)``; computed once."""
        if self._corners is None:
            self._corners = self._all_corners()
        return self._corners

    def _all_corners(self) -> np.ndarray:
        out = np.zeros((len(self.error), 8, 3))
        worlds = np.stack(self.worlds) if self.worlds else np.eye(4)[None]
        of = np.asarray(self.world_of, dtype=np.int64)
        for volumes, local in ((self.boxes, _box_corners), (self.spheres, _sphere_corners)):
            if volumes:
                rows = np.fromiter((i for i, _ in volumes), dtype=np.int64, count=len(volumes))
                try:
                    values = np.asarray([v for _, v in volumes], dtype=np.float64)
                    corners = local(values)
                except (ValueError, TypeError) as exc:
                    raise InputError(self.path, f"a malformed bounding volume: {exc}") from None
                matrices = worlds[of[rows]]
                out[rows] = np.einsum("nij,nkj->nki", matrices[:, :3, :3], corners) + matrices[:, None, :3, 3]
        for index, region in self.regions:
            out[index] = region_corners(region)
        return out

    def ecef_centre(self) -> np.ndarray:
        return np.asarray(self.corners()[0].mean(axis=0))

    def rebase(self, scene_from_ecef: np.ndarray) -> None:
        self.scene_from_ecef = scene_from_ecef

    def build(self, to_ecef: np.ndarray, document: dict[str, Any]) -> Tileset:
        inverse = self.scene_from_ecef if self.scene_from_ecef is not None else np.eye(4)
        corners = self.corners()  # (n, 8, 3)
        local = corners @ inverse[:3, :3].T + inverse[:3, 3]
        lo, hi = local.min(axis=1), local.max(axis=1)
        parent = np.asarray(self.parent, dtype=np.int64)
        children: list[list[int]] = [[] for _ in self.parent]
        for i in np.flatnonzero(parent >= 0).tolist():
            children[self.parent[i]].append(i)
        worlds = np.stack(self.worlds) if self.worlds else np.eye(4)[None]
        matrices = (inverse @ worlds @ Y_UP_TO_Z_UP)[np.asarray(self.world_of, dtype=np.int64)]
        return Tileset(
            path=self.path,
            centre=(lo + hi) / 2,
            radius=np.linalg.norm(hi - lo, axis=1) / 2,
            box=np.c_[lo, hi],
            error=np.asarray(self.error),
            replace=np.asarray(self.replace),
            parent=parent,
            children=children,
            contents=self.contents,
            content_matrix=matrices,
            to_ecef=to_ecef,
            layers=self.layers,
            extras=dict(document.get("extras") or {}),
            root_error=float(document.get("geometricError", self.error[0] if self.error else 0.0)),
        )


def _where(place: Any) -> str:
    """A tile's place in the JSON (``root.children[3].children[0]``), kept as nested (parent, k) pairs
    while walking (formatting one string per tile of a big city cost a second) and spelled out here."""
    steps: list[int] = []
    while isinstance(place, tuple):
        place, k = place
        steps.append(k)
    return str(place) + "".join(f".children[{k}]" for k in reversed(steps))


def _box_corners(boxes: np.ndarray) -> np.ndarray:
    """The 8 corners of ``(n, 12)`` 3D Tiles boxes (centre, then three half-axis vectors)."""
    corners: np.ndarray = boxes[:, None, :3] + np.einsum("kj,njl->nkl", CUBE, boxes[:, 3:].reshape(-1, 3, 3))
    return corners


def _sphere_corners(spheres: np.ndarray) -> np.ndarray:
    """The 8 corners of the cubes around ``(n, 4)`` spheres (centre, radius)."""
    corners: np.ndarray = spheres[:, None, :3] + CUBE[None] * spheres[:, 3, None, None]
    return corners
