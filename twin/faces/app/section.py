"""The section tool drawn: the cutting plane as a translucent quad with an outline, and the cut
solids capped so a clipped building reads as solid, not as a hollow shell.

The clip itself stays on the GPU (mapper clipping planes, :class:`~twin.faces.app.client_views.ClientView`);
the caps are the cut outlines of the buildings' merged meshes (``vtkCutter``) filled as polygons
(``vtkContourTriangulator``), a few milliseconds a layer on the demo district (far cheaper than
``vtkClipClosedSurface`` over the whole mesh, which would also replace what the GPU clips).
They are kept by (dataset, plane), so a change of opacity or colouring does not cut again.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pyvista as pv
import vtk

from twin.faces.app.client_views import ClientView
from twin.layer import Layer

#: layer kinds whose meshes are closed solids worth capping (roads are slabs; terrain is open)
SOLID_KINDS = ("city", "ifc")
PLANE_COLOUR = "#90caf9"  # a pale glass blue: a warm tint would make the ground read as walls
OUTLINE_COLOUR = "#ffb300"  # the section button's amber
CAP_COLOUR = "#ff8a65"  # cut material, apart from every utility and overlay colour
PLANE_OPACITY = 0.12
#: caps sit this far (metres) on the kept side of the plane, so the clip never takes them too
CAP_OFFSET = 0.02
KEPT_CUTS = 32


class SectionDrawing:
    """Draws the section plane and the caps in every view after its settings apply (a pool hook)."""

    def __init__(self) -> None:
        self._actors: dict[int, list[pv.Actor]] = {}  # id(view) -> its section actors
        self._cuts: OrderedDict[tuple, pv.PolyData] = OrderedDict()

    def __call__(self, view: ClientView) -> None:
        for actor in self._actors.pop(id(view), []):
            view.plotter.remove_actor(actor, reset_camera=False, render=False)
        plane = view.section
        if plane is None:
            return
        origin, normal = np.array(plane.GetOrigin()), np.array(plane.GetNormal())
        solids = [  # translucent layers (underground mode) show their inside anyway: no caps
            layer
            for layer, actor in view.pickable()
            if layer.kind in SOLID_KINDS and layer.geometry == "mesh" and actor.GetProperty().GetOpacity() >= 0.5
        ]
        caps = [self.cap(layer, origin, normal) for layer in solids]
        caps = [cap for cap in caps if cap.n_cells]
        actors = [self._add(view, plane_quad(origin, normal, view.plotter.bounds), PLANE_COLOUR, PLANE_OPACITY)]
        actors.append(self._add(view, plane_outline(origin, normal, view.plotter.bounds), OUTLINE_COLOUR, 1.0, width=2))
        if caps:
            actors.append(self._add(view, pv.merge(caps), CAP_COLOUR, 1.0))
        self._actors[id(view)] = actors

    def cap(self, layer: Layer, origin: np.ndarray, normal: np.ndarray) -> pv.PolyData:
        """The filled cut of one layer's mesh by the plane, nudged to the kept side."""
        key = (id(layer.dataset), layer.dataset.GetMTime(), tuple(origin.round(4)), tuple(normal))
        if key in self._cuts:
            self._cuts.move_to_end(key)
            return self._cuts[key]
        cut = cap_polygons(layer.dataset, origin, normal)
        if cut.n_points:
            cut.points = np.asarray(cut.points) + normal * CAP_OFFSET
        self._cuts[key] = cut
        while len(self._cuts) > KEPT_CUTS:
            self._cuts.popitem(last=False)
        return cut

    @staticmethod
    def _add(view: ClientView, mesh: pv.PolyData, colour: str, opacity: float, width: float = 1.0) -> pv.Actor:
        actor = view.plotter.add_mesh(
            mesh,
            color=colour,
            opacity=opacity,
            line_width=width,
            pickable=False,
            reset_camera=False,
            show_scalar_bar=False,
            lighting=opacity >= 1.0,
            render=False,
        )
        actor.SetUseBounds(False)  # the clip's own bounds (ComputeVisiblePropBounds) leave it out
        return actor


def cap_polygons(dataset, origin: np.ndarray, normal: np.ndarray) -> pv.PolyData:
    """The cross-section of a closed mesh by a plane, as filled triangles (empty where it misses)."""
    plane = vtk.vtkPlane()
    plane.SetOrigin(*origin)
    plane.SetNormal(*normal)
    cutter = vtk.vtkCutter()
    cutter.SetCutFunction(plane)
    cutter.SetInputData(dataset)
    fill = vtk.vtkContourTriangulator()
    fill.SetInputConnection(cutter.GetOutputPort())
    fill.Update()
    return pv.wrap(fill.GetOutput())


def _corners(origin: np.ndarray, normal: np.ndarray, bounds) -> np.ndarray:
    """The four corners of an axis-aligned plane across the scene's extent on the other two axes."""
    axis = int(np.argmax(np.abs(normal)))
    others = [a for a in range(3) if a != axis]
    lo = np.array([bounds[2 * a] for a in others])
    hi = np.array([bounds[2 * a + 1] for a in others])
    corners = np.zeros((4, 3))
    corners[:, axis] = origin[axis]
    for i, (u, v) in enumerate(((0, 0), (1, 0), (1, 1), (0, 1))):
        corners[i, others[0]] = (lo[0], hi[0])[u]
        corners[i, others[1]] = (lo[1], hi[1])[v]
    return corners


def plane_quad(origin: np.ndarray, normal: np.ndarray, bounds) -> pv.PolyData:
    """The section plane as one quad over the scene."""
    return pv.PolyData(_corners(origin, normal, bounds), faces=[4, 0, 1, 2, 3])


def plane_outline(origin: np.ndarray, normal: np.ndarray, bounds) -> pv.PolyData:
    """The quad's edge as a closed line, so the plane reads even edge-on."""
    return pv.PolyData(_corners(origin, normal, bounds), lines=[5, 0, 1, 2, 3, 0])
