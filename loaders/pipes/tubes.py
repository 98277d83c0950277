"""Merged pipe geometry built in numpy: tubes around polylines, and glyphs for nodes.

A city network has 100,000 segments; a VTK tube filter per segment (or even one over all of
them) costs far more than the arrays themselves.  Here every polyline vertex gets a ring of
``sides`` points in one broadcast, and the quads between consecutive rings of the same
polyline are indexed directly.  The points are stored ring after ring, so the centre line of
any segment can be recovered from the mesh (mean of each ring) after the twin has placed,
reprojected and shifted it -- the analyses rely on this (field data ``tube_sides`` and
``ring_owner``).
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

SIDES = 8


def _unit(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors and their original lengths; zero vectors stay zero."""
    length = np.linalg.norm(vectors, axis=1)
    safe = np.where(length > 0, length, 1.0)
    return vectors / safe[:, None], length


def vertex_tangents(points: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Unit tangent at every vertex: the mean direction of the edges meeting there.

    ``starts`` is a boolean mask of the first vertex of each polyline; edges that would join
    the last vertex of one polyline to the first of the next are ignored.
    """
    n = len(points)
    edges, _ = _unit(np.diff(points, axis=0))
    inner = ~starts[1:]  # edge i joins vertex i and i+1 of the same polyline
    edges = edges * inner[:, None]
    tangent = np.zeros((n, 3))
    tangent[1:] += edges  # incoming edge
    tangent[:-1] += edges  # outgoing edge
    tangent, length = _unit(tangent)
    tangent[length == 0] = (1.0, 0.0, 0.0)
    return tangent


def ring_frames(tangent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to each tangent (horizontal first where possible)."""
    reference = np.zeros_like(tangent)
    steep = np.abs(tangent[:, 2]) > 0.99
    reference[~steep, 2] = 1.0
    reference[steep, 0] = 1.0
    u, _ = _unit(np.cross(tangent, reference))
    v = np.cross(tangent, u)
    return u, v


def tube_arrays(
    points: np.ndarray, offsets: np.ndarray, radius: np.ndarray, sides: int = SIDES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ring points, quad connectivity and the polyline owning each quad.

    Parameters
    ----------
    points
        All polyline vertices, concatenated, shape ``(P, 3)``.
    offsets
        ``S + 1`` indices into ``points``: polyline ``s`` is ``points[offsets[s]:offsets[s+1]]``
        (at least two vertices each).
    radius
        One radius per polyline, shape ``(S,)``.
    """
    points = np.asarray(points, dtype=np.float64)
    counts = np.diff(offsets)
    owner = np.repeat(np.arange(len(counts)), counts)  # polyline of each vertex
    starts = np.zeros(len(points), dtype=bool)
    starts[offsets[:-1]] = True
    u, v = ring_frames(vertex_tangents(points, starts))
    angle = np.linspace(0.0, 2 * np.pi, sides, endpoint=False)
    r = np.asarray(radius, dtype=np.float64)[owner][:, None]
    u *= r
    v *= r
    rings = np.multiply(np.cos(angle)[None, :, None], u[:, None, :])  # in place from here: few passes
    rings += np.sin(angle)[None, :, None] * v[:, None, :]
    rings += points[:, None, :]
    edge = np.flatnonzero(~starts[1:])  # vertex i -> i+1 inside one polyline
    k = np.arange(sides)
    pattern = np.stack([k, (k + 1) % sides, sides + (k + 1) % sides, sides + k], axis=-1)  # one ring's quads
    quads = (edge * sides)[:, None, None] + pattern[None]
    return rings.reshape(-1, 3), quads.reshape(-1, 4), np.repeat(owner[edge], sides)


def tube_mesh(
    points: np.ndarray, offsets: np.ndarray, radius: np.ndarray, sides: int = SIDES
) -> tuple[pv.PolyData, np.ndarray]:
    """One merged tube mesh for every polyline, and the polyline of each cell."""
    ring_points, quads, cell_owner = tube_arrays(points, offsets, radius, sides)
    mesh = pv.PolyData.from_regular_faces(ring_points, quads)
    mesh.field_data["tube_sides"] = np.array([sides])
    mesh.field_data["ring_owner"] = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return mesh, cell_owner


# -- glyphs ------------------------------------------------------------------------------


def _cylinder(sides: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Unit cylinder: radius 1, z from 0 to 1, closed by two fans."""
    a = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = np.column_stack([np.cos(a), np.sin(a), np.zeros(sides)])
    points = np.vstack([ring, ring + (0, 0, 1), [(0, 0, 0), (0, 0, 1)]])
    k, k1 = np.arange(sides), (np.arange(sides) + 1) % sides
    wall = np.concatenate([np.column_stack([k, k1, k1 + sides]), np.column_stack([k, k1 + sides, k + sides])])
    bottom = np.column_stack([np.full(sides, 2 * sides), k1, k])
    top = np.column_stack([np.full(sides, 2 * sides + 1), k + sides, k1 + sides])
    return points, np.vstack([wall, bottom, top])


def _octahedron() -> tuple[np.ndarray, np.ndarray]:
    """Unit octahedron centred on the origin (a junction)."""
    points = np.array([(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)], dtype=float)
    faces = np.array([(0, 2, 4), (2, 1, 4), (1, 3, 4), (3, 0, 4), (2, 0, 5), (1, 2, 5), (3, 1, 5), (0, 3, 5)])
    return points, faces


def _cube() -> tuple[np.ndarray, np.ndarray]:
    """Unit cube centred on the origin, side 2 (a valve)."""
    points = np.array([(x, y, z) for z in (-1, 1) for y in (-1, 1) for x in (-1, 1)], dtype=float)
    faces = np.array(
        [
            (0, 2, 3),
            (0, 3, 1),
            (4, 5, 7),
            (4, 7, 6),
            (0, 1, 5),
            (0, 5, 4),
            (2, 6, 7),
            (2, 7, 3),
            (0, 4, 6),
            (0, 6, 2),
            (1, 3, 7),
            (1, 7, 5),
        ]
    )
    return points, faces


#: glyph shape of each node kind: upright cylinders stand on their base point
SHAPES = {"cylinder": _cylinder(), "octahedron": _octahedron(), "cube": _cube()}


def glyph_mesh(shape: np.ndarray, base: np.ndarray, scale: np.ndarray) -> tuple[pv.PolyData, np.ndarray]:
    """One merged mesh of glyphs, and the glyph (row of ``base``) owning each cell.

    ``shape[i]`` names the template (a key of :data:`SHAPES`), ``base[i]`` its anchor point and
    ``scale[i]`` its ``(sx, sy, sz)`` scale; each template is instanced with one broadcast.
    """
    all_points, all_faces, owners, first = [], [], [], 0
    for name, (template, faces) in SHAPES.items():
        rows = np.flatnonzero(shape == name)
        if not len(rows):
            continue
        pts = template[None, :, :] * scale[rows][:, None, :] + base[rows][:, None, :]
        all_points.append(pts.reshape(-1, 3))
        offset = first + np.arange(len(rows))[:, None, None] * len(template)
        all_faces.append((faces[None, :, :] + offset).reshape(-1, 3))
        owners.append(np.repeat(rows, len(faces)))
        first += len(rows) * len(template)
    if not all_points:
        return pv.PolyData(), np.empty(0, dtype=np.int64)
    mesh = pv.PolyData.from_regular_faces(np.vstack(all_points), np.vstack(all_faces))  # type: ignore[arg-type]  # pyvista's stub wants dtype[int], any integer array works
    return mesh, np.concatenate(owners)
