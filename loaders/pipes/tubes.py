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

from collections.abc import Mapping

import numpy as np
import pyvista as pv

SIDES = 8


def _row_norms(vectors: np.ndarray) -> np.ndarray:
    """Length of each row of an ``(n, 3)`` array, in one pass (``linalg.norm`` makes three)."""
    lengths: np.ndarray = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    return lengths


def vertex_tangents(points: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Unit tangent at every vertex: the mean direction of the edges meeting there.

    ``starts`` is a boolean mask of the first vertex of each polyline; edges that would join
    the last vertex of one polyline to the first of the next are ignored.
    """
    n = len(points)
    edges = np.diff(points, axis=0)  # edge i joins vertex i and i+1, of one polyline where ~starts[i+1]
    length = _row_norms(edges)
    edges *= np.divide(1.0, length, out=np.zeros_like(length), where=(length > 0) & ~starts[1:])[:, None]
    tangent = np.empty((n, 3))
    tangent[:1] = 0.0
    tangent[1:] = edges  # incoming edge
    tangent[:-1] += edges  # outgoing edge
    length = _row_norms(tangent)
    tangent /= np.where(length > 0, length, 1.0)[:, None]
    tangent[length == 0] = (1.0, 0.0, 0.0)
    return tangent


def ring_frames(tangent: np.ndarray, radius: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two vectors perpendicular to each unit tangent, horizontal first where possible, of
    length ``radius`` (one per tangent; 1 when None).

    ``u`` is ``tangent x z`` normalised and ``v = tangent x u``, written out in closed form
    (``h`` the tangent's horizontal length): ``u = (ty, -tx, 0) / h``, ``v = (tx tz / h,
    ty tz / h, -h)``.  Steep tangents (``|tz| > 0.99``) use ``tangent x x`` instead, so that no
    frame degenerates.
    """
    tx, ty, tz = tangent[:, 0], tangent[:, 1], tangent[:, 2]
    r = np.ones(len(tangent)) if radius is None else radius
    h = np.hypot(tx, ty)
    scale = np.divide(r, h, out=np.zeros_like(h), where=h > 0)  # h > 0.14 where the tangent is not steep
    u, v = np.empty_like(tangent), np.empty_like(tangent)
    np.multiply(ty, scale, out=u[:, 0])
    np.multiply(tx, -scale, out=u[:, 1])
    u[:, 2] = 0.0
    scale *= tz
    np.multiply(tx, scale, out=v[:, 0])
    np.multiply(ty, scale, out=v[:, 1])
    np.multiply(h, -r, out=v[:, 2])
    steep = np.flatnonzero(np.abs(tz) > 0.99)
    if len(steep):  # u = (0, tz, -ty) / g, v = (-g, tx ty / g, tx tz / g), g = hypot(ty, tz)
        sx, sy, sz, sr = tx[steep], ty[steep], tz[steep], r[steep]
        g = np.hypot(sy, sz)
        u[steep] = np.column_stack([np.zeros(len(steep)), sz * sr / g, -sy * sr / g])
        v[steep] = np.column_stack([-g * sr, sx * sy * sr / g, sx * sz * sr / g])
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
    u, v = ring_frames(vertex_tangents(points, starts), np.asarray(radius, dtype=np.float64)[owner])
    # ring point k of vertex p is cos(a_k) u_p + sin(a_k) v_p + p: one small matrix product per
    # vertex, written once (a broadcast sum makes three passes and two temporaries of the mesh's size)
    angle = np.linspace(0.0, 2 * np.pi, sides, endpoint=False)
    weights = np.column_stack([np.cos(angle), np.sin(angle), np.ones(sides)])
    rings = np.matmul(weights, np.stack([u, v, points], axis=1))
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


def glyph_mesh(shapes: Mapping[str, np.ndarray], base: np.ndarray, scale: np.ndarray) -> tuple[pv.PolyData, np.ndarray]:
    """One merged mesh of glyphs, and the glyph (row of ``base``) owning each cell.

    ``shapes[name]`` are the rows drawn with the template ``name`` (a key of :data:`SHAPES`),
    ``base[i]`` is glyph ``i``'s anchor point and ``scale[i]`` its ``(sx, sy, sz)`` scale; each
    template is instanced with one broadcast, in the order of :data:`SHAPES`.
    """
    groups = [(shapes[name], template, faces) for name, (template, faces) in SHAPES.items() if name in shapes]
    groups = [group for group in groups if len(group[0])]
    if not groups:
        return pv.PolyData(), np.empty(0, dtype=np.int64)
    # each template's instances are written straight into the merged arrays (no copies to join)
    points = np.empty((sum(len(rows) * len(template) for rows, template, _ in groups), 3))
    cells = np.empty((sum(len(rows) * len(faces) for rows, _, faces in groups), 3), dtype=np.int64)
    owner = np.empty(len(cells), dtype=np.int64)
    point, cell = 0, 0
    for rows, template, faces in groups:
        n_points, n_cells = len(rows) * len(template), len(rows) * len(faces)
        block = points[point : point + n_points].reshape(len(rows), len(template), 3)
        np.multiply(template[None, :, :], scale[rows][:, None, :], out=block)
        block += base[rows][:, None, :]
        first = point + np.arange(len(rows))[:, None, None] * len(template)
        np.add(faces[None, :, :], first, out=cells[cell : cell + n_cells].reshape(len(rows), len(faces), 3))
        owner[cell : cell + n_cells] = np.repeat(rows, len(faces))
        point, cell = point + n_points, cell + n_cells
    mesh = pv.PolyData.from_regular_faces(points, cells)  # type: ignore[arg-type]  # pyvista's stub wants dtype[int], any integer array works
    return mesh, owner
