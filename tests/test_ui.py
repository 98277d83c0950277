"""The app's server half without a browser: search, picking, per-browser views, share links, bookmarks."""

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import DEMO

from twin.errors import InputError
from twin.faces.app import asset_details, bookmarks, share
from twin.faces.app.actions import Actions
from twin.faces.app.client_views import default_config
from twin.faces.app.pool import ViewPool
from twin.faces.app.search import AssetSearch
from twin.loading import load
from twin.manifest import Bookmark


@pytest.fixture(scope="module")
def twin():
    return load(DEMO)


def browser_triggers(twin, pool, **callbacks) -> SimpleNamespace:
    """Every feature's triggers by name, as the browser calls them, with the pool and the twin."""
    triggers = Actions.build(twin, pool, push=lambda view_id: None, **callbacks).triggers()
    return SimpleNamespace(**triggers, pool=pool, twin=twin)


@pytest.fixture(scope="module")
def actions(twin):
    ids = iter(range(1, 100))
    pool = ViewPool(twin, lambda window: str(next(ids)), capacity=2, size=(400, 300))
    return browser_triggers(twin, pool, scene_of=lambda view_id: {"id": view_id})


def test_every_trigger_the_browser_calls_exists(actions):
    from twin.faces.app.application import TwinApp
    from twin.faces.app.risk_actions import RiskActions

    ui = Path(asset_details.__file__).parent
    called = set(re.findall(r'"(twin_[a-z_]+)"', (ui / "client.js").read_text() + (ui / "risk.js").read_text()))
    buttons = {f"twin_{name}" for name in ("fly_to", "isolate", "nearby")}  # client.js: "twin_" + the action
    app = (
        {name for name in vars(actions) if name.startswith("twin_")}
        | {name for name in dir(RiskActions) if name.startswith("twin_")}
        | {name for name in dir(TwinApp) if name.startswith("twin_")}
    )
    assert called | buttons <= app, sorted((called | buttons) - app)


def test_search_ranks_exact_ids_then_prefixes_then_substrings(twin):
    finder = AssetSearch(twin.assets)
    first = finder.suggest("bldg-005")[0]
    assert twin.assets["id"][first["index"]] == "bldg-005"
    assert len(finder.suggest("bldg")) == 10  # suggestions are capped
    by_address = finder.suggest("3201020010005")
    assert by_address and by_address[0]["matched"] == "address"
    assert finder.suggest("BUILDING 1")[0]["title"].lower().startswith("building 1")
    assert finder.suggest("no such thing") == [] and finder.suggest("  ") == []


def test_each_browser_claims_its_own_view_and_the_pool_recycles_the_stalest(actions):
    first, second = actions.twin_claim()["view"], actions.twin_claim()["view"]
    assert first != second
    actions.twin_look(first, "top")
    assert actions.pool.get(first).plotter.camera.position != actions.pool.get(second).plotter.camera.position
    actions.pool.get(second)  # touched: the first is now the stalest
    third = actions.twin_claim()["view"]
    assert third == first and len(actions.pool.views) == 2


def test_a_closed_connection_gives_its_view_back_but_not_one_taken_from_it(twin):
    ids = iter(range(1, 100))
    pool = ViewPool(twin, lambda window: str(next(ids)), capacity=2, size=(400, 300))
    released = []
    pool.on_release.append(released.append)
    a, b = pool.claim(owner="A"), pool.claim(owner="B")
    pool.get(b)  # A's view is the stalest ...
    assert pool.claim(owner="C") == a  # ... and C takes it over
    assert pool.release("A") == [] and released == []  # A's close must not free C's view
    pool.get(b).look("top")
    assert pool.release("B") == [b] and released == [b] and pool.spares == [b]
    assert pool.claim(owner="D") == b  # the next browser gets it, reset
    assert pool.get(b).camera() == pool.get(a).camera()  # reset to the default look, like a


