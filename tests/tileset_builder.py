"""A test-only city tileset builder: boxes on a grid, a quadtree of levels, per the CIM Twin contract.

Stands in for ``twin tile`` in the streaming tests: ``tileset.json`` (3D Tiles 1.1, root ENU->ECEF
transform, ``extras.cim_twin``, groups per layer), GLB content under ``tiles/`` written with
pygltflib (``_FEATURE_ID_0`` + ``EXT_mesh_features``, ``EXT_structural_metadata`` with ``asset_row``,
``id``, ``kind``, ``name``, ``risk_level``, ``risk_grade``) and ``assets.parquet``.  Coarse tiles
hold roofless boxes (REPLACE); an optional point layer is thinned by level (ADD).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pygltflib
from pyproj import Transformer

#: a box's 8 corners (unit cube) and its 12 triangles; the first 8 triangles are the walls
CORNERS = np.array([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 1)], dtype=np.float64)
WALLS = [(0, 1, 5), (0, 5, 4), (1, 3, 7), (1, 7, 5), (3, 2, 6), (3, 6, 7), (2, 0, 4), (2, 4, 6)]
ROOF_FLOOR = [(4, 5, 7), (4, 7, 6), (0, 2, 3), (0, 3, 1)]


def enu_to_ecef(crs: str, origin: tuple[float, float, float]) -> np.ndarray:
    """The ENU->ECEF 4x4 at the scene origin (pyproj does the datum work)."""
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(origin[0], origin[1])
    x, y, z = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True).transform(lon, lat, origin[2])
    lo, la = np.radians(lon), np.radians(lat)
    m = np.eye(4)
    m[:3, 0] = [-np.sin(lo), np.cos(lo), 0]
    m[:3, 1] = [-np.sin(la) * np.cos(lo), -np.sin(la) * np.sin(lo), np.cos(la)]
    m[:3, 2] = [np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)]
    m[:3, 3] = [x, y, z]
    return m


def _strings(values: list[str]) -> tuple[bytes, bytes]:
    encoded = [v.encode() for v in values]
    offsets = np.r_[0, np.cumsum([len(e) for e in encoded])].astype(np.uint32)
    return b"".join(encoded), offsets.tobytes()


def write_glb(path: Path, enu: np.ndarray, triangles: np.ndarray | None, feature: np.ndarray, table: dict) -> None:
    """One GLB: ENU (z-up) points stored y-up, triangles or POINTS, feature ids and the property table."""
    gltf_xyz = np.c_[enu[:, 0], enu[:, 2], -enu[:, 1]].astype(np.float32)
    blobs: list[bytes] = []
    views: list[pygltflib.BufferView] = []

    def add(data: bytes) -> int:
        offset = sum(len(b) for b in blobs)
        pad = (-len(data)) % 4
        blobs.append(data + b"\0" * pad)
        views.append(pygltflib.BufferView(buffer=0, byteOffset=offset, byteLength=len(data)))
        return len(views) - 1

    accessors = [
        pygltflib.Accessor(
            bufferView=add(gltf_xyz.tobytes()),
            componentType=pygltflib.FLOAT,
            count=len(gltf_xyz),
            type="VEC3",
            min=gltf_xyz.min(0).tolist(),
            max=gltf_xyz.max(0).tolist(),
        ),
        pygltflib.Accessor(
            bufferView=add(feature.astype(np.float32).tobytes()),
            componentType=pygltflib.FLOAT,
            count=len(feature),
            type="SCALAR",
        ),
    ]
    primitive = pygltflib.Primitive(attributes=pygltflib.Attributes(POSITION=0, _FEATURE_ID_0=1), mode=0, material=0)
    if triangles is not None:
        accessors.append(
            pygltflib.Accessor(
                bufferView=add(triangles.astype(np.uint32).tobytes()),
                componentType=pygltflib.UNSIGNED_INT,
                count=triangles.size,
                type="SCALAR",
            )
        )
        primitive.indices, primitive.mode = 2, 4
    n = len(table["asset_row"])
    primitive.extensions = {
        "EXT_mesh_features": {"featureIds": [{"featureCount": n, "attribute": 0, "propertyTable": 0}]}
    }
    properties = {"asset_row": {"values": add(np.asarray(table["asset_row"], dtype=np.uint32).tobytes())}}
    classes = {"asset_row": {"type": "SCALAR", "componentType": "UINT32"}}
    for name in ("id", "kind", "name", "risk_level", "risk_grade"):
        values, offsets = _strings([str(v) for v in table[name]])
        properties[name] = {"values": add(values), "stringOffsets": add(offsets)}
        classes[name] = {"type": "STRING"}
    binary = b"".join(blobs)
    gltf = pygltflib.GLTF2(
        asset=pygltflib.Asset(version="2.0", generator="tests/tileset_builder.py"),
        scene=0,
        scenes=[pygltflib.Scene(nodes=[0])],
        nodes=[pygltflib.Node(mesh=0)],
        meshes=[pygltflib.Mesh(primitives=[primitive])],
        materials=[pygltflib.Material(doubleSided=triangles is None)],  # boxes closed and outward
        accessors=accessors,
        bufferViews=views,
        buffers=[pygltflib.Buffer(byteLength=len(binary))],
        extensionsUsed=["EXT_mesh_features", "EXT_structural_metadata"],
        extensions={
            "EXT_structural_metadata": {
                "schema": {"id": "cim_twin", "classes": {"asset": {"properties": classes}}},
                "propertyTables": [{"class": "asset", "count": n, "properties": properties}],
            }
        },
    )
    gltf.set_binary_blob(binary)
    path.parent.mkdir(parents=True, exist_ok=True)
    gltf.save_binary(str(path))


def build_city(
    folder: Path,
    side: int = 8,
    levels: int = 3,
    spacing: float = 30.0,
    size: float = 12.0,
    points_per_asset: int = 0,
    crs: str = "EPSG:32650",
    origin: tuple[float, float, float] = (500000.0, 3500000.0, 0.0),
) -> dict:
    """Write a city of ``side x side`` boxes in a quadtree of ``levels`` levels; returns what was written.

    Every level holds closed LoD1 boxes wound outward in single-sided materials, as ``twin tile``
    writes them (every level all of its buildings).  With
    ``points_per_asset`` a second layer of points (one point-cloud asset per leaf tile) is added
    under its own ADD subtree, thinned by level.
    """
    folder = Path(folder)
    grid = np.arange(side) * spacing - side * spacing / 2
    xs, ys = np.meshgrid(grid, grid, indexing="ij")
    xy = np.c_[xs.ravel(), ys.ravel()]
    heights = 8.0 + (np.arange(len(xy)) * 7 % 23)
    extent = side * spacing / 2
    n_buildings = len(xy)
    rows = {"id": [f"B{i:05d}" for i in range(n_buildings)], "kind": ["building"] * n_buildings}
    bounds = np.c_[xy, np.zeros(n_buildings), xy + size, heights]
    counts = {"tiles": 0, "triangles": 0, "points": 0}
    leaf_of = [""] * n_buildings

    def box_tile(level: int, ix: int, iy: int, lo: np.ndarray, hi: np.ndarray) -> dict:
        inside = np.flatnonzero(np.all((xy >= lo) & (xy < hi), axis=1))
        leaf = level == levels - 1
        uri = f"tiles/b_{level}_{ix}_{iy}.glb"
        tile: dict = {
            "boundingVolume": {
                "box": [
                    *((lo + hi) / 2),
                    20.0,
                    (hi - lo)[0] / 2 + size,
                    0,
                    0,
                    0,
                    (hi - lo)[1] / 2 + size,
                    0,
                    0,
                    0,
                    20.0,
                ]
            },
            "geometricError": 0.0 if leaf else float(2 ** (levels - 1 - level) * 4.0),
            "refine": "REPLACE",
        }
        if len(inside):
            faces = WALLS + ROOF_FLOOR
            enu = np.concatenate([bounds[i, :3] + CORNERS * (bounds[i, 3:] - bounds[i, :3]) for i in inside])
            tris = np.concatenate([np.asarray(faces) + 8 * k for k in range(len(inside))])
            feature = np.repeat(np.arange(len(inside)), 8)
            table = {
                "asset_row": inside,
                "id": [rows["id"][i] for i in inside],
                "kind": ["building"] * len(inside),
                "name": [f"Building {i}" for i in inside],
                "risk_level": ["none"] * len(inside),
                "risk_grade": [""] * len(inside),
            }
            write_glb(folder / uri, enu, tris, feature, table)
            tile["contents"] = [{"uri": uri, "group": 0}]
            counts["tiles"] += 1
            counts["triangles"] += len(tris) if leaf else 0
            if leaf:
                for i in inside:
                    leaf_of[i] = uri
        if not leaf:
            mid = (lo + hi) / 2
            tile["children"] = [
                box_tile(level + 1, 2 * ix + dx, 2 * iy + dy, np.where([dx, dy], mid, lo), np.where([dx, dy], hi, mid))
                for dx in (0, 1)
                for dy in (0, 1)
            ]
        return tile

    lo, hi = np.array([-extent, -extent]), np.array([extent + 1, extent + 1])
    buildings = box_tile(0, 0, 0, lo, hi)
    children = [buildings]
    layers = [{"name": "buildings", "kind": "building", "network": None}]
    groups = [{"class": "layer", "properties": {"name": "buildings", "kind": "building"}}]
    all_bounds = bounds
    if points_per_asset:
        points_root, point_bounds = _points_tree(folder, xy, size, levels, points_per_asset, rows, counts)
        children.append(points_root)
        all_bounds = np.vstack([bounds, point_bounds])
        layers.append({"name": "lidar", "kind": "point_cloud", "network": None})
        groups.append({"class": "layer", "properties": {"name": "lidar", "kind": "point_cloud"}})
    n = len(rows["id"])
    tileset = {
        "asset": {"version": "1.1"},
        "geometricError": float(2**levels * 8.0),
        "schema": {
            "id": "cim_twin",
            "classes": {"layer": {"properties": {"name": {"type": "STRING"}, "kind": {"type": "STRING"}}}},
        },
        "groups": groups,
        "root": {
            "transform": enu_to_ecef(crs, origin).T.ravel().tolist(),
            "boundingVolume": {"box": [0, 0, 20, extent + size, 0, 0, 0, extent + size, 0, 0, 0, 25]},
            "geometricError": float(2**levels * 8.0),
            "refine": "REPLACE",
            "children": children,
        },
        "extras": {
            "cim_twin": {
                "version": 1,
                "crs": crs,
                "origin": list(origin),
                "assets": "assets.parquet",
                "layers": layers,
                "counts": {"assets": n, **counts},
            }
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tileset.json").write_text(json.dumps(tileset, indent=1))
    world = np.asarray(origin)
    table = pa.table(
        {
            "row": pa.array(np.arange(n, dtype=np.uint32)),
            "id": rows["id"],
            "kind": ["building"] * n_buildings + ["point_cloud"] * (n - n_buildings),
            "name": [f"Building {i}" if i < n_buildings else f"Lidar {i - n_buildings}" for i in range(n)],
            "address": [None] * n,
            "address_text": [None] * n,
            "layer": ["buildings"] * n_buildings + ["lidar"] * (n - n_buildings),
            "network": [None] * n,
            "xmin": all_bounds[:, 0] + world[0],
            "ymin": all_bounds[:, 1] + world[1],
            "zmin": all_bounds[:, 2] + world[2],
            "xmax": all_bounds[:, 3] + world[0],
            "ymax": all_bounds[:, 4] + world[1],
            "zmax": all_bounds[:, 5] + world[2],
            "tile": leaf_of + [""] * (n - n_buildings),
        }
    )
    pq.write_table(table, folder / "assets.parquet")
    return {"folder": folder, "assets": n, "buildings": n_buildings, **counts, "tileset": tileset}


def _points_tree(folder, xy, size, levels, per_asset, rows, counts) -> tuple[dict, np.ndarray]:
    """One point-cloud asset per building footprint, its points split over levels (ADD)."""
    rng = np.random.default_rng(7)
    n = n_buildings = len(xy)
    rows["id"] = rows["id"] + [f"L{i:05d}" for i in range(n)]
    pts = np.concatenate(
        [np.c_[xy[i] + rng.random((per_asset, 2)) * size, rng.random(per_asset) * 5] for i in range(n)]
    )
    owner = np.repeat(np.arange(n), per_asset)
    level = rng.integers(0, levels, len(pts))
    bounds = np.c_[xy, np.zeros(n), xy + size, np.full(n, 5.0)]
    extent = float(np.abs(xy).max() + size)

    def tile(lv: int) -> dict:
        mask = level == lv
        uri = f"tiles/p_{lv}.glb"
        table = {
            "asset_row": n_buildings + np.arange(n),
            "id": rows["id"][n_buildings:],
            "kind": ["point_cloud"] * n,
            "name": [f"Lidar {i}" for i in range(n)],
            "risk_level": ["none"] * n,
            "risk_grade": [""] * n,
        }
        write_glb(folder / uri, pts[mask], None, owner[mask], table)
        counts["tiles"] += 1
        counts["points"] += int(mask.sum())
        node: dict = {
            "boundingVolume": {"box": [0, 0, 2.5, extent, 0, 0, 0, extent, 0, 0, 0, 2.5]},
            "geometricError": 0.0 if lv == levels - 1 else float(2 ** (levels - 1 - lv) * 4.0),
            "refine": "ADD",
            "contents": [{"uri": uri, "group": 1}],
        }
        if lv < levels - 1:
            node["children"] = [tile(lv + 1)]
        return node

    return tile(0), bounds
