"""Positions for the nodes a network file does not place.

A hydraulic model needs no drawing, so EPANET and SWMM files often leave a node (or every
node) out of ``[COORDINATES]``.  Such a node is placed where an engineer drawing it would put
it: each connected group of unplaced nodes is interpolated between the placed nodes it links
to (a harmonic layout: each unplaced node at the mean of its neighbours, one sparse solve);
a component with no placed node at all is laid out schematically, hop by hop from its first
node, beside the drawing.  Nodes that would coincide are fanned out so no link has length 0.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.sparse.linalg import spsolve

#: spacing of a schematic layout where the drawing gives no scale (m)
SPACING_M = 100.0


def fill_positions(xy: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``xy`` (n, 2, NaN where unplaced) with every node placed; ``start``/``end`` are the node
    rows of the links (-1 for an unknown node, which the build reports)."""
    n = len(xy)
    out = np.array(xy, dtype=np.float64)
    missing = np.asarray(~np.isfinite(out).all(axis=1), dtype=bool)
    if not missing.any():
        return out
    known = (start >= 0) & (end >= 0) & (start != end)
    a, b = start[known], end[known]
    adjacency = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)).tocsr()
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64)
    spacing = _spacing(out, a, b)
    _schematic(out, missing, adjacency, spacing)
    free = np.flatnonzero(missing & ~np.isfinite(out).all(axis=1))
    if len(free):
        fixed = np.flatnonzero(np.isfinite(out).all(axis=1))
        degree = np.asarray(adjacency.sum(axis=1)).ravel()
        laplacian = sparse.diags(degree) - adjacency
        system = laplacian[free][:, free].tocsc()
        rhs = adjacency[free][:, fixed] @ out[fixed]
        out[free] = np.column_stack([spsolve(system, rhs[:, k]) for k in range(2)]).reshape(-1, 2)
    return _fanned(out, missing, spacing)


def _spacing(xy: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """The drawing's typical link length (median of the placed links), else :data:`SPACING_M`."""
    drawn = np.linalg.norm(xy[a] - xy[b], axis=1)
    drawn = drawn[np.isfinite(drawn) & (drawn > 0)]
    return float(np.median(drawn)) if len(drawn) else SPACING_M


def _schematic(xy: np.ndarray, missing: np.ndarray, adjacency: sparse.csr_matrix, spacing: float) -> None:
    """Lay out in place each component with no placed node: columns by hops from its first
    node, components side by side to the right of the drawing."""
    count, label = csgraph.connected_components(adjacency, directed=False)
    placed_in = np.bincount(label[~missing], minlength=count) > 0
    blank = np.flatnonzero(~placed_in)
    if not len(blank):
        return
    rows = np.flatnonzero(np.isin(label, blank))
    roots = np.unique(label[rows], return_index=True)[1]
    hops = csgraph.dijkstra(adjacency, unweighted=True, indices=rows[roots], min_only=True)[rows]
    comp = np.searchsorted(blank, label[rows])
    width = np.zeros(len(blank))
    np.maximum.at(width, comp, hops)
    left = np.r_[0.0, np.cumsum(width + 2)[:-1]]
    column = left[comp] + hops
    order = np.lexsort((rows, column))  # rank within each column, in file order
    rank = np.empty(len(rows), dtype=np.int64)
    first = np.r_[True, column[order][1:] != column[order][:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
    rank[order] = np.arange(len(rows)) - start
    drawn = xy[~missing]
    x0 = float(drawn[:, 0].max()) + 2 * spacing if len(drawn) else 0.0
    y0 = float(drawn[:, 1].min()) if len(drawn) else 0.0
    xy[rows] = np.column_stack([x0 + column * spacing, y0 - rank * spacing])


def _fanned(xy: np.ndarray, missing: np.ndarray, spacing: float) -> np.ndarray:
    """Placed nodes that coincide with another node (a dead end off one placed node lands on
    it) moved apart along a diagonal by a fraction of the spacing, in file order."""
    key = np.round(xy / (spacing * 1e-3)).astype(np.int64)
    _, group, size = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    group = group.ravel()
    if size.max(initial=1) == 1:
        return xy
    order = np.lexsort((missing, group))  # the file's own node first in each group
    first = np.r_[True, group[order][1:] != group[order][:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(xy)), 0))
    rank = np.empty(len(xy), dtype=np.int64)
    rank[order] = np.arange(len(xy)) - start
    move = missing & (rank > 0)
    xy[move] += (rank[move] * spacing * 0.25)[:, None] * np.array([1.0, 1.0]) / np.sqrt(2)
    return xy
