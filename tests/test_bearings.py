"""Bearings without a browser: the north arrow for known cameras, the scale bar's round lengths,
longitude / latitude of known points, and the triggers and section drawing on the demo district."""

import math
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import DEMO

from twin.errors import TwinError
from twin.faces import i18n
from twin.faces.app import bearings
from twin.faces.app.actions import Actions
from twin.faces.app.client_views import default_config
from twin.faces.app.panels import bearings as panel
from twin.faces.app.pool import ViewPool
from twin.faces.app.section import CAP_OFFSET
from twin.loading import load

UP, NORTH, EAST = (0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("position", "view_up", "angle"),
    [
        ((0, 0, 100), NORTH, 0.0),  # top view, north up
        ((0, 0, 100), EAST, 270.0),  # top view turned so the screen's top faces east: north is to the left
        ((0, 0, 100), (-1, 0, 0), 90.0),  # ... faces west: north to the right
        ((0, 0, 100), (0, -1, 0), 180.0),
        ((0, -100, 0), UP, 0.0),  # front view: from the south, looking north
        ((100, 0, 0), UP, 90.0),  # side view: from the east, looking west
        ((0, -100, 60), UP, 0.0),  # tilted views take the ground direction, not the foreshortened one
        ((-100, 0, 60), UP, 270.0),
        ((0, -100, -30), UP, 0.0),  # looking up from below the ground still faces north
    ],
)
def test_the_north_arrow_for_known_cameras(position, view_up, angle):
    assert bearings.north_angle(position, (0, 0, 0), view_up) == pytest.approx(angle, abs=1e-6)


def test_the_iso_view_faces_north_east():
    heading = bearings.heading((-1.0, -1.3, 0.9), (0, 0, 0), UP)
    assert heading == pytest.approx(math.degrees(math.atan2(1.0, 1.3)))


def test_north_up_keeps_the_tilt_and_the_distance():
    position, focal, up = (-80.0, -104.0, 72.0), (5.0, 5.0, 0.0), UP
    moved, moved_up = bearings.north_up(position, focal, up)
    assert bearings.north_angle(moved, focal, moved_up) == pytest.approx(0.0, abs=1e-9)
    assert np.linalg.norm(np.subtract(moved, focal)) == pytest.approx(np.linalg.norm(np.subtract(position, focal)))
    assert moved[2] == pytest.approx(position[2])
    top, top_up = bearings.north_up((5.0, 5.0, 100.0), focal, EAST)  # straight down: the view-up turns
    assert bearings.north_angle(top, focal, top_up) == pytest.approx(0.0, abs=1e-9)
    assert top == pytest.approx([5.0, 5.0, 100.0])


def test_the_screen_axes_of_the_top_view():
    axes = bearings.screen_axes((0, 0, 100), (0, 0, 0), NORTH)
    assert axes["east"] == [1.0, 0.0] and axes["north"] == [0.0, 1.0] and axes["up"] == [0.0, 0.0]


@pytest.mark.parametrize(
    ("metres", "rounded"),
    [(1, 1), (1.9, 1), (2, 2), (4.99, 2), (5, 5), (9.99, 5), (10, 10), (0.37, 0.2), (1234, 1000), (74, 50)],
)
def test_scale_bar_lengths_are_1_2_or_5_times_a_power_of_ten(metres, rounded):
    assert bearings.round_length(metres) == pytest.approx(rounded)


def test_scale_bar_labels_and_pixels():
    assert [bearings.length_label(m) for m in (2000, 500, 1, 0.5)] == ["2 km", "500 m", "1 m", "50 cm"]
    mpp = bearings.metres_per_pixel(100.0, 30.0, 800.0)
    assert mpp == pytest.approx(2 * 100 * math.tan(math.radians(15)) / 800)
    bar = bearings.scale_bar(mpp)
    assert bar["metres"] == 5.0 and bar["label"] == "5 m"  # 120 px span 8.0 m
    assert bar["pixels"] == pytest.approx(5.0 / mpp, abs=0.1) and bar["pixels"] <= bearings.SCALE_BAR_PX
    assert bearings.metres_per_pixel(0, 30, 800, parallel_scale=50) == pytest.approx(100 / 800)
    with pytest.raises(TwinError):
        bearings.round_length(0)


def test_longitude_and_latitude_of_known_points():
    # CGCS2000 / 3-degree Gauss-Krueger CM 120E (the demo's CRS): the false easting lies on 120E
    lon, lat = bearings.lon_lat("EPSG:4549", (500000.0, 0.0, 0.0))
    assert (lon, lat) == (pytest.approx(120.0, abs=1e-9), pytest.approx(0.0, abs=1e-9))
    lon, lat = bearings.lon_lat("EPSG:3857", (20037508.342789244, 0.0, 0.0))  # web mercator's edge
    assert (lon, lat) == (pytest.approx(180.0), pytest.approx(0.0, abs=1e-9))
    assert bearings.lon_lat(None, (0, 0, 0)) is None


def test_every_message_of_the_bearings_has_a_chinese_translation():
    chinese = i18n.catalogue("zh")
    messages = {what for _key, what in panel.SHORTCUTS}
    messages |= {m for _view, label, name in panel.ORIENTATION_VIEWS for m in (label, name)}
    messages |= {letter for _key, _colour, letter in panel.AXES}
    source = Path(panel.__file__).read_text(encoding="utf-8")
    messages |= set(re.findall(r'(?:text|tr|aria_label)\("([^"]+)"\)', source))
    messages |= set(re.findall(r'icon_button\(\s*"[^"]+",\s*"([^"]+)"', source))
    assert messages and not sorted(m for m in messages if not chinese.get(m))


