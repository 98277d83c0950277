"""The two kinds of task a Dask worker runs: cut a source into pieces, write tiles from pieces.

Tasks take file paths and small specs and write their results to disk (Dask's advice for big
data: no large arrays travel through the scheduler).  A source is loaded through the project's
own loading (the registry finds its loader; IFC geometry runs in the loader's own worker
processes).  A task never raises for a bad source or tile: it returns the error, so the build
reports it with the source and goes on with the rest.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from twin.errors import TwinError
from twin.geo import Placement
from twin.loading import load_manifest
from twin.manifest import Manifest, SourceEntry
from twin.replace import Claim, hide_claimed, model_footprint
from twin.scene import Twin
from twin.tiling.frame import LocalFrame
from twin.tiling.glb import Features, write_glb
from twin.tiling.grid import TileGrid, node_uri
from twin.tiling.index import asset_fragment, write_table
from twin.tiling.pieces import Piece, cut
from twin.tiling.state import atomic_write, digest

log = logging.getLogger(__name__)
#: the risk levels a feature carries (the four-colour scale, codes as baked by ``twin tile --risk-from``)
RISK_LEVELS = ("none", "blue", "yellow", "orange", "red")
#: and their grades as the field writes them (red I major ... blue IV low)
RISK_GRADES = ("", "IV", "III", "II", "I")


@dataclass(frozen=True)
class SourceJob:
    """One source (or one spatial chunk of a point cloud) to load and cut."""

    name: str
    path: str
    kind: str | None
    crs: str | None
    placement: tuple[tuple[float, float, float], float, float]  # offset, rotation, scale
    options: dict[str, Any]
    scene_crs: str
    origin: tuple[float, float, float]
    palette: str
    tile_size: float
    work: str  # the folder this job's pieces and fragment go to
    hash: str
    chunk: str = ""  # "" for a whole source, else the chunk's name
    replaced: tuple[Claim, ...] = ()  # a city source's: what the scene's IFC models replace of it

    def entry(self) -> SourceEntry:
        offset, rotation, scale = self.placement
        return SourceEntry(
            path=Path(self.path),
            kind=self.kind,
            name=self.name,
            crs=self.crs,
            placement=Placement(offset=offset, rotation_deg=rotation, scale=scale),
            options=dict(self.options),
        )


@dataclass(frozen=True)
class TileJob:
    """One GLB to write from the pieces of a node and layer (several for a cloud cut in chunks)."""

    uri: str
    parts: tuple[tuple[str, int | tuple[int, ...]], ...]  # piece file, and an offset added to its
    # source-local rows or one index row per local row
    hash: str
    out: str
    source: str
    layer: str
    family: str
    renamed: tuple[int, ...] = ()  # index rows whose id the index qualifies as "<source>/<id>"
    single_sided: bool = False  # every part a closed outward solid: the material is not doubleSided
    risk_file: str = ""  # the source's risk codes by index row - risk_offset (RISK_LEVELS); "" for none
    risk_offset: int = 0


@dataclass
class SourceResult:
    """What cutting a source gave: its pieces, assets and layers, or why it failed."""

    name: str
    chunk: str
    hash: str
    status: str  # "ok", "reused" (an earlier run's pieces) or "failed"
    error: str = ""
    assets: int = 0
    top: int = 0
    layers: list[dict[str, str]] = field(default_factory=list)
    pieces: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    work: str = ""
    footprint: list[float] | None = None  # an IFC building's x-y box: the city buildings it replaces


def cut_source(job: SourceJob) -> SourceResult:
    """Load one source in the scene's frame and write its pieces and asset fragment to ``job.work``."""
    work = Path(job.work)
    meta_path = work / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("hash") == job.hash:
            return SourceResult(**{**meta, "status": "reused", "work": job.work})
    except (OSError, ValueError, TypeError):
        pass
    try:
        twin = _load(job)
        result = _write_pieces(job, twin, work)
    except TwinError as exc:
        return SourceResult(job.name, job.chunk, job.hash, "failed", error=str(exc))
    except Exception as exc:  # a loader or tiler bug must not take the other sources down
        log.exception("tiling failed on %s", job.path)
        return SourceResult(job.name, job.chunk, job.hash, "failed", error=f"{job.path}: internal error: {exc!r}")
    atomic_write(meta_path, json.dumps(result.__dict__).encode("utf-8"))
    return result