def test_a_view_answers_only_the_browser_that_claimed_it(twin):
    ids, caller = iter(range(1, 100)), ["A"]
    pool = ViewPool(twin, lambda window: str(next(ids)), capacity=2, size=(400, 300))
    actions = browser_triggers(twin, pool, scene_of=lambda view_id: {}, caller=lambda: caller[0])
    view_id = actions.twin_claim()["view"]
    assert "error" not in actions.twin_look(view_id, "top")
    caller[0] = "B"  # another browser guessing the id
    assert "another browser" in actions.twin_look(view_id, "iso")["error"]


def test_a_click_in_the_middle_of_the_top_view_picks_the_asset_below(actions, twin):
    view_id = actions.twin_claim()["view"]
    actions.twin_look(view_id, "top")
    reply = actions.twin_pick(view_id, {"position": {"x": 200, "y": 150}, "size": [400, 300]})
    assert reply["inspector"] is not None
    assert reply["inspector"]["layer"] in {layer.name for layer in twin.layers}
    assert "selection:0" in actions.pool.get(view_id).overlays
    assert actions.twin_pick(view_id, {"position": {"x": 1, "y": 1}, "size": [400, 300]})["inspector"] is None


def test_hidden_layers_and_the_clip_plane_are_not_picked(actions):
    view_id = actions.twin_claim()["view"]
    actions.twin_look(view_id, "top")
    click = {"position": {"x": 200, "y": 150}, "size": [400, 300]}
    config = default_config(actions.twin)
    config["visible"] = []
    actions.twin_apply(view_id, config)
    assert actions.twin_pick(view_id, click)["inspector"] is None
    config = default_config(actions.twin)
    config["clip"] = {"on": True, "axis": "z", "at": 0.0, "flip": False}  # keeps only what lies below the ground
    actions.twin_apply(view_id, config)
    picked = actions.twin_pick(view_id, click)["inspector"]
    assert picked is None or picked["layer"] != "district/Building"


def test_measure_reports_horizontal_vertical_and_3d_distances(actions):
    view_id = actions.twin_claim()["view"]
    actions.twin_look(view_id, "top")
    actions.twin_pick(view_id, {"position": {"x": 150, "y": 150}, "size": [400, 300]}, "measure")
    reply = actions.twin_pick(view_id, {"position": {"x": 250, "y": 150}, "size": [400, 300]}, "measure")
    m = reply["measure"]
    assert m["distance"] >= m["horizontal"] > 0
    assert m["distance"] == pytest.approx(np.hypot(m["horizontal"], m["vertical"]))


def test_errors_come_back_as_replies_not_exceptions(actions):
    view_id = actions.twin_claim()["view"]
    assert "error" in actions.twin_apply("no-such-view", {})
    assert "error" in actions.twin_restore(view_id, "cam=1,2,3")
    assert "error" in actions.twin_isolate(view_id, int(np.flatnonzero(actions.twin.assets["id"] == "bldg-005")[0]))


def test_a_client_side_browser_gets_its_scene_and_camera_in_the_reply(actions):
    view_id = actions.twin_claim()["view"]
    reply = actions.twin_apply(view_id, default_config(actions.twin), {})
    assert reply["scene"] == {"id": view_id}
    camera = {"position": [0, -300, 200], "focalPoint": [0, 0, 0], "viewUp": [0, 0, 1], "viewAngle": 30}
    reply = actions.twin_look(view_id, "top", camera)
    assert reply["camera_local"]["position"][2] > 0 and reply["camera_local"]["viewUp"][1] == 1


def test_share_fragments_round_trip(twin):
    config = default_config(twin)
    config.update(
        visible=["district/Building"],
        underground="translucent",
        clip={"on": True, "axis": "y", "at": 0.25, "flip": True},
    )
    camera = {"position": [1.0, 2.0, 3.0], "focal_point": [4.0, 5.0, 6.0], "view_up": [0.0, 0.0, 1.0]}
    fragment = share.make_fragment(config, camera, "bldg-005", "client")
    back = share.parse_fragment(fragment, [layer.name for layer in twin.layers], default_config(twin))
    assert back["config"]["visible"] == ["district/Building"]
    assert back["config"]["clip"] == {"on": True, "axis": "y", "at": 0.25, "flip": True}
    assert back["config"]["underground"] == "translucent"
    assert back["camera"] == camera and back["selection"] == "bldg-005" and back["rendering"] == "client"
    with pytest.raises(InputError, match="clip axis"):
        share.parse_fragment("clip=w,0.5,0", [], default_config(twin))


