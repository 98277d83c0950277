"""The scene as a PyVista plotter: one actor per layer, cameras for the standard views.

Shared by ``twin render`` (offscreen pictures) and the browser app.  Server-side rendering
here is software (llvmpipe), so anti-aliasing stays off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pyvista as pv

from twin.layer import Layer, single_sided
from twin.scene import Twin

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

BACKGROUND = "#1f2530"
DEFAULT_COLORS = {
    "ifc": "#e0dccf",
    "pointcloud": "#c8c8c8",
    "pipes": "#4aa3df",
    "city": "#d8d2c4",
    "terrain": "#a7b59a",
}
VIEWS = ("iso", "top", "front", "side")


@dataclass
class SceneView:
    """A plotter showing a twin, and the actor of each layer by layer name."""

    twin: Twin
    plotter: pv.Plotter
    actors: dict

    def set_visible(self, layer_name: str, visible: bool) -> None:
        self.actors[layer_name].SetVisibility(bool(visible))

    def set_opacity(self, layer_name: str, opacity: float) -> None:
        self.actors[layer_name].GetProperty().SetOpacity(float(opacity))

    def look(self, view: str = "iso") -> None:
        """Point the camera at the whole scene from one of :data:`VIEWS`."""
        set_standard_view(self.plotter, view)

    def fly_to_bookmark(self, name: str) -> None:
        for bookmark in self.twin.bookmarks:
            if bookmark.name == name:
                camera = self.plotter.camera
                camera.position = tuple(self.twin.to_local(np.array(bookmark.position)))
                camera.focal_point = tuple(self.twin.to_local(np.array(bookmark.focal_point)))
                camera.up = bookmark.view_up
                self.plotter.reset_camera_clipping_range()
                return
        raise KeyError(name)


def build_view(twin: Twin, off_screen: bool = True, size: tuple[int, int] = (1280, 800)) -> SceneView:
    plotter = pv.Plotter(off_screen=off_screen, window_size=list(size))
    plotter.set_background(BACKGROUND)  # type: ignore[arg-type]  # pyvista wraps the method; its stub loses the bound self
    actors = {layer.name: _add_layer(plotter, layer) for layer in twin.layers}
    set_standard_view(plotter, "iso")
    return SceneView(twin, plotter, actors)


def _add_layer(plotter: pv.Plotter, layer: Layer):
    style = layer.style
    kwargs: dict = {"opacity": style.opacity, "name": layer.name, "pickable": True}
    if style.rgb_array and style.rgb_array in layer.dataset.array_names:
        kwargs.update(scalars=style.rgb_array, rgb=True)
    else:
        kwargs["color"] = style.color or DEFAULT_COLORS.get(layer.kind, "#cccccc")
    if layer.geometry == "points":
        kwargs.update(style="points", point_size=2, render_points_as_spheres=False)
    elif layer.geometry == "lines":
        kwargs.update(line_width=3)
    actor = plotter.add_mesh(layer.dataset, show_scalar_bar=False, **kwargs)
    actor.SetVisibility(style.visible)
    cull_back_faces(actor, layer)
    return actor


def cull_back_faces(actor, layer: Layer) -> None:
    """Cull the back faces of a layer that is all closed outward solids (a city's streamed boxes)."""
    actor.GetProperty().SetBackfaceCulling(single_sided(layer.dataset))


def set_standard_view(plotter: pv.Plotter, view: str) -> None:
    """Camera for ``iso``, ``top``, ``front`` (from the south) or ``side`` (from the east), z up."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}: use one of {', '.join(VIEWS)}")
    directions = {"iso": (-1.0, -1.3, 0.9), "top": (0.0, 0.0, 1.0), "front": (0.0, -1.0, 0.0), "side": (1.0, 0.0, 0.0)}
    direction = np.array(directions[view])
    plotter.camera.focal_point = (0.0, 0.0, 0.0)
    plotter.camera.position = tuple(direction)
    plotter.camera.up = (0.0, 1.0, 0.0) if view == "top" else (0.0, 0.0, 1.0)
    plotter.reset_camera()  # type: ignore[call-arg]  # same decorator stub gap as above
    plotter.camera.zoom(1.4)  # reset_camera frames the bounding sphere: generous for a flat district


def framed_view(
    twin: Twin, size: tuple[int, int] = (1280, 800), view: str = "iso", bookmark: str | None = None
) -> SceneView:
    """An offscreen view of the scene looking from a standard view or a camera bookmark."""
    scene = build_view(twin, off_screen=True, size=size)
    if bookmark:
        scene.fly_to_bookmark(bookmark)
    else:
        scene.look(view)
    return scene


def render_png(
    twin: Twin, out: str, size: tuple[int, int] = (1280, 800), view: str = "iso", bookmark: str | None = None
) -> None:
    """Write an offscreen picture of the scene (report figures, briefing slides, tests)."""
    scene = framed_view(twin, size, view, bookmark)
    scene.plotter.screenshot(out)
    scene.plotter.close()
