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
``cache``, ``cache_dir``
    Keep previews (a cloud over the budget) for the next load of the same file (default on;
    see :mod:`.cache`).
``origin``
    The scene origin ``[x, y, z]`` (the twin passes it once fixed, unless the manifest places
    the source): coordinates are read straight into float32 relative to it.  Without it, or
    when the cloud's first points lie more than ``NEAR_ORIGIN_M`` from it, the loader chooses
    one near those points; the layer part carries the origin used.

Positions and bounds come from the points read (integer coordinates x scale + offset, exact in
float64), never from the header's bounds, which some writers get wrong: a warning says so when
they disagree.  A LAZ over the budget (and a LAS too big to hold in memory) is previewed at a
cost that follows the budget (:mod:`.preview`): a LAZ from the first points of each compressed
chunk, a LAS voxelised from its integer coordinates with only the kept points converted; the
preview is kept for the next load (:mod:`.cache`).  The reading itself is :mod:`.reading`,
imported only when a cloud is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from twin.errors import InputError
from twin.source import LoadedSource

#: points shown with server-side rendering (llvmpipe draws ~1.5 M points/s: ~0.1 s a frame)
BUDGET_SERVER = 150_000
#: points shown with client-side (browser, WebGL) rendering
BUDGET_CLIENT = 3_000_000
BUDGETS = {"server": BUDGET_SERVER, "client": BUDGET_CLIENT}


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    """Read a point cloud: every point checked and counted, at most ``budget`` of them shown."""
    from loaders.pointcloud.reading import read_cloud  # laspy and its kin: only to read a cloud

    path = Path(path)
    budget, box, level = _budget(path, options), _box(path, options.get("box")), _level(path, options)
    return read_cloud(path, options, budget, box, level, _origin(path, options.get("origin")))


def _origin(path: Path, value: Any) -> np.ndarray | None:
    """The scene's origin, if given: the cloud is read relative to it when its points lie near it."""
    if value is None:
        return None
    given = np.asarray(value, dtype=np.float64).ravel()
    if given.shape != (3,) or not np.isfinite(given).all():
        raise InputError(path, f"option origin={value!r} must be three finite numbers [x, y, z]")
    return given


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
