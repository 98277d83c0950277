"""Triangulate many 3D polygons (with holes) at once, shared by the city model loaders.

City models hold hundreds of thousands of small planar polygons.  Most are triangles, quads or
other convex rings: those are fanned in numpy in one go.  Only concave rings and rings with
holes go, one surface at a time, through earcut (``mapbox_earcut``, the C++ earcut of the
Mapbox renderers) after projecting them onto their dominant plane.

Polygons come flattened: ``flat`` holds the vertex ids of every ring one after another,
``ring_len`` the length of each ring and ``surface_rings`` how many rings each surface has
(its first ring is the outer boundary, the others are holes).
"""

from __future__ import annotations

from dataclasses import dataclass

import mapbox_earcut
import numpy as np


@dataclass
class Triangles:
    """Triangles as vertex ids ``(T, 3)`` and the surface each came from ``(T,)``."""

    ids: np.ndarray
    surface: np.ndarray


def ring_starts(ring_len: np.ndarray) -> np.ndarray:
    """Offset of each ring's first entry in the flat id array."""
    starts = np.zeros(len(ring_len), dtype=np.int64)
    np.cumsum(ring_len[:-1], out=starts[1:])
    return starts


def triangulate(points: np.ndarray, flat: np.ndarray, ring_len: np.ndarray, surface_rings: np.ndarray) -> Triangles:
    """Triangulate every surface; degenerate rings (fewer than 3 vertices) are dropped first.

    Parameters
    ----------
    points
        ``(N, 3)`` float64 vertices that ``flat`` indexes.
    flat, ring_len, surface_rings
        The rings, flattened as the module docstring says.
    """
    flat = np.asarray(flat, dtype=np.int64)
    ring_len = np.asarray(ring_len, dtype=np.int64)
    ring_surface = np.repeat(np.arange(len(surface_rings)), surface_rings)
    if (ring_len < 3).any():
        keep = ring_len >= 3
        flat = flat[np.repeat(keep, ring_len)]
        ring_len, ring_surface = ring_len[keep], ring_surface[keep]
    surface_rings = np.bincount(ring_surface, minlength=len(surface_rings))
    starts = ring_starts(ring_len)
    convex = np.repeat(surface_rings == 1, surface_rings) & (ring_len == 3)
    candidates = np.flatnonzero(np.repeat(surface_rings == 1, surface_rings) & (ring_len > 3))
    if len(candidates):
        convex[candidates] = _convex(points, flat, starts[candidates], ring_len[candidates])
    fan = _fan(flat, starts[convex], ring_len[convex], ring_surface[convex])
    slow = _earcut_surfaces(points, flat, ring_len, surface_rings, np.unique(ring_surface[~convex]))
    return Triangles(np.concatenate([fan.ids, slow.ids]), np.concatenate([fan.surface, slow.surface]))


def _ring_entries(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions of the entries of the given rings, and each entry's ring (0..len(starts))."""
    ring = np.repeat(np.arange(len(starts)), lengths)
    first = np.repeat(starts, lengths)
    local = np.arange(len(ring)) - np.repeat(ring_starts(lengths), lengths)
    return first + local, ring


def _convex(points: np.ndarray, flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """True for rings whose every turn goes the way of the ring's Newell normal."""
    pos, ring = _ring_entries(starts, lengths)
    local = pos - np.repeat(starts, lengths)
    nxt = np.repeat(starts, lengths) + (local + 1) % np.repeat(lengths, lengths)
    prv = np.repeat(starts, lengths) + (local - 1) % np.repeat(lengths, lengths)
    origin = points[flat[np.repeat(starts, lengths)]]  # relative coordinates keep precision
    here, after, before = (points[flat[p]] - origin for p in (pos, nxt, prv))
    group = ring_starts(lengths)
    normal = np.add.reduceat(np.cross(here, after), group, axis=0)
    turn = np.cross(here - before, after - here)
    along = np.einsum("ij,ij->i", turn, normal[ring])
    limit = 1e-6 * np.linalg.norm(turn, axis=1) * np.linalg.norm(normal, axis=1)[ring]
    return np.minimum.reduceat(along + limit, group) >= 0


def _fan(flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray, surface: np.ndarray) -> Triangles:
    """Fan triangles ``(v0, vi, vi+1)`` of convex rings, all at once."""
    per_ring = lengths - 2
    ring = np.repeat(np.arange(len(starts)), per_ring)
    i = np.arange(len(ring)) - np.repeat(ring_starts(per_ring), per_ring) + 1
    first = starts[ring]
    ids = np.column_stack([flat[first], flat[first + i], flat[first + i + 1]])
    return Triangles(ids.reshape(-1, 3), surface[ring])


def _earcut_surfaces(
    points: np.ndarray, flat: np.ndarray, ring_len: np.ndarray, surface_rings: np.ndarray, surfaces: np.ndarray
) -> Triangles:
    """Earcut the given (concave or holed) surfaces, each projected on its dominant plane.

    The projection is vectorised over all of them; only the earcut call runs once per surface.
    """
    empty = Triangles(np.empty((0, 3), dtype=np.int64), np.empty(0, dtype=np.int64))
    if not len(surfaces):
        return empty
    first_ring = ring_starts(surface_rings)
    entry_start = np.r_[0, np.cumsum(ring_len)]
    lo = entry_start[first_ring[surfaces]]
    hi = entry_start[first_ring[surfaces] + surface_rings[surfaces]]
    outer_len = ring_len[first_ring[surfaces]]
    pos, owner = _ring_entries(lo, hi - lo)
    xyz = points[flat[pos]] - points[flat[lo]][owner]
    outer = np.flatnonzero(pos - lo[owner] < outer_len[owner])
    nxt = outer + 1 - np.where(pos[outer] + 1 == lo[owner[outer]] + outer_len[owner[outer]], outer_len[owner[outer]], 0)
    normal = np.add.reduceat(np.cross(xyz[outer], xyz[nxt]), ring_starts(outer_len), axis=0)
    drop = np.argmax(np.abs(normal), axis=1)
    keep = np.array([[1, 2], [0, 2], [0, 1]])[drop][owner]
    xy = np.ascontiguousarray(np.take_along_axis(xyz, keep, axis=1))
    local_start = ring_starts(hi - lo)
    # every ring's end, counted from its surface's first entry, as earcut wants them
    ends = (entry_start[1:] - np.repeat(entry_start[first_ring], surface_rings)).astype(np.uint32)
    results = [
        mapbox_earcut.triangulate_float64(xy[a:b], ends[r : r + n])
        for a, b, r, n in zip(
            local_start.tolist(),
            (local_start + hi - lo).tolist(),
            first_ring[surfaces].tolist(),
            surface_rings[surfaces].tolist(),
        )
    ]
    counts = np.fromiter(map(len, results), dtype=np.int64, count=len(results))
    if not counts.sum():
        return empty
    out_ids = np.concatenate(results).astype(np.int64) + np.repeat(local_start, counts)
    out_surface = np.repeat(surfaces, counts // 3)
    return Triangles(flat[pos[out_ids]].reshape(-1, 3), out_surface)