def test_every_trigger_bearings_js_calls_exists(actions):
    called = set(re.findall(r'"(twin_[a-z_]+)"', (Path(bearings.__file__).parent / "bearings.js").read_text()))
    assert called and called <= set(vars(actions))


# -- on the demo district ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def twin():
    return load(DEMO)


@pytest.fixture(scope="module")
def actions(twin):
    from types import SimpleNamespace

    ids = iter(range(1, 100))
    pool = ViewPool(twin, lambda window: str(next(ids)), capacity=2, size=(400, 300))
    triggers = Actions.build(twin, pool, push=lambda view_id: None, scene_of=lambda view_id: {"id": view_id})
    return SimpleNamespace(**triggers.triggers(), pool=pool, twin=twin)


@pytest.fixture
def view_id(actions):
    view_id = actions.pool.claim()
    yield view_id
    actions.pool.reset(actions.pool.get(view_id))


def test_bearings_of_the_top_view_and_after_north_up(actions, view_id):
    actions.twin_look(view_id, "top")
    top = actions.twin_bearings(view_id, 300)["bearings"]
    assert top["north"] == 0.0 and top["axes"]["north"] == [0.0, 1.0]
    assert re.fullmatch(r"[125]0* (m|km)", top["scale"]["label"])
    actions.twin_look(view_id, "side")
    assert actions.twin_bearings(view_id, 300)["bearings"]["north"] == pytest.approx(90.0)
    actions.twin_north_up(view_id)
    assert actions.twin_bearings(view_id, 300)["bearings"]["north"] == pytest.approx(0.0, abs=1e-6)
    actions.twin_home(view_id)
    home = actions.pool.get(view_id).home
    assert actions.pool.get(view_id).plotter.camera.position == pytest.approx(home.GetPosition())


def test_a_closer_camera_shows_a_shorter_scale_bar(actions, view_id):
    actions.twin_look(view_id, "top")
    far = actions.twin_bearings(view_id, 300)["bearings"]["scale"]["metres"]
    actions.pool.get(view_id).plotter.camera.zoom(8)
    near = actions.twin_bearings(view_id, 300)["bearings"]["scale"]["metres"]
    assert near < far


def test_the_coordinates_under_the_middle_of_the_top_view(actions, view_id, twin):
    actions.twin_look(view_id, "top")
    probe = actions.twin_probe(view_id, {"position": {"x": 200, "y": 150}, "size": [400, 300]})["probe"]
    world = twin.to_world(np.array(actions.pool.get(view_id).plotter.camera.focal_point))
    assert probe["x"] == pytest.approx(world[0], abs=1.0) and probe["y"] == pytest.approx(world[1], abs=1.0)
    lon, lat = bearings.lon_lat(twin.crs, (probe["x"], probe["y"], probe["z"]))
    assert (probe["lon"], probe["lat"]) == (pytest.approx(lon, abs=1e-6), pytest.approx(lat, abs=1e-6))
    assert 118 < probe["lon"] < 120 and 31 < probe["lat"] < 33  # the demo lies near Nanjing
    sky = actions.twin_probe(view_id, {"position": {"x": 1, "y": 1}, "size": [400, 300]})
    assert sky == {"probe": None}


def section_actors(view) -> int:
    return view.plotter.renderer.GetActors().GetNumberOfItems()


def test_the_section_is_drawn_and_the_cut_buildings_capped(actions, view_id):
    view = actions.pool.get(view_id)
    bare = section_actors(view)
    config = default_config(actions.twin) | {"clip": {"on": True, "axis": "z", "at": 0.3, "flip": False}}
    actions.twin_apply(view_id, config)
    assert section_actors(view) == bare + 3  # the plane, its outline and the caps
    plane = view.section
    origin, normal = np.array(plane.GetOrigin()), np.array(plane.GetNormal())
    drawn = [view.plotter.renderer.GetActors().GetItemAsObject(i) for i in range(section_actors(view))]
    caps = [a for a in drawn if a.GetMapper().GetInput().GetNumberOfPolys() and not a.GetUseBounds()][-1]
    points = np.asarray(caps.GetMapper().GetInput().GetPoints().GetData())
    assert len(points) and np.allclose((points - origin) @ normal, CAP_OFFSET, atol=1e-3)  # on the plane, kept side
    actions.twin_apply(view_id, config | {"clip": {**config["clip"], "at": 0.31}})  # moved: drawn again, not twice
    assert section_actors(view) == bare + 3
    actions.twin_apply(view_id, default_config(actions.twin))
    assert section_actors(view) == bare


def test_measure_labels_go_with_the_tool(actions, view_id):
    actions.twin_look(view_id, "top")
    for x in (150, 250):
        actions.twin_pick(view_id, {"position": {"x": x, "y": 150}, "size": [400, 300]}, "measure")
    view = actions.pool.get(view_id)
    assert {"measure:0", "measure:line", "measure:label"} <= set(view.overlays)
    assert actions.twin_measure_off(view_id) == {"measure": None}
    assert not [key for key in view.overlays if key.startswith("measure")]
