"""GLB content with EXT_mesh_features and EXT_structural_metadata, written directly.

One GLB per tile and layer: one primitive (TRIANGLES or POINTS) with ``POSITION``, ``NORMAL``
(triangles: flat, the vertices are not shared), ``COLOR_0`` and ``_FEATURE_ID_0``; one property
table of class ``asset`` with ``asset_row`` (the row in ``assets.parquet``), ``id``, ``kind``,
``name``, ``risk_level`` and ``risk_grade``.

Why not VTK's ``vtkCesium3DTilesWriter``: it builds its own tileset tree and partition from
one in-memory dataset, writes its feature properties per building without the contract's
property table (asset rows, risk columns) or layers as 3D Tiles groups, and cannot resume or
rebuild a single tile; pygltflib would only wrap the JSON below in classes.  The format is a
12-byte header and two chunks, so the writer is this module.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FLOAT, UNSIGNED_BYTE = 5126, 5121
ARRAY_BUFFER = 34962
TRIANGLES, POINTS = 4, 0
RISK_LEVELS = ("red", "orange", "yellow", "blue", "none")
#: the schema of every GLB's property table (EXT_structural_metadata)
ASSET_SCHEMA = {
    "id": "cim_twin_asset",
    "classes": {
        "asset": {
            "properties": {
                "asset_row": {"type": "SCALAR", "componentType": "UINT32"},
                "id": {"type": "STRING"},
                "kind": {"type": "STRING"},
                "name": {"type": "STRING"},
                "risk_level": {"type": "STRING"},
                "risk_grade": {"type": "STRING"},
            }
        }
    },
}


@dataclass
class Features:
    """The property table: one entry per feature of the GLB."""

    asset_row: np.ndarray  # uint32
    id: Sequence[str]
    kind: Sequence[str]
    name: Sequence[str]
    risk_level: Sequence[str]
    risk_grade: Sequence[str]


class _Buffer:
    """The binary chunk, built from 8-byte aligned buffer views."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.views: list[dict[str, int]] = []
        self.size = 0

    def view(self, data: bytes, target: int | None = None, stride: int | None = None) -> int:
        pad = (-self.size) % 8
        if pad:
            self.parts.append(b"\0" * pad)
            self.size += pad
        view = {"buffer": 0, "byteOffset": self.size, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        if stride is not None:
            view["byteStride"] = stride
        self.parts.append(data)
        self.size += len(data)
        self.views.append(view)
        return len(self.views) - 1


def write_glb(
    positions: np.ndarray,
    colours: np.ndarray,
    features: np.ndarray,
    table: Features,
    mode: str,
    double_sided: bool = True,
) -> bytes:
    """The GLB of one primitive (``mode`` "triangles" or "points") and its property table.

    ``double_sided`` False (closed solids wound outward, see :mod:`twin.tiling.orient`) lets every
    viewer cull back faces, as glTF's ``doubleSided: false`` tells it to.
    """
    buffer = _Buffer()
    accessors: list[dict[str, object]] = []

    def accessor(data: np.ndarray, component: int, kind: str, **extra: object) -> int:
        stride = data.itemsize * (data.shape[1] if data.ndim == 2 else 1)
        view = buffer.view(np.ascontiguousarray(data).tobytes(), ARRAY_BUFFER, stride if stride % 4 == 0 else None)
        accessors.append({"bufferView": view, "componentType": component, "count": len(data), "type": kind, **extra})
        return len(accessors) - 1

    positions = np.asarray(positions, dtype=np.float32)
    attributes = {
        "POSITION": accessor(
            positions, FLOAT, "VEC3", min=positions.min(axis=0).tolist(), max=positions.max(axis=0).tolist()
        ),
        "COLOR_0": accessor(np.asarray(colours, dtype=np.uint8), UNSIGNED_BYTE, "VEC4", normalized=True),
    }
    if mode == "triangles":
        attributes["NORMAL"] = accessor(_flat_normals(positions), FLOAT, "VEC3")
    count = len(table.asset_row)
    # FLOAT: exact to 2**24 features, and 4-byte aligned as glTF wants every vertex attribute
    attributes["_FEATURE_ID_0"] = accessor(np.asarray(features, dtype=np.float32), FLOAT, "SCALAR")
    translucent = bool((np.asarray(colours)[:, 3] < 255).any())
    document = {
        "asset": {"version": "2.0", "generator": "CIM Twin"},
        "extensionsUsed": ["EXT_mesh_features", "EXT_structural_metadata"],
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "materials": [
            {
                "pbrMetallicRoughness": {
                    "baseColorFactor": [1, 1, 1, 1],
                    "metallicFactor": 0.0,
                    "roughnessFactor": 1.0,
                },
                "alphaMode": "BLEND" if translucent else "OPAQUE",
                "doubleSided": double_sided,
            }
        ],
        "meshes": [
            {
                "primitives": [
                    {
                        "attributes": attributes,
                        "mode": TRIANGLES if mode == "triangles" else POINTS,
                        "material": 0,
                        "extensions": {
                            "EXT_mesh_features": {
                                "featureIds": [{"featureCount": count, "attribute": 0, "propertyTable": 0}]
                            }
                        },
                    }
                ]
            }
        ],
        "extensions": {
            "EXT_structural_metadata": {
                "schema": ASSET_SCHEMA,
                "propertyTables": [{"class": "asset", "count": count, "properties": _properties(buffer, table)}],
            }
        },
        "accessors": accessors,
    }
    document["bufferViews"] = buffer.views
    document["buffers"] = [{"byteLength": buffer.size}]
    return _pack(document, b"".join(buffer.parts))


def _properties(buffer: _Buffer, table: Features) -> dict[str, dict[str, int]]:
    properties = {"asset_row": {"values": buffer.view(np.asarray(table.asset_row, dtype="<u4").tobytes())}}
    for name in ("id", "kind", "name", "risk_level", "risk_grade"):
        encoded = [str(v).encode("utf-8") for v in getattr(table, name)]
        offsets = np.zeros(len(encoded) + 1, dtype="<u4")
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        values = buffer.view(b"".join(encoded) or b" ")  # a buffer view is never empty; offsets say 0 bytes
        properties[name] = {"values": values, "stringOffsets": buffer.view(offsets.tobytes())}
    return properties


def _flat_normals(positions: np.ndarray) -> np.ndarray:
    """One unit normal per triangle, repeated on its three (unshared) vertices."""
    corners = positions.reshape(-1, 3, 3).astype(np.float64)
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.where(length > 0, normals / np.where(length > 0, length, 1), [0.0, 1.0, 0.0])
    return np.repeat(normals, 3, axis=0).astype(np.float32)


def _pack(document: dict[str, object], binary: bytes) -> bytes:
    """GLB container: header, JSON chunk (space padded), BIN chunk (zero padded), 4-byte aligned."""
    text = json.dumps(document, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-len(text)) % 4)
    binary += b"\0" * ((-len(binary)) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    header = struct.pack("<4sII", b"glTF", 2, total)
    return header + struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(binary), b"BIN\0") + binary
