"""One render window per browser over shared layer data: the per-client half of the 3D view.

Every browser gets a :class:`ClientView` (its own plotter, actors, camera, clip plane and
highlight overlays) while the layer datasets themselves are shared, so a second browser costs
actors and a render window, not a copy of the city (:mod:`twin.faces.app.pool` hands them out).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

import numpy as np
import pyvista as pv
import vtk

from twin.colours.point_classes import class_mask
from twin.errors import TwinError
from twin.faces.app import bearings, picking
from twin.faces.app.view_colours import DEPTH_RANGE, depth_lut, ensure_depth_array, point_colours
from twin.faces.rendering import SceneView, set_standard_view
from twin.scene import Twin

#: layer kinds drawn translucent or hidden in underground mode (everything but the pipes)
ABOVE_GROUND = ("city", "ifc", "terrain", "pointcloud")
UNDERGROUND_OPACITY = 0.12
COLORS = {
    "selection": "#00e5ff",
    "valves": "#76ff03",
    "lost": "#ff40ff",
    "nearby": "#b388ff",
    "measure": "#ffeb3b",
    "hover": "#fff59d",
    "routes": "#00e676",  # an incident's resource routes (twin.faces.app.incident_routes)
    "resources": "#ff80ab",  # ... and the resources at their start
}
#: a selected pipe is drawn white: cyan is too close to the water supply's sky-blue
PIPE_SELECTION = "#ffffff"
AXES = {"x": 0, "y": 1, "z": 2}


def default_config(twin: Twin) -> dict:
    """The view settings a browser starts with (kept in the browser, sent with every change)."""
    return {
        "visible": [layer.name for layer in twin.layers if layer.style.visible],
        "opacity": {layer.name: layer.style.opacity for layer in twin.layers},
        "underground": "off",
        "exaggeration": 1.0,
        "depth_colours": False,
        "point_mode": {},
        "hidden_classes": {},
        "clip": {"on": False, "axis": "z", "at": 0.5, "flip": False},
        "risk": {"on": False, "min": 0},
    }


def _inflated(mesh: pv.PolyData) -> pv.PolyData:
    """The overlay grown about its centre by a hair, so it wins the depth test against the asset's
    own faces in vtk.js too (which ignores VTK's coincident-topology offsets)."""
    if not mesh.n_points:
        return mesh
    lo, hi = np.array(mesh.bounds[0::2]), np.array(mesh.bounds[1::2])
    size = float(np.linalg.norm(hi - lo)) or 1.0
    grown = mesh.copy()
    centre = (lo + hi) / 2
    grown.points = centre + (np.asarray(mesh.points, dtype=np.float64) - centre) * (1 + max(0.004, 0.06 / size))
    return grown


class ClientView:
    """A browser's own view of the twin: plotter, overlays, clip plane, last frame time."""

    def __init__(self, twin: Twin, scene: SceneView) -> None:
        self.twin, self.scene = twin, scene
        self.config = default_config(twin)
        self.overlays: dict[str, pv.Actor] = {}
        self.hooks: list[Callable[[ClientView], None]] = []  # run after apply (the risk colouring)
        self.shown_points: dict[str, np.ndarray] = {}  # per point layer: what its class filter shows
        self._point_state: dict[str, tuple] = {}
        self.frame_ms = 0.0
        self.client_side = False  # drawn by vtk.js in the browser (its scene goes with each reply)
        self.frames: deque[tuple[float, float]] = deque(maxlen=240)  # (end time, ms) of recent renders
        self.last_used = time.monotonic()
        self._plane: vtk.vtkPlane | None = None
        self._started = 0.0
        # the camera a fresh view starts with: a recycled view goes back to exactly this (framing
        # again would fit the last browser's window shape, and two new browsers would differ)
        self.home = vtk.vtkCamera()
        self.home.DeepCopy(scene.plotter.camera)
        window = self.window
        window.AddObserver("StartEvent", lambda *_: setattr(self, "_started", time.perf_counter()))
        window.AddObserver("EndEvent", lambda *_: self._ended())

    def _ended(self) -> None:
        now = time.perf_counter()
        self.frame_ms = (now - self._started) * 1000
        self.frames.append((now, self.frame_ms))

    def frame_stats(self, seconds: float = 5.0) -> dict:
        """Renders in the last ``seconds``: how many and their median time (the status line, the bench)."""
        now = time.perf_counter()
        recent = [ms for end, ms in self.frames if now - end <= seconds]
        return {
            "frame_ms": round(self.frame_ms, 1),
            "renders": len(recent),
            "median_ms": round(float(np.median(recent)), 1) if recent else None,
        }

    @property
    def plotter(self) -> pv.Plotter:
        return self.scene.plotter

    @property
    def window(self) -> vtk.vtkRenderWindow:
        """The view's render window (pyvista drops it when a plotter closes; a pooled view never does)."""
        window = self.plotter.ren_win
        if window is None:
            raise TwinError("this view's render window is closed")
        return window

    # -- settings -------------------------------------------------------------------------
    def apply(self, config: dict) -> None:
        """Make the view match the browser's settings: visibility, opacity, underground, clip."""
        self.config = {**default_config(self.twin), **(config or {})}
        shown = set(self.config["visible"])
        mode = self.config["underground"]
        transform = self._exaggeration(float(self.config.get("exaggeration") or 1.0))
        for layer in self.twin.layers:
            actor = self.scene.actors[layer.name]
            opacity = float(self.config["opacity"].get(layer.name, layer.style.opacity))
            visible = layer.name in shown
            if mode != "off" and layer.kind in ABOVE_GROUND:
                visible = visible and mode == "translucent"
                opacity = min(opacity, UNDERGROUND_OPACITY)
            actor.SetVisibility(visible)
            actor.GetProperty().SetOpacity(opacity)
            actor.SetUserTransform(transform if layer.kind == "pipes" else None)
            if layer.kind == "pipes":
                depth = bool(self.config.get("depth_colours")) and mode != "off"
                self._depth_colours(layer, actor, depth)
                # outlines are drawn in one colour: by depth they would hide the ramp on thin pipes
                self._emphasise(actor, mode != "off" and not depth)
            if layer.geometry == "points":
                self._points(
                    layer,
                    actor,
                    self.config["point_mode"].get(layer.name),
                    self.config["hidden_classes"].get(layer.name) or [],
                )
        self._clip(self.config["clip"])
        for hook in self.hooks:
            hook(self)

    @staticmethod
    def _emphasise(actor, on: bool) -> None:
        """Outline pipes with screen-space lines so a thin pipe stays visible from afar."""
        prop = actor.GetProperty()
        prop.SetEdgeVisibility(on)
        prop.SetEdgeColor(prop.GetColor())
        prop.SetLineWidth(2.5 if on else 1.0)

    def _points(self, layer, actor, mode: str | None, hidden: list[int]) -> None:
        """Colour a point layer by ``mode`` and hide its ``hidden`` classes, for this view only."""
        state = (mode, tuple(sorted(int(c) for c in hidden)))
        if self._point_state.get(layer.name, (None, ())) == state:
            return
        self._point_state[layer.name] = state
        colours = point_colours(layer, mode) if mode else layer.style.rgb_array
        dataset = layer.dataset
        self.shown_points.pop(layer.name, None)
        if state[1] and "classification" in dataset.point_data.keys():
            mask = class_mask(dataset.point_data["classification"], state[1])
            self.shown_points[layer.name] = mask
            dataset = pv.PolyData(np.asarray(layer.dataset.points)[mask])
            if colours:
                dataset.point_data[colours] = np.asarray(layer.dataset.point_data[colours])[mask]
        mapper = actor.GetMapper()
        mapper.SetInputData(dataset)
        if colours:
            mapper.SetScalarModeToUsePointFieldData()
            mapper.SelectColorArray(colours)
            mapper.SetColorModeToDirectScalars()
            mapper.ScalarVisibilityOn()

    def _depth_colours(self, layer, actor, on: bool) -> None:
        """Colour a pipe layer by depth of cover (underground mode) or by its utility colour."""
        mapper = actor.GetMapper()
        if on and ensure_depth_array(self.twin, layer):
            mapper.SetScalarModeToUseCellFieldData()
            mapper.SelectColorArray("depth_m")
            mapper.SetLookupTable(depth_lut())
            mapper.SetScalarRange(*DEPTH_RANGE)
            mapper.SetUseLookupTableScalarRange(True)
            mapper.ScalarVisibilityOn()
        else:
            mapper.ScalarVisibilityOff()

    def _exaggeration(self, factor: float) -> vtk.vtkTransform | None:
        """Stretch depth below the top of the pipes by ``factor`` (1 = true depth)."""
        if factor == 1.0:
            return None
        tops = [layer.dataset.bounds[5] for layer in self.twin.layers if layer.kind == "pipes"]
        top = max(tops) if tops else 0.0
        transform = vtk.vtkTransform()
        transform.Translate(0, 0, top)
        transform.Scale(1, 1, factor)
        transform.Translate(0, 0, -top)
        return transform

    def _clip(self, clip: dict) -> None:
        self._plane = None
        if clip.get("on"):
            axis = AXES[clip.get("axis", "z")]
            bounds = self.plotter.renderer.ComputeVisiblePropBounds()  # what is shown, not hidden layers
            lo, hi = bounds[2 * axis], bounds[2 * axis + 1]
            if not np.isfinite([lo, hi]).all():
                lo, hi = -1.0, 1.0
            origin = [0.0, 0.0, 0.0]
            origin[axis] = lo + (hi - lo) * float(clip.get("at", 0.5))
            normal = [0.0, 0.0, 0.0]
            normal[axis] = 1.0 if clip.get("flip") else -1.0
            self._plane = vtk.vtkPlane()
            self._plane.SetOrigin(origin)
            self._plane.SetNormal(normal)
        for actor in [*self.scene.actors.values(), *self.overlays.values()]:
            mapper = actor.GetMapper()
            mapper.RemoveAllClippingPlanes()
            if self._plane is not None:
                mapper.AddClippingPlane(self._plane)

    @property
    def section(self) -> vtk.vtkPlane | None:
        """The section's clip plane (``None`` while the section is off), for drawing it (:mod:`~.section`)."""
        return self._plane

    def keeps(self, points: np.ndarray) -> np.ndarray:
        """Which scene points the clip plane leaves visible."""
        if self._plane is None:
            return np.ones(len(points), dtype=bool)
        origin, normal = np.array(self._plane.GetOrigin()), np.array(self._plane.GetNormal())
        return (points - origin) @ normal >= 0

    def pickable(self) -> list[tuple]:
        """(layer, actor) of every visible layer, for picking."""
        return [
            (layer, self.scene.actors[layer.name])
            for layer in self.twin.layers
            if self.scene.actors[layer.name].GetVisibility()
        ]

    # -- overlays ---------------------------------------------------------------------------
    def highlight(self, name: str, rows: Iterable[int]) -> int:
        """Draw the given asset rows over their layers in the overlay colour ``name``; 0 rows clears it."""
        rows = np.unique(np.asarray(list(rows), dtype=np.int64))
        pieces = []
        for layer in self.twin.layers:
            inside = rows[(rows >= layer.asset_start) & (rows < layer.asset_stop)]
            if not len(inside) or layer.geometry == "points":
                continue
            cells = np.flatnonzero(np.isin(layer.asset_index, inside))
            if len(cells):
                surface = layer.dataset.extract_cells(cells).extract_surface(algorithm=None)  # type: ignore[arg-type]
                pieces.append((layer, _inflated(surface)))
        self.clear(name)
        for i, (layer, mesh) in enumerate(pieces):
            colour = PIPE_SELECTION if name == "selection" and layer.kind == "pipes" else None
            self._overlay(f"{name}:{i}", mesh, self.scene.actors[layer.name], line_width=6, colour=colour)
        return len(pieces)

    def markers(self, name: str, local_points: np.ndarray, radius: float) -> None:
        """Spheres at points (valves to close, measured points), sized in scene metres."""
        self.clear(name)
        if len(local_points):
            glyphs = pv.PolyData(np.asarray(local_points, dtype=np.float32)).glyph(
                geom=pv.Sphere(radius=radius, theta_resolution=12, phi_resolution=12), scale=False, orient=False
            )
            self._overlay(f"{name}:0", glyphs, None)

    def polylines(self, name: str, mesh: pv.PolyData) -> None:
        """Lines over the scene (one mesh, however many polylines it holds); an empty mesh clears them."""
        self.clear(name)
        if mesh.n_points:
            self._overlay(f"{name}:0", mesh, None, line_width=5)

    def line(self, name: str, local_points: np.ndarray) -> None:
        """A straight line between two points (the measured distance), drawn over the scene."""
        self._overlay(f"{name}:line", pv.Line(local_points[0], local_points[1]), None, line_width=3)

    def label(self, name: str, words: str, at: np.ndarray, height: float) -> None:
        """Text standing in the scene at ``at``, ``height`` metres tall, facing the camera as it is
        now: geometry (``vtkVectorText``), so vtk.js draws it too (it has no 3D text actors)."""
        source = vtk.vtkVectorText()
        source.SetText(words)
        source.Update()
        text = pv.wrap(source.GetOutput())
        if not text.n_points:
            return
        cam = self.plotter.camera
        screen = bearings.basis(cam.position, cam.focal_point, cam.up)
        flat = np.asarray(text.points, dtype=np.float64)
        flat[:, 0] -= (flat[:, 0].min() + flat[:, 0].max()) / 2  # centred over the point, just above it
        flat[:, 1] += 0.6
        text.points = np.asarray(at, dtype=np.float64) + height * (
            np.outer(flat[:, 0], screen.right) + np.outer(flat[:, 1], screen.up)
        )
        self._overlay(f"{name}:label", text, None)

    def _overlay(self, key: str, mesh: pv.PolyData, under, line_width: float = 2, colour: str | None = None) -> None:
        colour = colour or COLORS[key.split(":")[0]]
        actor = self.plotter.add_mesh(
            mesh,
            color=colour,
            name=key,
            pickable=False,
            line_width=line_width,
            point_size=10,
            show_scalar_bar=False,
            reset_camera=False,
            lighting=True,
            ambient=0.5,
        )
        mapper = actor.GetMapper()
        if under is not None:
            actor.SetUserTransform(under.GetUserTransform())
        if self._plane is not None:
            mapper.AddClippingPlane(self._plane)
        self.overlays[key] = actor

    def clear(self, prefix: str | None = None) -> None:
        for key in [k for k in self.overlays if prefix is None or k.split(":")[0] == prefix]:
            self.plotter.remove_actor(self.overlays.pop(key), reset_camera=False, render=False)

    # -- camera -----------------------------------------------------------------------------
    def camera(self) -> dict:
        """The camera in world coordinates (share links and bookmarks survive a new origin)."""
        cam = self.plotter.camera
        return {
            "position": self.twin.to_world(np.array(cam.position)).tolist(),
            "focal_point": self.twin.to_world(np.array(cam.focal_point)).tolist(),
            "view_up": list(cam.up),
        }

    def set_camera(self, position, focal_point, view_up=(0.0, 0.0, 1.0)) -> None:
        cam = self.plotter.camera
        cam.position = tuple(self.twin.to_local(np.array(position, dtype=float)))
        cam.focal_point = tuple(self.twin.to_local(np.array(focal_point, dtype=float)))
        cam.up = tuple(view_up)
        self.plotter.reset_camera_clipping_range()

    def look(self, view: str) -> None:
        set_standard_view(self.plotter, view)

    def fly_to(self, row: int) -> None:
        """Frame one asset, keeping the current viewing direction."""
        b = self.twin.assets.bounds[row]
        if not np.isfinite(b).all():
            return
        centre = self.twin.to_local(self.twin.assets.centre(row))
        size = max(b[1] - b[0], b[3] - b[2], b[5] - b[4], 4.0)
        cam = self.plotter.camera
        direction = np.array(cam.position) - np.array(cam.focal_point)
        direction /= np.linalg.norm(direction) or 1.0
        cam.focal_point = tuple(centre)
        fit = size / np.tan(np.radians(cam.view_angle) / 2)  # the asset's size fills about half the view
        cam.position = tuple(centre + direction * (fit + 10.0))
        self.plotter.reset_camera_clipping_range()

    def marker_radius(self, least: float = 0.15) -> float:
        """A marker size that reads at the current zoom: a fraction of the distance to the focal point."""
        cam = self.plotter.camera
        return max(least, float(np.linalg.norm(np.array(cam.position) - np.array(cam.focal_point))) * 0.006)

    def ray(self, x: float, y: float, size: list | None) -> tuple[np.ndarray, np.ndarray, float]:
        """The ray under a click on the browser's image, and the angle of one pixel."""
        width, height = self.window.GetSize()
        if size and size[0] and size[1]:
            x, y = x * width / size[0], y * height / size[1]
        start, end = picking.display_ray(self.plotter.renderer, x, y)
        return start, end, np.radians(self.plotter.camera.view_angle) / max(height, 1)

    def screenshot(self) -> bytes:
        """The current view as PNG bytes."""
        self.window.Render()  # not plotter.render(): the interactor's rendering is off
        grab = vtk.vtkWindowToImageFilter()
        grab.SetInput(self.window)
        grab.ReadFrontBufferOff()
        grab.Update()
        writer = vtk.vtkPNGWriter()
        writer.WriteToMemoryOn()
        writer.SetInputConnection(grab.GetOutputPort())
        writer.Write()
        return bytes(writer.GetResult())
