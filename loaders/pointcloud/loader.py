"""``load``: a LAS/LAZ/COPC file into one point layer, its classes as assets, within a budget.

Options (all optional; unknown keys are ignored):

``budget``
    Most points shown; a larger cloud is decimated evenly in space and ``twin info`` says
    "showing N of M points".  Default: ``BUDGET_CLIENT``, or ``BUDGET_SERVER`` with
    ``render="server"``.
``render``
    ``"client"`` (browser rendering, millions of points) or ``"server"`` (remote rendering).
``box``
    ``[xmin, xmax, ymin, ymax, zmin, zmax]`` (or the first four) in world coordinates: load only
    this region, at full density up to the budget.
``level``
    COPC only: the deepest octree level to read (default: the deepest that fits the budget).
``partial``
    Load the complete points of a truncated LAS instead of failing (with a warning).
``origin``
    The scene origin ``[x, y, z]`` (the twin passes it once fixed, unless the manifest places
    the source): coordinates are read straight into float32 relative to it.  Without it, or
    when the cloud lies more than ``NEAR_ORIGIN_M`` from it, the loader chooses one from the
    header's bounds, as the twin would; the layer part carries the origin used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import laspy
import numpy as np

from loaders.pointcloud.build import class_assets, point_polydata
from loaders.pointcloud.columns import Columns, Layout, classes_of, in_box, scaled_xyz
from loaders.pointcloud.copc import read_copc
from loaders.pointcloud.crs import declared_crs
from loaders.pointcloud.header import HeaderInfo, check_header
from loaders.pointcloud.laz import check_chunk_table
from loaders.pointcloud.read import laspy_header, layout_of, record_chunks
from loaders.pointcloud.sample import StreamSampler, stratified_sample, trim
from twin.colours.point_classes import class_name
from twin.errors import InputError
from twin.geo import choose_origin
from twin.layer import LayerPart, LayerStyle
from twin.registry import LoaderSpec
from twin.source import LoadedSource

#: points shown with server-side rendering (llvmpipe draws ~1.5 M points/s: ~0.1 s a frame)
BUDGET_SERVER = 150_000
#: points shown with client-side (browser, WebGL) rendering
BUDGET_CLIENT = 3_000_000
BUDGETS = {"server": BUDGET_SERVER, "client": BUDGET_CLIENT}
#: farthest (in CRS units) a cloud's header bounds may lie from the scene origin for the cloud to
#: be read relative to it: float32 there still resolves a millimetre (2**14 m)
NEAR_ORIGIN_M = 16_384.0
#: memory a full read takes per point (coordinates, colour, attributes), to decide when to stream
FULL_READ_BYTES_PER_POINT = 48
#: a cloud over budget whose full read would take more memory than this is sampled while
#: streaming, holding only the kept points: it costs a second read of a LAS (cheap) but a
#: second decode of a LAZ (not cheap), hence the higher threshold for LAZ
STREAM_ABOVE_BYTES = {"las": 256 << 20, "laz": 2 << 30}


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    """Read a point cloud: every point checked and counted, at most ``budget`` of them shown."""
    path = Path(path)
    budget, box, level = _budget(path, options), _box(path, options.get("box")), _level(path, options)
    info = check_header(path, partial=bool(options.get("partial", False)))
    header = laspy_header(path, info)
    crs, crs_name, crs_warnings = declared_crs(header)
    read = _read(path, info, header, budget, box, level, _origin(path, options.get("origin"), info))
    columns = read.columns
    origin = columns.origin if columns.origin is not None else np.zeros(3)
    keep = (
        trim(np.arange(columns.count), budget)
        if read.sampled
        else stratified_sample(columns.xyz[: columns.count], budget, _sample_bounds(info, box) - np.repeat(origin, 2))
    )
    if keep is not None:  # the sample is gathered anyway: group it by class, so the twin needs no sort
        keep = keep[np.argsort(columns.arrays["classification"][keep], kind="stable")]
    xyz, arrays = columns.finish(keep)
    warnings = [*info.warnings, *crs_warnings, *_trailing(info), *read.warnings]
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
    # every point read is shown: the bounds measured while reading are the assets' bounds
    bounds = columns.class_bounds(np.flatnonzero(read.class_counts)) if keep is None and not read.sampled else None
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
    """The points read (all of them, or a sample drawn while streaming) and what they tell."""

    columns: Columns
    points: int  # points in the file (or the box, or the COPC levels) that were read
    class_counts: np.ndarray  # of those points, per class code
    sampled: bool = False  # columns already hold a sample drawn while streaming
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
) -> _Read:
    """Every point of the file (or of the box), a streamed sample of them, or COPC levels, as
    float32 relative to ``origin`` (None: the first chunk chooses one)."""
    layout = layout_of(header)
    if info.compressed and not laspy.LazBackend.LazrsParallel.is_available():
        raise InputError(path, "LAZ-compressed, but no LAZ decoder is installed", hint="pip install lazrs")
    if info.is_copc and (info.point_count > budget or box is not None or level is not None):
        columns = Columns(layout, min(info.point_count, budget), origin)
        details = read_copc(path, columns, budget, level, box)
        return _Read(columns, columns.count, columns.class_counts, details=details)
    counted, warnings = check_chunk_table(path, info) if info.compressed else (True, [])

    def chunks() -> Iterator[np.ndarray]:  # read once, or twice to stream
        return record_chunks(path, info, header)

    if info.point_count > budget and _streams(info):
        return _read_streaming(info, layout, chunks, budget, box, origin, warnings)
    # without a LAZ chunk table the count is unchecked: start small and let the arrays grow
    columns = Columns(layout, info.point_count if counted else min(info.point_count, info.file_size), origin, box)
    for chunk in chunks():
        columns.add(chunk)
    return _Read(columns, columns.count, columns.class_counts, warnings=warnings)


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
    return _Read(columns, points, sampler.class_counts, sampled=True, warnings=warnings)


def _origin(path: Path, value: Any, info: HeaderInfo) -> np.ndarray | None:
    """The scene's origin if given and near the cloud, else the twin's choice over the header's bounds.

    None when the header's bounds cannot be trusted (not finite, inverted, or all zero as some
    writers leave them): the first chunk of points then chooses.  A scene origin far from the
    header's bounds (a cloud in another CRS, to be reprojected) would cost float32 precision:
    the cloud then gets its own origin and the twin shifts it.
    """
    given = None
    if value is not None:
        given = np.asarray(value, dtype=np.float64).ravel()
        if given.shape != (3,) or not np.isfinite(given).all():
            raise InputError(path, f"option origin={value!r} must be three finite numbers [x, y, z]")
    bounds = _sample_bounds(info, None)
    if not np.isfinite(bounds).all() or (bounds[1::2] < bounds[0::2]).any() or not bounds.any():
        return given
    if given is not None and np.abs(bounds - np.repeat(given, 2)).max() <= NEAR_ORIGIN_M:
        return given
    return choose_origin(bounds)


def _sample_bounds(info: HeaderInfo, box: np.ndarray | None) -> np.ndarray:
    """Where the points lie, as the header says (within the box, if any): the decimation grid."""
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
        "bounds": [info.mins[0], info.maxs[0], info.mins[1], info.maxs[1], info.mins[2], info.maxs[2]],
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


def _budget(path: Path, options: Mapping[str, Any]) -> int:
    render = options.get("render", "client")
    if render not in BUDGETS:
        raise InputError(path, f"option render={render!r} is not one of {', '.join(BUDGETS)}")
    budget = options.get("budget", BUDGETS[render])
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget < 1:
        raise InputError(path, f"option budget={budget!r} must be a positive number of points")
    return int(budget)


def _box(path: Path, value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    try:
        box = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        box = np.empty(0)
    if len(box) == 4:
        box = np.concatenate([box, [-np.inf, np.inf]])
    if len(box) != 6 or np.isnan(box).any() or (box[1::2] < box[0::2]).any():
        raise InputError(
            path,
            f"option box={value!r} must be [xmin, xmax, ymin, ymax, zmin, zmax] "
            f"(or the first four) with each min <= max",
        )
    return box


def _level(path: Path, options: Mapping[str, Any]) -> int | None:
    level = options.get("level")
    if level is None:
        return None
    if isinstance(level, bool) or not isinstance(level, int) or level < 0:
        raise InputError(path, f"option level={level!r} must be a COPC octree level (0, 1, 2, ...)")
    return level


def sniff(head: bytes) -> bool:
    """LAS and LAZ files open with the signature LASF."""
    return b"LASF" in head


LOADER = LoaderSpec(
    "pointcloud",
    "las",
    (".las", ".laz"),
    load,
    sniff,
    options={"budget": int, "box": (list, str), "level": int, "render": str, "partial": bool},
)
