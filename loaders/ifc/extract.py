"""Geometry out of ifcopenshell's iterator, as flat numpy arrays (runs in the worker process).

Shapes are asked for in object coordinates (``use-world-coords`` off) so a representation
used by many elements is triangulated and stored once; each element keeps its 4x4 placement
and the parent applies it in numpy.  Per face we keep the surface-style colour (RGBA) and
whether the face was styled at all, so the parent can fall back to a palette per class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: never assets: openings are voids in their host's geometry
ALWAYS_EXCLUDED = ("IfcOpeningElement",)
_LOG_ID = re.compile(r"#(\d+)\s*=")


@dataclass
class Geometry:
    """Unique shapes (concatenated) and the elements that place them."""

    verts: list[np.ndarray] = field(default_factory=list)
    faces: list[np.ndarray] = field(default_factory=list)
    rgba: list[np.ndarray] = field(default_factory=list)
    styled: list[np.ndarray] = field(default_factory=list)
    element_step: list[int] = field(default_factory=list)
    element_geom: list[int] = field(default_factory=list)
    element_matrix: list[tuple[Any, ...]] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)

    def add(self, shape: Any) -> None:
        if shape.id in self.seen:
            return  # an iterator over a list of products may yield one of them twice
        self.seen.add(shape.id)
        geometry = shape.geometry
        slot = self.index.get(geometry.id)
        if slot is None:
            slot = self.index[geometry.id] = len(self.verts)
            self.verts.append(np.frombuffer(geometry.verts_buffer, "d").reshape(-1, 3))
            self.faces.append(np.frombuffer(geometry.faces_buffer, "i").reshape(-1, 3))
            rgba, styled = _face_colours(geometry, len(self.faces[-1]))
            self.rgba.append(rgba)
            self.styled.append(styled)
        self.element_step.append(shape.id)
        self.element_geom.append(slot)
        self.element_matrix.append(tuple(shape.transformation.matrix))

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays for the npz file (``g_*`` per unique shape, ``e_*`` per element)."""

        def starts(chunks: list[np.ndarray]) -> np.ndarray:
            return np.concatenate([[0], np.cumsum([len(c) for c in chunks])]).astype(np.int64)

        def cat(chunks: list[np.ndarray], shape: tuple[int, ...], dtype: Any) -> np.ndarray:
            return np.concatenate(chunks).astype(dtype) if chunks else np.empty(shape, dtype)

        # ifcopenshell's matrix is column-major: reshape(4, 4) gives its transpose
        matrices = np.asarray(self.element_matrix, dtype=np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)
        return {
            "g_verts": cat(self.verts, (0, 3), np.float64),
            "g_vstart": starts(self.verts),
            "g_faces": cat(self.faces, (0, 3), np.int32),
            "g_fstart": starts(self.faces),
            "g_rgba": cat(self.rgba, (0, 4), np.uint8),
            "g_styled": cat(self.styled, (0,), bool),
            "e_step": np.asarray(self.element_step, dtype=np.int64),
            "e_geom": np.asarray(self.element_geom, dtype=np.int64),
            "e_matrix": matrices,
        }


def _face_colours(geometry: Any, n_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """RGBA per face from the shape's surface styles; unstyled faces are flagged, not coloured."""
    materials = geometry.materials
    ids = np.frombuffer(geometry.material_ids_buffer, "i")
    if not len(materials) or len(ids) != n_faces:
        return np.zeros((n_faces, 4), np.uint8), np.zeros(n_faces, bool)
    table = np.zeros((len(materials) + 1, 4), np.uint8)
    for i, material in enumerate(materials):
        colour = material.diffuse
        rgb = [colour.r(), colour.g(), colour.b()]
        transparency = material.transparency if material.has_transparency() else 0.0
        alpha = 1.0 - (0.0 if transparency != transparency else transparency)
        table[i] = np.clip(np.round(np.array([*rgb, alpha]) * 255), 0, 255)
    styled_table = np.r_[np.ones(len(materials), bool), False]
    ids = np.where((ids >= 0) & (ids < len(materials)), ids, len(materials))
    return table[ids], styled_table[ids]


def settings(options: dict[str, Any]) -> Any:
    """Iterator settings: object coordinates, no invented default colours, optional deflection."""
    import ifcopenshell.geom

    s = ifcopenshell.geom.settings()
    s.set("use-world-coords", False)
    s.set("apply-default-materials", False)
    if options.get("deflection"):
        s.set("mesher-linear-deflection", float(options["deflection"]))
    return s


def iterate(
    model: Any, options: dict[str, Any], include: list[Any] | None, threads: int, geometry: Geometry | None = None
) -> tuple[Geometry, dict[int, str]]:
    """Run the iterator over ``include`` (entity instances) or every product but the excluded.

    Returns the geometry (``geometry`` with these shapes added, when given) and, per step id,
    the last message the kernel logged about it.
    """
    import ifcopenshell
    import ifcopenshell.geom

    geometry = Geometry() if geometry is None else geometry
    if include is not None and not include:
        return geometry, {}
    exclude = list(ALWAYS_EXCLUDED) + ([] if options.get("spaces", True) else ["IfcSpace"])
    if include is not None:
        iterator = ifcopenshell.geom.iterator(settings(options), model, threads, include=include)
    else:
        iterator = ifcopenshell.geom.iterator(settings(options), model, threads, exclude=exclude)
    if iterator.initialize():
        while True:
            geometry.add(iterator.get())
            if not iterator.next():
                break
    return geometry, _log_messages(ifcopenshell.get_log())


def _log_messages(log: str) -> dict[int, str]:
    """The kernel's warnings and errors, keyed by the step id of the entity each one names.

    An entry reads ``[warning] [GEO031] [time] {GlobalId} message:`` with the entity on the
    next line (``#69=IfcActuator(...)``).
    """
    messages: dict[int, str] = {}
    for entry in re.split(r"\n(?=\[\w+\])", log or ""):
        match = _LOG_ID.search(entry)
        if not match or entry.startswith(("[notice]", "[debug]")):
            continue
        first = entry.strip().splitlines()[0]
        text = re.sub(r"^(\[[^]]*\]\s*)+(\{[^}]*\}\s*)?", "", first).rstrip(": ")
        messages[int(match.group(1))] = text[:300]
    return messages