def probe_source(job: SourceJob) -> dict[str, Any]:
    """A source's CRS, chosen origin and loader details from a minimal load (budget 1 for clouds)."""
    twin = _load(job)
    record = twin.sources[0]
    return {
        "crs": twin.crs,
        "origin": None if twin.origin is None else twin.origin.tolist(),
        "details": record.details,
    }


def _load(job: SourceJob) -> Twin:
    manifest = Manifest(
        path=Path(job.path),
        name=job.name,
        sources=[job.entry()],
        crs=job.scene_crs or None,
        origin=job.origin if job.scene_crs else None,
        palette=job.palette,
    )
    twin = load_manifest(manifest)
    error = twin.sources[0].error if twin.sources else "nothing loaded"
    if error:
        raise TwinError(error)
    if job.replaced:  # cut alone, the city learns from the plan what the IFC models replace
        hide_claimed(twin, job.replaced)
    return twin


def _write_pieces(job: SourceJob, twin: Twin, work: Path) -> SourceResult:
    assert twin.crs is not None and twin.origin is not None
    frame = LocalFrame(twin.crs, (float(twin.origin[0]), float(twin.origin[1]), float(twin.origin[2])))
    pieces, homes, top = cut(twin, frame, TileGrid(job.tile_size))
    layers = [
        {"name": layer.name, "kind": layer.kind, "network": _network(twin, layer.asset_start, layer.asset_stop)}
        for layer in twin.layers
    ]
    layer_of = twin.assets["layer"]
    tiles = np.array(
        [node_uri(homes[i], str(layer_of[i])) if i in homes else "" for i in range(len(twin.assets))], dtype=object
    )
    write_table(asset_fragment(twin.assets, tiles), work / "assets.parquet")
    records = [_save_piece(piece, twin, work) for piece in pieces]
    return SourceResult(
        job.name,
        job.chunk,
        job.hash,
        "ok",
        assets=len(twin.assets),
        top=top,
        layers=layers,
        pieces=records,
        warnings=list(twin.warnings) + [w for s in twin.sources for w in s.warnings],
        work=job.work,
        footprint=_footprint(twin),
    )


def _footprint(twin: Twin) -> list[float] | None:
    record = twin.sources[0]
    box = model_footprint(twin, record.layers) if record.kind == "ifc" else None
    return None if box is None else [float(v) for v in box]


def _network(twin: Twin, start: int, stop: int) -> str:
    networks = {str(v) for v in twin.assets["network"][start:stop]} - {""}
    return networks.pop() if len(networks) == 1 else ""


def _save_piece(piece: Piece, twin: Twin, work: Path) -> dict[str, Any]:
    """The piece as a compressed .npz (geometry and its features' text); its record for the driver."""
    level, i, j = piece.key
    path = work / f"{level}_{i}_{j}_{digest(piece.layer)[:12]}.npz"
    rows = piece.rows.astype(np.int64)
    text = {name: _encode(twin.assets[name][rows]) for name in ("id", "kind", "name")}
    arrays: dict[str, Any] = {
        "positions": piece.positions,
        "features": piece.features,
        "rows": piece.rows,
        "colours": piece.colours,
    }
    for name, (blob, offsets) in text.items():
        arrays[f"{name}_utf8"], arrays[f"{name}_offsets"] = blob, offsets
    temporary = path.with_name(f".{path.name}.tmp.npz")
    np.savez(temporary, **arrays)
    data = temporary.read_bytes()
    temporary.replace(path)
    return {
        "key": list(piece.key),
        "layer": piece.layer,
        "family": piece.family,
        "file": str(path),
        "hash": digest(data),
        "bounds": enu_bounds(piece.positions),
        "features": len(piece.rows),
        "elements": len(piece.positions) // (3 if piece.family == "mesh" else 1),
        "single_sided": piece.single_sided,
    }


