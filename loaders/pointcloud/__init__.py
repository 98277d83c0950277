"""LAS/LAZ/COPC point clouds: every point accounted for, fast, and within a point budget.

``load(path, options)`` is the registry entry (see :mod:`loaders.pointcloud.loader`).
"""

from loaders.pointcloud.loader import BUDGET_CLIENT, BUDGET_SERVER, load

__all__ = ["BUDGET_CLIENT", "BUDGET_SERVER", "load"]
