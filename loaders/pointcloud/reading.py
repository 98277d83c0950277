"""How a point cloud is read: the header checked, the points (or a preview of them) read and
converted, the scene layer built.  :mod:`.loader` checks the options and calls :func:`read_cloud`.

Apart from the loader's entry point so that the registry, which imports every loader to learn
its suffixes, imports no laspy, pyproj or requests for a command that reads no cloud.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import laspy
import numpy as np

from loaders.pointcloud import cache
from loaders.pointcloud.build import class_assets, point_polydata
from loaders.pointcloud.columns import Columns, Layout, classes_of, in_box, near_origin, scaled_xyz
from loaders.pointcloud.copc import read_copc
from loaders.pointcloud.crs import declared_crs
from loaders.pointcloud.header import HeaderInfo, check_header
from loaders.pointcloud.laz import ChunkTable, check_chunk_table
from loaders.pointcloud.preview import Preview, las_preview, laz_preview, worthwhile
from loaders.pointcloud.read import add_records, fill_las, laspy_header, layout_of, record_chunks, record_dtype
from loaders.pointcloud.sample import StreamSampler, stratified_sample, trim
from twin.colours.point_classes import class_name
from twin.errors import InputError
from twin.layer import LayerPart, LayerStyle
from twin.source import LoadedSource

#: memory a full read takes per point (coordinates, colour, attributes), to decide when to stream
FULL_READ_BYTES_PER_POINT = 48
#: a cloud over budget that is not previewed (a box is asked for, or a LAZ has no chunk table)
#: and whose full read would take more memory than this is sampled while streaming, holding only
#: the kept points: it costs a second read of a LAS (cheap) but a second decode of a LAZ (not
#: cheap), hence the higher threshold for LAZ
STREAM_ABOVE_BYTES = {"las": 256 << 20, "laz": 2 << 30}


def read_cloud(
    path: Path,
    options: Mapping[str, Any],
    budget: int,
    box: np.ndarray | None,
    level: int | None,
    origin: np.ndarray | None,
) -> LoadedSource:
    """Read a point cloud (its options checked by the loader): every point checked and counted,
    at most ``budget`` of them shown."""
    info = check_header(path, partial=bool(options.get("partial", False)))
    header = laspy_header(path, info)
    crs, crs_name, crs_warnings = declared_crs(header)
    read = _read(path, info, header, budget, box, level, origin, options)
    columns = read.columns
    origin = columns.origin if columns.origin is not None else np.zeros(3)
    keep = read.keep
    if keep is None and columns.count > budget:  # every point read: thin them evenly in space
        local = None if read.bounds is None else read.bounds - np.repeat(origin, 2)
        keep = stratified_sample(columns.xyz[: columns.count], budget, local)
    if keep is not None:  # the sample is gathered anyway: group it by class, so the twin needs no sort
        keep = keep[np.argsort(columns.arrays["classification"][keep], kind="stable")]
    xyz, arrays = columns.finish(keep)
    warnings = [*info.warnings, *crs_warnings, *_trailing(info), *read.warnings]
    warnings += _header_bounds_warning(info, read.bounds, complete=read.points == info.point_count)
    if len(xyz) < info.point_count:
        warnings.insert(
            0,
            f"showing {len(xyz):,} of {info.point_count:,} points"
            + _why(len(xyz) < read.points, budget, box, read.details),
        )
    shown = read.class_counts if len(xyz) == read.points else np.bincount(arrays["classification"], minlength=256)
    assets, index = class_assets(_stem(path), read.class_counts, shown, arrays["classification"])
    details = {
        **read.details,
        **_details(info, header, read, len(xyz), budget, box, arrays),
        "crs": crs,
        "crs_name": crs_name,
    }
    # every point read is shown: the exact bounds measured while reading are the assets' bounds
    bounds = columns.class_bounds(np.flatnonzero(read.class_counts)) if keep is None else None
    part = LayerPart(
        name="points",
        dataset=point_polydata(xyz, arrays, index),
        assets=assets,
        asset_index=index,
        association="point",
        style=LayerStyle(rgb_array="rgb" if "rgb" in arrays else None),
        bounds=bounds,
        origin=origin,
    )
    return LoadedSource(path=path, kind="pointcloud", parts=[part], crs=crs, warnings=warnings, details=details)


@dataclass
class _Read:
    """The points read (all of them, or a sample) and what they tell."""

    columns: Columns
    points: int  # points in the file (or the box, or the COPC levels) the read saw
    class_counts: np.ndarray  # of those points, per class code
    bounds: np.ndarray | None  # exact world bounds of those points (None: none, or unknown)
    keep: np.ndarray | None = None  # the rows of ``columns`` shown, when a sample was drawn
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _read(
    path: Path,
    info: HeaderInfo,
    header: laspy.LasHeader,
    budget: int,
    box: np.ndarray | None,
    level: int | None,
    origin: np.ndarray | None,
    options: Mapping[str, Any],
) -> _Read:
    """Every point of the file (or of the box), a preview within the budget, or COPC levels, as
    float32 relative to ``origin`` (None, or far from the points: the first chunk chooses one)."""
    layout = layout_of(header)
    if info.compressed and not laspy.LazBackend.LazrsParallel.is_available():
        raise InputError(path, "LAZ-compressed, but no LAZ decoder is installed", hint="pip install lazrs")
    if info.is_copc and (info.point_count > budget or box is not None or level is not None):
        columns = Columns(layout, min(info.point_count, budget), origin)
        details = read_copc(path, columns, budget, level, box)
        return _Read(columns, columns.count, columns.class_counts, columns.bounds(), details=details)
    table, warnings = check_chunk_table(path, info) if info.compressed else (None, [])
    # a LAZ over the budget is previewed (decoding it is the cost); a LAS only when too big to hold
    if box is None and worthwhile(info, budget) and (table is not None or (not info.compressed and _streams(info))):
        sample, source = _preview(path, info, header, layout, table, budget, options)
        columns = Columns(
            layout, len(sample.records), origin if sample.bounds is None else near_origin(origin, sample.bounds)
        )
        add_records(columns, sample.records)
        details = {"preview": source}
        return _Read(columns, sample.points, sample.class_counts, sample.bounds, details=details, warnings=warnings)

    def chunks() -> Iterator[np.ndarray]:  # read once, or twice to stream
        return record_chunks(path, info, header)

    if info.point_count > budget and _streams(info):
        return _read_streaming(info, layout, chunks, budget, box, origin, warnings)
    # without a LAZ chunk table the count is unchecked: start small and let the arrays grow
    counted = table is not None or not info.compressed
    columns = Columns(layout, info.point_count if counted else min(info.point_count, info.file_size), origin, box)
    if not info.compressed and box is None:
        fill_las(path, info, header, columns)
    else:
        for chunk in chunks():
            columns.add(chunk)
    return _Read(columns, columns.count, columns.class_counts, columns.bounds(), warnings=warnings)


def _preview(
    path: Path,
    info: HeaderInfo,
    header: laspy.LasHeader,
    layout: Layout,
    table: ChunkTable | None,
    budget: int,
    options: Mapping[str, Any],
) -> tuple[Preview, str]:
    """The preview of a cloud over the budget and where it came from: ``"cache"``, or ``"file"``
    (made from the file, then kept in the cache)."""
    entry = cache.entry(path, budget, options)
    dtype = record_dtype(header, info.record_length)
    kept = None if entry is None or not entry.exists() else cache.read(entry, dtype)
    if kept is not None:
        return kept, "cache"
    made = (
        laz_preview(path, info, header, layout, table, budget)
        if table is not None
        else las_preview(path, info, header, layout, budget)
    )
    if entry is not None:
        cache.write(entry, made)
    return made, "file"


def _streams(info: HeaderInfo) -> bool:
    """Whether to sample while streaming rather than from every point in memory."""
    limit = STREAM_ABOVE_BYTES["laz" if info.compressed else "las"]
    return info.point_count * FULL_READ_BYTES_PER_POINT > limit


def _read_streaming(
    info: HeaderInfo,
    layout: Layout,
    chunks: Callable[[], Iterator[np.ndarray]],
    budget: int,
    box: np.ndarray | None,
    origin: np.ndarray | None,
    warnings: list[str],
) -> _Read:
    """Two passes: count points per voxel, then keep each point with its voxel's probability."""
    sampler = StreamSampler(
        _sample_bounds(info, box),
        budget,
        xyz_of=lambda rec: scaled_xyz(rec, layout),
        classes_of=lambda rec: classes_of(rec, layout),
        mask_of=None if box is None else lambda xyz: in_box(xyz, box),
    )
    points = sampler.count(chunks())
    columns = Columns(layout, min(points, budget + budget // 16 + 64), origin)
    for index, chunk in enumerate(chunks()):
        keep = sampler.draw(index, chunk)
        if keep.any():
            columns.add(chunk[keep])
    keep = trim(np.arange(columns.count), budget)
    return _Read(columns, points, sampler.class_counts, columns.bounds(), keep, warnings=warnings)


def _header_bounds_warning(info: HeaderInfo, measured: np.ndarray | None, complete: bool) -> list[str]:
    """A warning when the header's bounds disagree with the points' (by more than a scale step).

    ``complete``: every point was measured, so a header box wider than the points lies too.
    """
    if measured is None:
        return []
    header = _sample_bounds(info, None)
    step = np.repeat(np.abs(np.asarray(info.scales, dtype=np.float64)), 2)
    outside = np.r_[header[0::2] - measured[0::2], measured[1::2] - header[1::2]]
    off = np.abs(header - measured) if complete else np.maximum(outside, 0)
    with np.errstate(invalid="ignore"):
        worst = float(np.nanmax(np.where(np.isfinite(off), off, np.inf)))
    if worst <= float(step.max()):
        return []
    return [
        f"the header's bounds {_box_text(header)} disagree with the points' {_box_text(measured)} "
        f"(by up to {worst:,.3f} units): positions and bounds are taken from the points"
    ]


def _box_text(bounds: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in bounds) + "]"


def _sample_bounds(info: HeaderInfo, box: np.ndarray | None) -> np.ndarray:
    """Where the points lie, as the header says (within the box, if any): the streaming grid."""
    bounds = np.array([info.mins[0], info.maxs[0], info.mins[1], info.maxs[1], info.mins[2], info.maxs[2]])
    if box is not None:
        bounds[0::2], bounds[1::2] = np.maximum(bounds[0::2], box[0::2]), np.minimum(bounds[1::2], box[1::2])
    return bounds


def _stem(path: Path) -> str:
    """The file name without its point-cloud suffixes (``a.copc.laz`` -> ``a``)."""
    name = path.name
    for suffix in (".laz", ".las", ".copc"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _why(decimated: bool, budget: int, box: np.ndarray | None, details: dict[str, Any]) -> str:
    reasons = []
    if box is not None:
        reasons.append("inside the box")
    if "copc_level_read" in details:
        reasons.append(f"COPC levels 0-{details['copc_level_read']}")
    if decimated:
        reasons.append(f"decimated evenly in space to the point budget of {budget:,}")
    return f" ({', '.join(reasons)})" if reasons else ""


def _details(
    info: HeaderInfo,
    header: laspy.LasHeader,
    read: _Read,
    shown: int,
    budget: int,
    box: np.ndarray | None,
    arrays: dict[str, Any],
) -> dict[str, Any]:
    """The ``pointcloud`` block of ``twin info --json`` (like ``pdal info`` / ``lasinfo``)."""
    class_counts = read.class_counts
    codes = np.flatnonzero(class_counts)
    return {
        "points_total": info.point_count,
        "points_read": read.points,
        "points_shown": shown,
        "budget": budget,
        "version": info.version,
        "point_format": info.point_format,
        "compressed": info.compressed,
        "copc": info.is_copc,
        "record_length": info.record_length,
        "bounds": (_sample_bounds(info, None) if read.bounds is None else read.bounds).tolist(),
        "bounds_from": "header" if read.bounds is None else "points",
        "header_bounds": _sample_bounds(info, None).tolist(),
        "scales": list(info.scales),
        "offsets": list(info.offsets),
        "vlrs": [f"{v.user_id}/{v.record_id}" for v in info.vlrs],
        "evlrs": [f"{v.user_id}/{v.record_id}" for v in info.evlrs],
        "classes": {int(c): {"name": class_name(c), "count": int(class_counts[c])} for c in codes},
        "classes_counted": "all points" if read.points == info.point_count else "points read",
        "dimensions": sorted(arrays),
        "extra_bytes": [d.name for d in header.point_format.extra_dimensions],
        "box": None if box is None else box.tolist(),
    }


def _trailing(info: HeaderInfo) -> list[str]:
    if info.compressed or info.trailing_bytes < info.record_length:
        return []
    return [
        f"{info.trailing_bytes:,} bytes follow the last of the header's {info.point_count:,} points: "
        f"the header may under-count them"
    ]
