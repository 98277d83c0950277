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


def triangulate(points: np.ndarray, flat: np.ndarray, ring_len: np.ndarray,
                surface_rings: np.ndarray) -> Triangles:
    """Triangulate every surface; degenerate rings (fewer than 3 vertices) give nothing.

    Parameters
    ----------
    points
        ``(N, 3)`` float64 vertices that ``flat`` indexes.
    flat, ring_len, surface_rings
        The rings, flattened as the module docstring says.
    """
    flat = np.asarray(flat, dtype=np.int64)
    ring_len = np.asarray(ring_len, dtype=np.int64)
    surface_rings = np.asarray(surface_rings, dtype=np.int64)
    ring_surface = np.repeat(np.arange(len(surface_rings)), surface_rings)
    starts = ring_starts(ring_len)
    simple = np.repeat(surface_rings == 1, surface_rings) & (ring_len >= 3)
    convex = simple & (ring_len == 3)
    candidates = np.flatnonzero(simple & (ring_len > 3))
    if len(candidates):
        convex[candidates] = _convex(points, flat, starts[candidates], ring_len[candidates])
    fan = _fan(flat, starts[convex], ring_len[convex], ring_surface[convex])
    slow_surfaces = np.unique(ring_surface[~convex & (ring_len >= 3)])
    slow = _earcut_surfaces(points, flat, starts, ring_len, surface_rings, slow_surfaces)
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


def _earcut_surfaces(points: np.ndarray, flat: np.ndarray, starts: np.ndarray, ring_len: np.ndarray,
                     surface_rings: np.ndarray, surfaces: np.ndarray) -> Triangles:
    """Earcut, one concave or holed surface at a time, projected on its dominant plane."""
    first_ring = ring_starts(surface_rings)
    out_ids, out_surface = [], []
    for s in surfaces.tolist():
        rings = range(first_ring[s], first_ring[s] + surface_rings[s])
        lengths = [int(ring_len[r]) for r in rings if ring_len[r] >= 3]
        if not lengths:
            continue
        ids = np.concatenate([flat[starts[r]:starts[r] + ring_len[r]] for r in rings if ring_len[r] >= 3])
        xyz = points[ids] - points[ids[0]]
        outer = xyz[:lengths[0]]
        normal = np.cross(outer, np.roll(outer, -1, axis=0)).sum(axis=0)
        keep = [a for a in range(3) if a != int(np.argmax(np.abs(normal)))]
        local = mapbox_earcut.triangulate_float64(np.ascontiguousarray(xyz[:, keep]),
                                                  np.cumsum(lengths).astype(np.uint32))
        if len(local):
            out_ids.append(ids[np.asarray(local, dtype=np.int64)].reshape(-1, 3))
            out_surface.append(np.full(len(local) // 3, s, dtype=np.int64))
    if not out_ids:
        return Triangles(np.empty((0, 3), dtype=np.int64), np.empty(0, dtype=np.int64))
    return Triangles(np.concatenate(out_ids), np.concatenate(out_surface))
