"""Tile content (GLB, b3dm) into numpy arrays: vertices in the scene frame, triangles or points, asset rows.

A small reader of our own rather than ``pygltflib`` or ``vtkCesium3DTilesReader``: tile content is
read thousands of times while a city streams, on a worker thread, and this one maps each accessor
straight onto the file's bytes (``numpy.frombuffer``, no per-element Python objects) and reads only
what the viewer needs (positions, indices, feature ids, the property table's ``asset_row``, b3dm's
``_BATCHID`` and batch table) into numpy, ready to merge.  pygltflib parses the JSON into objects
and reads no b3dm; vtkCesium3DTilesReader reads a whole tileset at one level, not one tile on a
worker thread.  bench_streaming.py: reading the 20 biggest tiles of a generated city, with indices,
features and rows, took 0.8x the time of pygltflib's parse of their positions alone.

A feature's asset row comes, in this order, from the EXT_structural_metadata property table's
``asset_row`` (the CIM Twin contract), or from the feature id itself (a foreign tileset: the
caller numbers (tile, feature) pairs).  Compressed geometry (Draco, meshopt) is refused.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from twin.errors import InputError
from twin.streaming.tileset import Y_UP_TO_Z_UP

GLB_MAGIC, B3DM_MAGIC = b"glTF", b"b3dm"
JSON_CHUNK, BIN_CHUNK = 0x4E4F534A, 0x004E4942
COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
TRIANGLES, POINTS = 4, 0
#: glTF extensions that change nothing this reader reads (or that it reads itself)
HARMLESS = {
    "EXT_mesh_features",
    "EXT_structural_metadata",
    "KHR_materials_unlit",
    "KHR_texture_transform",
    "KHR_mesh_quantization",
    "KHR_materials_emissive_strength",
    "CESIUM_RTC",
    "CESIUM_primitive_outline",
}
SCALAR_TYPES = {
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT16": np.int16,
    "UINT16": np.uint16,
    "INT32": np.int32,
    "UINT32": np.uint32,
    "INT64": np.int64,
    "UINT64": np.uint64,
    "FLOAT32": np.float32,
    "FLOAT64": np.float64,
}


@dataclass
class TileContent:
    """One content file read: vertices (float32, scene frame), triangles (or points) and each vertex's feature.

    ``features`` holds per-vertex feature ids; ``rows`` the asset row of each feature id when the
    file names them (``asset_row``), else None.  ``properties`` are the batch / property table's
    columns (foreign tilesets: they become the asset table).
    """

    points: np.ndarray
    triangles: np.ndarray  # (m, 3) int64 vertex indices; empty for a point primitive
    features: np.ndarray  # per vertex, int64 (-1: none)
    is_points: bool
    rows: np.ndarray | None = None
    properties: dict[str, np.ndarray] = field(default_factory=dict)
    layer: int = 0  # the tileset group (layer) of the file it came from
    uri: str = ""  # that file's name
    #: every triangle's material is single-sided (glTF ``doubleSided`` false): back faces may be culled
    single_sided: bool = False

    @property
    def vertex_rows(self) -> np.ndarray:
        """Each vertex's asset row (the feature id itself when the file names no rows)."""
        if self.rows is None:
            return self.features
        ok = (self.features >= 0) & (self.features < len(self.rows))
        return np.where(ok, self.rows[np.clip(self.features, 0, max(len(self.rows) - 1, 0))], -1)

    @property
    def n_triangles(self) -> int:
        return len(self.triangles)

    @property
    def n_points(self) -> int:
        return len(self.points) if self.is_points else 0

    @property
    def nbytes(self) -> int:
        extra = 0 if self.rows is None else self.rows.nbytes
        return self.points.nbytes + self.triangles.nbytes + self.features.nbytes + extra


