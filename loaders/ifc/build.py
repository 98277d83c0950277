"""From the worker's arrays to layer parts: placement, colour, and the split into layers.

Everything here is numpy over whole arrays: each element's shape is gathered from the
unique shapes with index arithmetic and placed with one ``einsum``, never a loop per element.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyvista as pv

from loaders.ifc import palette
from loaders.ifc.georef import Georeference
from loaders.ifc.semantics import COLUMNS
from twin.assets import AssetTable
from twin.layer import LayerPart, LayerStyle

#: (part name, style) of the layers an IFC file becomes
PART_STYLES = {
    "elements": LayerStyle(rgb_array="rgb"),
    "glazing": LayerStyle(opacity=0.4, rgb_array="rgb"),
    "spaces": LayerStyle(opacity=0.25, visible=False, rgb_array="rgb"),
}


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for every pair, without a Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - offsets, counts) + np.arange(total)


@dataclass
class Elements:
    """The elements that got geometry, joined to their rows of identity and meaning."""

    arrays: dict[str, np.ndarray]
    index: np.ndarray  # rows of e_* arrays kept
    rows: np.ndarray  # matching rows of r_* arrays

    @classmethod
    def join(cls, arrays: dict[str, np.ndarray]) -> Elements:
        steps, known = arrays["e_step"], arrays["r_step"]
        pos = np.clip(np.searchsorted(known, steps), 0, max(len(known) - 1, 0))
        matched = (known[pos] == steps) if len(known) else np.zeros(len(steps), bool)
        return cls(arrays, np.flatnonzero(matched), pos[matched])

    def column(self, name: str) -> np.ndarray:
        result: np.ndarray = self.arrays[f"r_{name}"][self.rows]
        return result


def expand(arrays: dict[str, np.ndarray], elements: np.ndarray, georef: Georeference) -> Any:
    """World points, triangles, per-face RGBA and styled flags, per-face element, for ``elements``."""
    geom = arrays["e_geom"][elements]
    vstart, fstart = arrays["g_vstart"], arrays["g_fstart"]
    n_verts = vstart[geom + 1] - vstart[geom]
    n_faces = fstart[geom + 1] - fstart[geom]
    matrices = arrays["e_matrix"][elements]
    vertex_owner = np.repeat(np.arange(len(elements)), n_verts)
    local = arrays["g_verts"][ranges(vstart[geom], n_verts)]
    placed = np.einsum("nij,nj->ni", matrices[vertex_owner, :3, :3], local) + matrices[vertex_owner, :3, 3]
    face_rows = ranges(fstart[geom], n_faces)
    face_owner = np.repeat(np.arange(len(elements)), n_faces)
    first_vertex = np.cumsum(n_verts) - n_verts
    faces = arrays["g_faces"][face_rows].astype(np.int64) + first_vertex[face_owner, None]
    mirrored = np.linalg.det(matrices[:, :3, :3]) < 0
    if mirrored.any():  # a mirroring placement turns faces inside out: restore the winding
        flip = mirrored[face_owner]
        faces[flip] = faces[flip][:, ::-1]
    return georef.apply(placed), faces, arrays["g_rgba"][face_rows], arrays["g_styled"][face_rows], face_owner


def glass_share(arrays: dict[str, np.ndarray], elements: np.ndarray) -> np.ndarray:
    """Share of each element's faces that are styled as glass."""
    geom = arrays["e_geom"]
    glass = (arrays["g_styled"] & (arrays["g_rgba"][:, 3] < palette.GLASS_ALPHA)).astype(np.int64)
    per_geom_glass = (
        np.add.reduceat(np.r_[glass, 0], arrays["g_fstart"][:-1])
        if len(glass)
        else np.zeros(len(arrays["g_fstart"]) - 1)
    )
    counts = np.diff(arrays["g_fstart"])
    per_geom_glass = np.where(counts > 0, per_geom_glass, 0)
    share = per_geom_glass / np.maximum(counts, 1)
    result: np.ndarray = share[geom[elements]]
    return result


def part(name: str, joined: Elements, members: np.ndarray, georef: Georeference) -> LayerPart:
    """One layer part of the elements at positions ``members`` of ``joined``."""
    elements = joined.index[members]
    points, faces, rgba, styled, owner = expand(joined.arrays, elements, georef)
    classes = joined.column("ifc_class")[members]
    rgb = np.where(styled[:, None], rgba[:, :3], palette.class_colours(classes)[owner])
    mesh = pv.PolyData.from_regular_faces(points, faces) if len(faces) else pv.PolyData()
    mesh.cell_data["rgb"] = rgb.astype(np.uint8) if len(faces) else np.empty((0, 3), np.uint8)
    columns = {c: joined.column(c)[members] for c in COLUMNS}
    assets = AssetTable.build(
        columns["guid"],
        kind=classes,
        name=columns["name"],
        network=columns["network"],
        attrs={c: columns[c] for c in COLUMNS if c not in ("guid", "name", "network")},
    )
    return LayerPart(
        name=name, dataset=mesh, assets=assets, asset_index=owner.astype(np.int64), style=PART_STYLES[name]
    )


def parts(joined: Elements, georef: Georeference) -> list[LayerPart]:
    """The layers: opaque elements, translucent glazing, hidden spaces (empty ones left out)."""
    classes = joined.column("ifc_class")
    space = classes == "IfcSpace"
    glazing = ~space & palette.is_glazing(classes, glass_share(joined.arrays, joined.index))
    groups = {"elements": ~space & ~glazing, "glazing": glazing, "spaces": space}
    return [part(name, joined, np.flatnonzero(mask), georef) for name, mask in groups.items() if mask.any()]