def enu_bounds(gltf: np.ndarray) -> list[float]:
    """``[emin, nmin, umin, emax, nmax, umax]`` of glTF positions, where ``(x, y, z) = (e, u, -n)``."""
    low, high = gltf.min(axis=0).astype(np.float64), gltf.max(axis=0).astype(np.float64)
    return [float(v) for v in (low[0], -high[2], low[1], high[0], -low[2], high[1])]


def _encode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    encoded = [str(v).encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.uint32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _decode(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    data = blob.tobytes()
    return [data[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def write_tiles(jobs: list[TileJob]) -> list[dict[str, Any]]:
    """Write a batch of GLBs; each result says ``ok`` or ``failed`` with the reason."""
    return [_write_tile(job) for job in jobs]


def _write_tile(job: TileJob) -> dict[str, Any]:
    entry = {"uri": job.uri, "hash": job.hash, "source": job.source, "layer": job.layer}
    try:
        positions, colours, features, table = _gather(job)
        mode = "points" if job.family == "points" else "triangles"
        data = write_glb(positions, colours, features, table, mode, double_sided=not job.single_sided)
        atomic_write(Path(job.out) / job.uri, data)
    except Exception as exc:  # reported with its tile and source; the other tiles go on
        log.exception("tile %s failed", job.uri)
        return {**entry, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    return {**entry, "status": "ok", "bytes": len(data)}


def _gather(job: TileJob) -> tuple[np.ndarray, np.ndarray, np.ndarray, Features]:
    """A tile's pieces joined: vertices, colours, feature ids and one property table row per asset."""
    positions: list[np.ndarray] = []
    colours: list[np.ndarray] = []
    features: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    text: dict[str, list[str]] = {"id": [], "kind": [], "name": []}
    base = 0  # features of a later piece count on from the earlier pieces' rows
    for file, mapping in job.parts:
        with np.load(file) as piece:
            local = piece["rows"].astype(np.int64)
            features.append(piece["features"].astype(np.int64) + base)
            base += len(local)
            rows.append(local + mapping if isinstance(mapping, int) else np.asarray(mapping, dtype=np.int64)[local])
            positions.append(piece["positions"])
            colours.append(piece["colours"])
            for name, values in text.items():
                values += _decode(piece[f"{name}_utf8"], piece[f"{name}_offsets"])
    unique, first, inverse = np.unique(np.concatenate(rows), return_index=True, return_inverse=True)
    ids = [text["id"][i] for i in first]
    for k in np.flatnonzero(np.isin(unique, job.renamed)):
        ids[k] = f"{job.source}/{ids[k]}"
    table = Features(
        asset_row=unique.astype(np.uint32),
        id=ids,
        kind=[text["kind"][i] for i in first],
        name=[text["name"][i] for i in first],
        **_risk(job, unique),
    )
    return np.concatenate(positions), np.concatenate(colours), inverse[np.concatenate(features)], table


def _risk(job: TileJob, rows: np.ndarray) -> dict[str, list[str]]:
    """The features' ``risk_level`` and ``risk_grade`` columns (the four-colour scale's name and grade)."""
    if not job.risk_file:
        return {"risk_level": ["none"] * len(rows), "risk_grade": [""] * len(rows)}
    codes = np.load(job.risk_file, mmap_mode="r", allow_pickle=False)[rows - job.risk_offset].tolist()
    return {"risk_level": [RISK_LEVELS[c] for c in codes], "risk_grade": [RISK_GRADES[c] for c in codes]}
