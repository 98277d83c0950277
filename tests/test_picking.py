"""Picking pipes: underground modes prefer them over the translucent ground, thin lines get a
screen-space tolerance, and hovering names what is under the pointer (server-side, no browser)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import DEMO
from PIL import Image

from twin.faces.app import picking
from twin.faces.app.actions import Actions
from twin.faces.app.client_views import default_config
from twin.faces.app.pool import ViewPool
from twin.loading import load

SIZE = (400, 300)
PIPE = "W-P002"


@pytest.fixture(scope="module")
def twin():
    return load(DEMO)


@pytest.fixture(scope="module")
def actions(twin):
    ids = iter(range(1, 100))
    pool = ViewPool(twin, lambda window: str(next(ids)), capacity=2, size=SIZE)
    triggers = Actions.build(twin, pool, push=lambda view_id: None, scene_of=lambda view_id: {"id": view_id})
    return triggers.selection, triggers.views, pool


def over_the_pipe(twin, actions, underground: str, height: float = 60.0) -> tuple[str, np.ndarray]:
    """A view looking straight down at the pipe from ``height`` m, and the pipe's centre on screen."""
    selection, views, pool = actions
    if PIPE not in twin.assets["id"]:
        pytest.skip("the demo has no pipe networks")
    view_id = views.twin_claim()["view"]
    config = default_config(twin)
    config["underground"] = underground
    views.twin_apply(view_id, config)
    centre = twin.assets.centre(twin.assets.index_of(PIPE))
    view = pool.get(view_id)
    view.set_camera(centre + [0, 0, height], centre, (0, 1, 0))
    renderer = view.plotter.renderer
    renderer.SetWorldPoint(*twin.to_local(centre), 1.0)
    renderer.WorldToDisplay()
    return view_id, np.array(renderer.GetDisplayPoint()[:2])


def click(at) -> dict:
    return {"position": {"x": float(at[0]), "y": float(at[1])}, "size": list(SIZE)}


def picked_id(selection, view_id, at) -> str | None:
    inspector = selection.twin_pick(view_id, click(at))["inspector"]
    return None if inspector is None else inspector["id"]


def test_translucent_ground_lets_a_click_reach_the_pipe_below(twin, actions):
    selection = actions[0]
    view_id, at = over_the_pipe(twin, actions, "translucent")
    assert picked_id(selection, view_id, at) == PIPE
    # the same click with underground mode off meets the street or ground first
    view_id, at = over_the_pipe(twin, actions, "off")
    assert picked_id(selection, view_id, at) != PIPE


def test_thin_pipes_have_a_tolerance_of_a_few_pixels(twin, actions):
    selection = actions[0]
    view_id, at = over_the_pipe(twin, actions, "hidden", height=400.0)  # a DN300 pipe ~1 px wide
    row = twin.assets.index_of(PIPE)
    b = twin.assets.bounds[row]
    across = np.array([0.0, 3.0]) if b[1] - b[0] > b[3] - b[2] else np.array([3.0, 0.0])
    assert picked_id(selection, view_id, at + across) == PIPE  # 3 px beside its centre line
    assert picked_id(selection, view_id, at + 8 * across) != PIPE  # 24 px is someone else's


def test_hover_highlights_and_names_what_is_under_the_pointer(twin, actions):
    selection, _, pool = actions
    view_id, at = over_the_pipe(twin, actions, "translucent")
    tip = selection.twin_hover(view_id, click(at))["hover"]
    assert tip["id"] == PIPE and tip["kind"] == "pipe" and tip["network"] == "water" and "level" in tip
    assert "hover:0" in pool.get(view_id).overlays
    selection.level_of = lambda row: "I red"
    try:
        assert selection.twin_hover(view_id, click(at))["hover"]["level"] == "I red"
    finally:
        selection.level_of = lambda row: None
    view_id, at = over_the_pipe(twin, actions, "hidden")  # nothing but pipes: a corner meets nothing
    selection.twin_hover(view_id, click(at))
    assert selection.twin_hover(view_id, click((1, 1)))["hover"] is None
    assert not any(key.startswith("hover:") for key in pool.get(view_id).overlays)


def test_ray_to_segments_matches_a_brute_force_search():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(50, 3)) * 10, rng.normal(size=(50, 3)) * 10
    origin, direction = np.array([0.0, 0.0, 30.0]), np.array([0.1, -0.2, -1.0])
    direction /= np.linalg.norm(direction)
    along, centre, gap = picking._ray_to_segments(origin, direction, a, b)
    u = np.linspace(0, 1, 2001)
    for i in range(len(a)):
        points = a[i] + u[:, None] * (b[i] - a[i])
        t = np.maximum((points - origin) @ direction, 0)
        brute = np.linalg.norm(origin + t[:, None] * direction - points, axis=1).min()
        assert gap[i] == pytest.approx(brute, abs=1e-2)
        assert np.linalg.norm(np.cross(centre[i] - a[i], b[i] - a[i])) == pytest.approx(0, abs=1e-6)


def test_colouring_pipes_by_depth_shows_on_thin_pipes_too(twin, actions):
    """Their one-colour outlines would hide the ramp on a pipe a few pixels wide: they go."""
    _, views, pool = actions
    view_id, _ = over_the_pipe(twin, actions, "translucent", height=25.0)
    view = pool.get(view_id)
    pictures = []
    for on in (False, True):
        config = default_config(twin)
        config.update(underground="translucent", depth_colours=on)
        views.twin_apply(view_id, config)
        pictures.append(np.asarray(Image.open(io.BytesIO(view.screenshot())).convert("RGB"), dtype=int))
        pipe = view.scene.actors["water/water"]
        assert bool(pipe.GetProperty().GetEdgeVisibility()) is not on
        assert bool(pipe.GetMapper().GetScalarVisibility()) is on
    changed = (np.abs(pictures[0] - pictures[1]).sum(axis=2) > 30).mean()
    print(f"depth colouring changed {changed:.1%} of the picture")
    assert changed > 0.02
