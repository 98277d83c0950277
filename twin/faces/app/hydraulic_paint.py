"""What an isolation means, drawn: the section cut off, the valves to close, and the area whose
pressure falls below the service pressure, coloured by how far.

The cut-off segments and the junctions and buildings short of pressure are one ``lost``
highlight (:meth:`ClientView.highlight`: one merged mesh per layer), recoloured by one array
write per mesh: each cell takes the colour of its asset's pressure deficit on a cyan-to-purple
ramp (:data:`RAMP`), the isolated section its own magenta.  The mappers show the array as direct
RGB, so vtk.js draws the same colours.  Selecting another asset, or none, clears the highlight
with the rest of the analysis.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyvista as pv

from twin.faces.app.client_views import ClientView

#: deficit ramp: just short of the service pressure (pale cyan) through violet to no pressure at
#: all (deep purple): hues none of the four risk colours (red, orange, yellow, blue) use, as both
#: may be drawn on the same buildings
RAMP = np.array([[128, 222, 234], [149, 117, 205], [106, 27, 154]], dtype=np.float64)
#: the isolated section (the highlight's own colour, see ``client_views.COLORS["lost"]``)
ISOLATED_RGB = np.array([255, 64, 255], dtype=np.uint8)
ARRAY = "deficit_rgb"


def ramp_rgb(fraction: np.ndarray) -> np.ndarray:
    """Colours of deficits as fractions of the service pressure (0 .. 1, clipped), uint8 (n, 3)."""
    t = np.clip(np.asarray(fraction, dtype=np.float64), 0.0, 1.0) * (len(RAMP) - 1)
    low = np.minimum(t.astype(np.int64), len(RAMP) - 2)
    w = (t - low)[:, None]
    rgb: np.ndarray = np.rint(RAMP[low] * (1 - w) + RAMP[low + 1] * w).astype(np.uint8)
    return rgb


def legend(service_m: float) -> dict:
    """The ramp for the inspector's legend: its CSS gradient and the deficits at its ends (m)."""
    stops = ", ".join(f"rgb({r:.0f},{g:.0f},{b:.0f})" for r, g, b in RAMP)
    return {"gradient": f"linear-gradient(to right, {stops})", "low_m": 0.0, "high_m": round(service_m, 2)}


def paint(view: ClientView, isolated: list[int], deficits: Mapping[int, float], service_m: float) -> int:
    """Highlight the isolated asset rows (magenta) and the rows short of pressure (``deficits``:
    asset row -> metres below the service pressure) on the ramp; returns the meshes drawn."""
    rows = np.array(sorted({*isolated, *deficits}), dtype=np.int64)
    count = view.highlight("lost", rows.tolist())
    if not count:
        return 0
    colours = np.tile(ISOLATED_RGB, (len(rows), 1))
    short = np.array([r in deficits for r in rows.tolist()], dtype=bool)
    if short.any():
        fraction = np.array([deficits[r] for r in rows[short].tolist()]) / max(service_m, 1e-9)
        colours[short] = ramp_rgb(fraction)
    for key, actor in view.overlays.items():
        if key.split(":")[0] != "lost":
            continue
        mapper = actor.GetMapper()
        mesh = pv.wrap(mapper.GetInput())  # the overlay's own mesh (add_mesh keeps the pyvista object)
        cells = np.asarray(mesh.cell_data["asset_index"], dtype=np.int64)
        at = np.clip(np.searchsorted(rows, cells), 0, len(rows) - 1)
        mesh.cell_data[ARRAY] = np.where((rows[at] == cells)[:, None], colours[at], ISOLATED_RGB).astype(np.uint8)
        mapper.SetScalarModeToUseCellFieldData()
        mapper.SelectColorArray(ARRAY)
        mapper.SetColorModeToDirectScalars()
        mapper.ScalarVisibilityOn()
    return count