def read_content(path: Path, matrix: np.ndarray) -> list[TileContent]:
    """Read a ``.glb`` or ``.b3dm`` file; ``matrix`` maps its glTF frame to the scene frame.

    Returns one :class:`TileContent` for its triangles and one for its points (those it has).

    Raises
    ------
    InputError
        A missing, truncated or malformed file, or one needing an unsupported extension.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read tile: {exc.strerror or exc}") from None
    try:
        if data[:4] == B3DM_MAGIC:
            return _read_b3dm(path, data, matrix)
        if data[:4] == GLB_MAGIC:
            return _Glb(path, data, matrix).read()
    except InputError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, struct.error) as exc:
        raise InputError(path, f"malformed tile content: {type(exc).__name__}: {exc}") from None
    raise InputError(path, f"not a GLB or b3dm tile (starts with {data[:4]!r})", where="byte 0")


def _read_b3dm(path: Path, data: bytes, matrix: np.ndarray) -> list[TileContent]:
    """b3dm: a 28-byte header, feature table (RTC_CENTER), batch table, then a GLB."""
    _, version, length, ft_json, ft_bin, bt_json, bt_bin = struct.unpack_from("<4s6I", data, 0)
    if length > len(data):
        raise InputError(path, f"truncated b3dm: header says {length} bytes, file has {len(data)}", where="header")
    at = 28
    features = json.loads(data[at : at + ft_json] or b"{}")
    at += ft_json + ft_bin
    batch = json.loads(data[at : at + bt_json] or b"{}")
    batch_bin = data[at + bt_json : at + bt_json + bt_bin]
    at += bt_json + bt_bin
    if "RTC_CENTER" in features:
        shift = np.eye(4)
        shift[:3, 3] = features["RTC_CENTER"]
        matrix = matrix @ np.linalg.inv(Y_UP_TO_Z_UP) @ shift @ Y_UP_TO_Z_UP  # RTC is in the z-up tile frame
    contents = _Glb(path, data[at:length], matrix).read()
    table = _batch_table(batch, batch_bin, int(features.get("BATCH_LENGTH", 0)))
    for content in contents:
        content.properties = table
    return contents


def _batch_table(table: dict[str, Any], binary: bytes, count: int) -> dict[str, np.ndarray]:
    columns: dict[str, np.ndarray] = {}
    for name, values in table.items():
        if name == "extensions" or name == "extras":
            continue
        if isinstance(values, dict) and "byteOffset" in values:
            dtype = {
                "BYTE": np.int8,
                "UNSIGNED_BYTE": np.uint8,
                "SHORT": np.int16,
                "UNSIGNED_SHORT": np.uint16,
                "INT": np.int32,
                "UNSIGNED_INT": np.uint32,
                "FLOAT": np.float32,
                "DOUBLE": np.float64,
            }[values["componentType"]]
            if values.get("type", "SCALAR") == "SCALAR":
                columns[name] = np.frombuffer(binary, dtype=dtype, count=count, offset=int(values["byteOffset"]))
        elif isinstance(values, list) and len(values) == count:
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                columns[name] = np.asarray(values, dtype=np.float64)
            else:
                columns[name] = np.asarray([str(v) for v in values], dtype=np.dtypes.StringDType())
    return columns


class _Glb:
    """One binary glTF 2.0 file: its JSON and BIN chunk, read accessor by accessor."""

    def __init__(self, path: Path, data: bytes, matrix: np.ndarray) -> None:
        self.path, self.matrix = path, matrix
        magic, version, length = struct.unpack_from("<4sII", data, 0)
        if magic != GLB_MAGIC or version != 2:
            raise InputError(path, f"only binary glTF 2.0 is supported (found {magic!r} version {version})")
        if length > len(data):
            raise InputError(path, f"truncated GLB: header says {length} bytes, file has {len(data)}", where="header")
        chunk_length, chunk_type = struct.unpack_from("<II", data, 12)
        if chunk_type != JSON_CHUNK:
            raise InputError(path, "the GLB's first chunk is not JSON", where="byte 12")
        self.gltf: dict[str, Any] = json.loads(data[20 : 20 + chunk_length])
        self.bin = b""
        at = 20 + chunk_length
        if at + 8 <= length:
            bin_length, bin_type = struct.unpack_from("<II", data, at)
            if bin_type == BIN_CHUNK:
                self.bin = data[at + 8 : at + 8 + bin_length]
        required = set(self.gltf.get("extensionsRequired") or []) - HARMLESS
        if required:
            raise InputError(path, f"needs glTF extension(s) this reader does not support: {sorted(required)}")
        self._buffers: dict[int, bytes] = {}

    def buffer(self, index: int) -> bytes:
        if index not in self._buffers:
            spec = self.gltf["buffers"][index]
            uri = spec.get("uri")
            if uri is None:
                self._buffers[index] = self.bin
            elif uri.startswith("data:"):
                self._buffers[index] = base64.b64decode(uri.split(",", 1)[1])
            else:
                self._buffers[index] = (self.path.parent / uri).read_bytes()
        return self._buffers[index]

    def view(self, index: int) -> tuple[bytes, int, int, int | None]:
        spec = self.gltf["bufferViews"][index]
        return (
            self.buffer(int(spec["buffer"])),
            int(spec.get("byteOffset", 0)),
            int(spec["byteLength"]),
            spec.get("byteStride"),
        )

    def accessor(self, index: int) -> np.ndarray:
        spec = self.gltf["accessors"][index]
        if "sparse" in spec:
            raise InputError(self.path, "sparse accessors are not supported", where=f"accessors[{index}]")
        dtype = np.dtype(COMPONENTS[int(spec["componentType"])])
        width, count = WIDTH[spec["type"]], int(spec["count"])
        buffer, offset, _, stride = self.view(int(spec["bufferView"]))
        offset += int(spec.get("byteOffset", 0))
        item = dtype.itemsize * width
        if stride and stride != item:
            raw = np.frombuffer(buffer, dtype=np.uint8, count=stride * (count - 1) + item, offset=offset)
            rows = np.lib.stride_tricks.as_strided(raw, shape=(count, item), strides=(stride, 1))
            values = np.ascontiguousarray(rows).view(dtype).reshape(count, width)
        else:
            values = np.frombuffer(buffer, dtype=dtype, count=count * width, offset=offset).reshape(count, width)
        if spec.get("normalized") and dtype.kind in "iu":
            values = values.astype(np.float32) / float(np.iinfo(dtype).max)  # type: ignore[type-var]
        return values[:, 0] if width == 1 else values

    def read(self) -> list[TileContent]:
        meshes: dict[bool, list[_Primitive]] = {True: [], False: []}
        rows = self._asset_rows()
        for mesh_index, matrix in self._mesh_instances():
            for k, primitive in enumerate(self.gltf["meshes"][mesh_index].get("primitives", [])):
                mode = int(primitive.get("mode", TRIANGLES))
                if mode not in (TRIANGLES, POINTS):
                    continue  # lines, strips and fans: outlines and such, not drawn
                if "KHR_draco_mesh_compression" in (primitive.get("extensions") or {}):
                    raise InputError(self.path, "Draco-compressed geometry is not supported", where=f"mesh {k}")
                meshes[mode == POINTS].append(self._primitive(primitive, matrix))
        out = []
        for is_points, parts in meshes.items():
            if parts:
                out.append(_concat(parts, is_points, rows))
        return out

    def _mesh_instances(self) -> list[tuple[int, np.ndarray]]:
        """(mesh, its node's world matrix) for every node of the default scene (every mesh without nodes)."""
        nodes = self.gltf.get("nodes") or []
        if not nodes:
            return [(i, self.matrix) for i in range(len(self.gltf.get("meshes") or []))]
        scenes = self.gltf.get("scenes") or [{"nodes": list(range(len(nodes)))}]
        roots = scenes[int(self.gltf.get("scene", 0))].get("nodes", [])
        rtc = (self.gltf.get("extensions") or {}).get("CESIUM_RTC", {}).get("center")
        top = self.matrix
        if rtc is not None:
            shift = np.eye(4)
            shift[:3, 3] = rtc
            top = self.matrix @ np.linalg.inv(Y_UP_TO_Z_UP) @ shift @ Y_UP_TO_Z_UP
        found: list[tuple[int, np.ndarray]] = []
        stack = [(int(n), top) for n in roots]
        while stack:
            index, parent = stack.pop()
            node = nodes[index]
            matrix = parent @ _node_matrix(node)
            if "mesh" in node:
                found.append((int(node["mesh"]), matrix))
            stack.extend((int(c), matrix) for c in node.get("children", []))
        return found

    def _primitive(self, primitive: dict[str, Any], matrix: np.ndarray) -> _Primitive:
        attributes = primitive["attributes"]
        points = transform(self.accessor(int(attributes["POSITION"])), matrix)
        if "indices" in primitive:
            indices = self.accessor(int(primitive["indices"])).astype(np.int64)
        else:
            indices = np.arange(len(points), dtype=np.int64)
        if np.linalg.det(matrix[:3, :3]) < 0 and int(primitive.get("mode", TRIANGLES)) == TRIANGLES:
            # a mirroring node matrix reverses the winding (glTF 2.0, 3.7.4): put it back
            indices = indices[: len(indices) // 3 * 3].reshape(-1, 3)[:, ::-1].ravel()
        feature = self._feature_attribute(primitive)
        ids = (
            np.full(len(points), -1, dtype=np.int64)
            if feature is None
            else np.rint(self.accessor(int(attributes[feature]))).astype(np.int64)
        )
        return _Primitive(points, indices, ids, not self._double_sided(primitive))

    def _double_sided(self, primitive: dict[str, Any]) -> bool:
        """The primitive's material ``doubleSided`` (glTF's default material, and default, is single-sided)."""
        materials = self.gltf.get("materials") or []
        index = primitive.get("material")
        if index is None or not 0 <= int(index) < len(materials):
            return False
        return bool(materials[int(index)].get("doubleSided", False))

    @staticmethod
    def _feature_attribute(primitive: dict[str, Any]) -> str | None:
        attributes = primitive["attributes"]
        ids = (primitive.get("extensions") or {}).get("EXT_mesh_features", {}).get("featureIds") or []
        for spec in ids:
            if "attribute" in spec and f"_FEATURE_ID_{spec['attribute']}" in attributes:
                return f"_FEATURE_ID_{spec['attribute']}"
        for name in ("_FEATURE_ID_0", "_BATCHID", "BATCHID"):
            if name in attributes:
                return name
        return None

    def _asset_rows(self) -> np.ndarray | None:
        """The property table's ``asset_row`` column (the CIM Twin contract), if the file has one."""
        metadata = (self.gltf.get("extensions") or {}).get("EXT_structural_metadata") or {}
        tables = metadata.get("propertyTables") or []
        if not tables or "asset_row" not in (tables[0].get("properties") or {}):
            return None
        table = tables[0]
        schema = (metadata.get("schema") or {}).get("classes", {}).get(table.get("class"), {})
        kind = (schema.get("properties") or {}).get("asset_row", {}).get("componentType", "UINT32")
        buffer, offset, length, _ = self.view(int(table["properties"]["asset_row"]["values"]))
        dtype = np.dtype(SCALAR_TYPES[kind])
        return np.frombuffer(buffer, dtype=dtype, count=int(table["count"]), offset=offset).astype(np.int64)


def transform(xyz: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Points through a 4x4, as float32.

    Our tiles' matrix is glTF y-up to z-up, a signed axis permutation: columns are swapped and
    negated, no arithmetic in float64.  Any other goes through ``einsum``, not a BLAS ``matmul``:
    a threaded BLAS on an (n, 3) by (3, 3) product was 25x slower on a busy 2-core machine.
    """
    rot, shift = matrix[:3, :3], matrix[:3, 3]
    axes = np.rint(rot)
    if np.allclose(rot, axes, atol=1e-9) and np.array_equal(np.abs(axes).sum(axis=1), np.ones(3)):
        perm = np.abs(axes).argmax(axis=1)
        out: np.ndarray = xyz[:, perm].astype(np.float32) * axes[np.arange(3), perm].astype(np.float32)
        if np.abs(shift).max() > 1e-6:
            out = (out + shift).astype(np.float32)
        return out
    moved: np.ndarray = (np.einsum("ij,kj->ik", xyz.astype(np.float64), rot) + shift).astype(np.float32)
    return moved


def _node_matrix(node: dict[str, Any]) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], dtype=np.float64).reshape(4, 4).T
    matrix = np.eye(4)
    if "rotation" in node:
        x, y, z, w = (float(v) for v in node["rotation"])
        matrix[:3, :3] = [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    if "scale" in node:
        matrix[:3, :3] = matrix[:3, :3] * np.asarray(node["scale"], dtype=np.float64)
    if "translation" in node:
        matrix[:3, 3] = node["translation"]
    return matrix


@dataclass
class _Primitive:
    """One glTF primitive read: positions in the scene frame, indices, per-vertex feature ids."""

    points: np.ndarray
    indices: np.ndarray
    features: np.ndarray
    single_sided: bool


def _concat(parts: list[_Primitive], is_points: bool, rows: np.ndarray | None) -> TileContent:
    """Primitives of one kind into one content, their indices offset to the joined vertex list."""
    sizes = np.cumsum([0] + [len(p.points) for p in parts])
    points = np.concatenate([p.points for p in parts])
    features = np.concatenate([p.features for p in parts])
    if is_points:
        triangles = np.empty((0, 3), dtype=np.int64)
        used = np.unique(np.concatenate([p.indices + s for p, s in zip(parts, sizes)]))
        points, features = points[used], features[used]
    else:
        triangles = np.concatenate(
            [(p.indices + s)[: len(p.indices) // 3 * 3].reshape(-1, 3) for p, s in zip(parts, sizes)]
        )
    single = not is_points and all(p.single_sided for p in parts)
    return TileContent(points, triangles, features, is_points, rows, single_sided=single)