def test_bookmarks_are_saved_to_a_sidecar_next_to_the_scene(tmp_path):
    scene = tmp_path / "city.toml"
    scene.write_text("")
    assert bookmarks.load(scene) == []
    bookmarks.save(scene, Bookmark("Gate", (1.0, 2.0, 3.0), (4.0, 5.0, 6.0)))
    bookmarks.save(scene, Bookmark('Say "hi"', (0.0, 0.0, 9.0), (0.0, 0.0, 0.0)))
    saved = bookmarks.load(scene)
    assert (tmp_path / "city.bookmarks.toml").exists()
    assert [b.name for b in saved] == ["Gate", 'Say "hi"'] and saved[0].focal_point == (4.0, 5.0, 6.0)


def test_the_inspector_lists_every_attribute_with_units(twin):
    index = int(np.flatnonzero(twin.assets["id"] == "bldg-005")[0])
    described = asset_details.describe(twin, index)
    rows = {r[0]: r[1] for s in described["sections"] for r in s["rows"]}
    assert rows["Id"] == "bldg-005" and rows["yearOfConstruction"] == "1980" and "measuredHeight" in rows
    assert asset_details.fmt("diameter_m", 0.3) == "300 mm" and asset_details.fmt("depth_start_m", 1.2) == "1.20 m"
    assert asset_details.fmt("x", float("nan")) is None and "fly_to" in described["actions"]


def test_isolate_and_nearby_on_a_demo_water_main(actions, twin):
    if "W-P001" not in twin.assets["id"]:
        pytest.skip("the demo has no pipe networks")
    view_id = actions.twin_claim()["view"]
    index = int(np.flatnonzero(twin.assets["id"] == "W-P001")[0])
    described = actions.twin_select(view_id, index)["inspector"]
    rows = {r[0]: r[1] for s in described["sections"] for r in s["rows"]}
    assert rows["Diameter"] == "300 mm" and rows["Depth at start"].endswith(" m") and "isolate" in described["actions"]
    isolated = actions.twin_isolate(view_id, index)["analysis"]
    assert isolated["valves"] and "W-P001" in isolated["segments"]
    overlays = actions.pool.get(view_id).overlays
    assert "valves:0" in overlays and any(key.startswith("lost:") for key in overlays)
    near = actions.twin_nearby(view_id, index)["analysis"]
    assert near["kind"] == "nearby" and near["rows"]


def test_the_inspector_shows_ifc_property_sets_read_in_a_worker(twin):
    walls = np.flatnonzero(twin.assets["ifc_class"] == "IfcWallStandardCase") if "ifc_class" in twin.assets else []
    if not len(walls):
        pytest.skip("the demo has no IFC walls")
    described = asset_details.describe(twin, int(walls[0]))
    titles = [s["title"] for s in described["sections"]]
    assert "Pset_WallCommon" in titles and "BaseQuantities" in titles, titles


def test_a_crashing_property_reader_costs_one_answer_not_the_server(tmp_path):
    from twin.faces.app.ifc_properties import PropertyReader

    reader = PropertyReader(timeout_s=30)
    try:
        missing = reader.read(str(tmp_path / "nope.ifc"), "0abc")
        assert "nope.ifc" in missing["error"]
        reader.close()
        reader.timeout_s = 0.001  # a fresh worker cannot even start in time: it is replaced
        assert "timed out" in reader.read(str(tmp_path / "nope.ifc"), "0abc")["error"]
        reader.timeout_s = 30
        assert "nope.ifc" in reader.read(str(tmp_path / "nope.ifc"), "0abc")["error"]
    finally:
        reader.close()
