"""The IFC loader on real sample files: counts, positions, georeferencing, meaning, errors, cache."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, twin_cli

from loaders.ifc import header, load, properties
from twin.errors import InputError, LoaderFailure
from twin.layer import part_asset_bounds

IFC = DATA / "ifc"
OPEN_HOUSE = IFC / "IfcOpenHouse_IFC4.ifc"
GEOREF = IFC / "pass-grf000-correct_georeferencing.ifc"
DRAINAGE = IFC / "DrainageSystem-1-1.ifc"
ROAD = IFC / "KIT-Simple-Road-Test-Web-IFC4x3_RC2.ifc"
BASIC = IFC / "basic.ifc"
DUPLEX = IFC / "duplex.ifc"
SMALL = [OPEN_HOUSE, GEOREF, DRAINAGE, ROAD, BASIC]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ifc-cache")


@pytest.fixture(scope="module")
def loaded(cache_dir):
    """Load each file once per option set (the cache makes repeats cheap)."""

    def get(path: Path, **options):
        return load(path, {"cache_dir": str(cache_dir), **options})

    return get


def raw_shapes(path: Path, tmp: Path) -> dict[str, tuple[str, np.ndarray]]:
    """ifcopenshell's own answer: GlobalId -> (class, world vertices), openings excluded."""
    import ifcopenshell.geom

    info = header.check(path)
    readable = header.fallback_copy(path, info, tmp / path.name) if info.needs_fallback else path
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    iterator = ifcopenshell.geom.iterator(settings, str(readable), 1, exclude=["IfcOpeningElement"])
    shapes = {}
    if iterator.initialize():
        while True:
            shape = iterator.get()
            verts = np.frombuffer(shape.geometry.verts_buffer, "d").reshape(-1, 3)
            shapes[shape.guid] = (shape.type, verts.copy())
            if not iterator.next():
                break
    return shapes


def all_assets(source):
    """(part, row) for every asset of every part."""
    return [(part, i) for part in source.parts for i in range(len(part.assets))]


@pytest.mark.parametrize("path", SMALL, ids=lambda p: p.stem)
def test_every_product_with_body_geometry_is_one_asset_per_class(path, loaded, tmp_path):
    source = loaded(path, georeference="local")
    raw = raw_shapes(path, tmp_path)
    ours = Counter(str(part.assets["ifc_class"][i]) for part, i in all_assets(source))
    assert ours == Counter(kind for kind, _ in raw.values())
    ids = [str(part.assets["id"][i]) for part, i in all_assets(source)]
    assert sorted(ids) == sorted(raw) and source.details["elements"] == len(raw)
    assert source.skipped == []


@pytest.mark.parametrize("path", [OPEN_HOUSE, DRAINAGE, ROAD], ids=lambda p: p.stem)
def test_bounds_match_the_iterators_world_coordinates_within_a_millimetre(path, loaded, tmp_path):
    source = loaded(path, georeference="local")
    raw = raw_shapes(path, tmp_path)
    for part in source.parts:
        bounds = part_asset_bounds(part)
        for i, guid in enumerate(part.assets["id"]):
            verts = raw[str(guid)][1]
            expected = np.ravel(np.column_stack([verts.min(axis=0), verts.max(axis=0)]))
            assert np.allclose(bounds[i], expected, atol=1e-3, rtol=0), guid


def test_millimetre_models_come_out_in_metres(loaded):
    source = loaded(OPEN_HOUSE)
    assert source.details["length_unit"] == "MILLIMETRE"
    width = np.ptp(np.asarray(source.parts[0].dataset.points)[:, 0])
    assert 5 < width < 40  # a small house, not 20,000 units


def test_map_conversion_places_the_model_at_its_map_coordinates(loaded):
    source = loaded(GEOREF)
    assert source.crs == "EPSG:31467"
    report = source.details["georeference"]
    assert report["method"] == "IfcMapConversion" and report["crs"] == "EPSG:31467"
    points = np.asarray(source.parts[0].dataset.points)
    east, north, height = 3458715.92, 5439966.65, 113.7
    # the pyramid's apex is the local origin; its base corner (500, -500, 2000) mm is turned by the X axis
    assert np.min(np.linalg.norm(points - [east, north, height], axis=1)) < 1e-3
    a, b = 0.270600445976, 0.962691746426
    corner = [east + a * 0.5 - b * -0.5, north + b * 0.5 + a * -0.5, height + 2.0]
    assert np.min(np.linalg.norm(points - corner, axis=1)) < 1e-3


def test_site_latitude_longitude_gives_a_utm_placement_unless_local_is_asked(loaded):
    source = loaded(ROAD)
    assert source.crs == "EPSG:32640"
    report = source.details["georeference"]
    assert report["method"].startswith("IfcSite") and abs(report["latitude"] - 24.4667) < 1e-3
    local = loaded(ROAD, georeference="local")
    assert local.crs is None
    shift = np.asarray(source.parts[0].dataset.points) - np.asarray(local.parts[0].dataset.points)
    assert np.allclose(shift[:, :2], [report["eastings"], report["northings"]], atol=1e-6)


def test_pre_release_schemas_are_read_as_ifc4x3_add2_with_a_warning(loaded):
    source = loaded(ROAD)
    assert source.details["schema"] == "IFC4X3_RC2" and source.details["read_as"] == "IFC4X3_ADD2"
    warning = source.warnings[0]
    assert "IFC4X3_RC2" in warning and "IFC4X3_ADD2" in warning and "IFCPRESENTATIONSTYLEASSIGNMENT x66" in warning
    assert source.details["classes"] == {"IfcKerb": 27, "IfcPavement": 39}
    assert set(np.asarray(source.parts[0].assets["building"]).tolist()) == {"Road Network"}  # the IfcRoad
    assert "Road-Carriageway-01" in set(np.asarray(source.parts[0].assets["storey"]).tolist())  # an IfcRoadPart


def test_pipes_carry_their_distribution_system(loaded):
    source = loaded(DRAINAGE)
    assets = source.parts[0].assets
    pipes = np.asarray(assets["ifc_class"]) == "IfcPipeSegment"
    assert pipes.sum() == 6 and (np.asarray(assets["ifc_class"]) == "IfcDistributionChamberElement").sum() == 7
    assert set(np.asarray(assets["network"]).tolist()) == {"Hulevesiviemäri"}
    assert set(np.asarray(assets["system_type"]).tolist()) == {"STORMWATER"}
    assert set(np.asarray(assets["building"]).tolist()) == {"Sammalammintie"}  # the IfcRoad they serve
    assert source.details["spatial"]["facilities"] == 1
    connections = source.extras["connections"]  # port to port: 12 joints of 6 pipes and 7 chambers
    assert len(connections) == source.details["connections"] == 12
    by_id = dict(zip(np.asarray(assets["id"]).tolist(), np.asarray(assets["ifc_class"]).tolist()))
    assert all({by_id[a], by_id[b]} == {"IfcPipeSegment", "IfcDistributionChamberElement"} for a, b in connections)


def test_identity_meaning_and_spatial_tree(loaded):
    source = loaded(OPEN_HOUSE)
    assets = source.parts[0].assets
    assert {"ifc_class", "storey", "building", "object_type", "type_name", "material"} <= set(assets.columns)
    walls = np.asarray(assets["ifc_class"]) == "IfcWallStandardCase"
    assert walls.sum() == 4
    storey = source.extras["spatial_tree"]["children"][0]["children"][0]["children"][0]
    assert set(np.asarray(assets["storey"])[walls].tolist()) == {storey["id"]}  # the storey has no name
    assert set(np.asarray(assets["material"])[walls].tolist()) == {"Brick"}
    tree = source.extras["spatial_tree"]
    assert tree["class"] == "IfcProject"
    site = tree["children"][0]
    building = site["children"][0]
    assert site["class"] == "IfcSite" and building["class"] == "IfcBuilding"
    assert building["children"][0]["class"] == "IfcBuildingStorey"
    assert tree["total"] == sum(len(part.assets) for part in source.parts)
    assert source.details["spatial"]["storeys"] == 1


def test_surface_styles_colour_the_cells_and_glass_is_translucent(loaded):
    source = loaded(OPEN_HOUSE)
    parts = {part.name: part for part in source.parts}
    assert set(parts) == {"elements", "glazing"}
    elements = parts["elements"]
    assert elements.style.rgb_array == "rgb" and elements.dataset.cell_data["rgb"].dtype == np.uint8
    wall = int(np.flatnonzero(np.asarray(elements.assets["ifc_class"]) == "IfcWallStandardCase")[0])
    wall_rgb = elements.dataset.cell_data["rgb"][np.asarray(elements.asset_index) == wall]
    assert np.all(wall_rgb == np.round(np.array([0.75, 0.73, 0.68]) * 255))
    glazing = parts["glazing"]
    assert glazing.style.opacity < 1 and set(np.asarray(glazing.assets["ifc_class"]).tolist()) == {"IfcPlate"}


def test_unstyled_faces_get_the_class_palette(loaded):
    source = loaded(ROAD)  # its styles were RC-only entities, dropped on reading
    from loaders.ifc.palette import CLASS_COLOURS

    part = source.parts[0]
    kerb = int(np.flatnonzero(np.asarray(part.assets["ifc_class"]) == "IfcKerb")[0])
    rgb = part.dataset.cell_data["rgb"][np.asarray(part.asset_index) == kerb][0]
    assert "#{:02x}{:02x}{:02x}".format(*rgb) == CLASS_COLOURS["IfcKerb"]


def test_ifc2x3_duplex_with_hidden_spaces(loaded):
    source = loaded(DUPLEX)
    assert source.details["schema"] == "IFC2X3"
    parts = {part.name: part for part in source.parts}
    assert not parts["spaces"].style.visible and len(parts["spaces"].assets) == 21
    assert source.details["spatial"] == {"sites": 1, "buildings": 1, "facilities": 0, "storeys": 4, "spaces": 21}
    assert source.details["classes"]["IfcWindow"] == 24
    assert len(parts["glazing"].assets) >= 24
    assert source.crs == "EPSG:32616"  # Chicago, from IfcSite RefLatitude/RefLongitude


def test_properties_are_read_on_demand():
    guid = "3cUkl32yn9qRSPvBJVyWYp"  # an IfcOpenHouse wall
    from loaders.ifc.properties import _model

    model = _model(str(OPEN_HOUSE.resolve()), OPEN_HOUSE.stat().st_mtime_ns, OPEN_HOUSE.stat().st_size)
    wall = model.by_type("IfcWall")[0]
    result = properties(OPEN_HOUSE, wall.GlobalId)
    assert result["class"].startswith("IfcWall") and result["id"] == wall.GlobalId
    assert isinstance(result["psets"], dict) and isinstance(result["quantities"], dict)
    json.dumps(result)
    with pytest.raises(InputError, match="no element with GlobalId"):
        properties(OPEN_HOUSE, guid + "x")


@pytest.mark.parametrize(
    "name, problem, where",
    [
        ("truncated.ifc", "truncated", "byte 40000"),
        ("not_ifc.ifc", "not an IFC file", "byte 0"),
        ("unknown_schema.ifc", "unknown IFC schema 'IFC9X9'", "FILE_SCHEMA"),
        ("bad_data.ifc", "no IfcProject", None),
    ],
)
def test_broken_files_give_a_clear_error(name, problem, where, tmp_path):
    with pytest.raises(InputError) as caught:
        load(IFC / "broken" / name, {"cache_dir": str(tmp_path)})
    assert problem in caught.value.problem and caught.value.where == where
    assert not isinstance(caught.value, LoaderFailure)


def test_the_command_line_exits_2_on_a_broken_file():
    result = twin_cli("info", IFC / "broken" / "truncated.ifc", timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(f"twin: error: {IFC / 'broken' / 'truncated.ifc'}: byte 40000: truncated")


@pytest.mark.parametrize(
    "fault, options, message",
    [
        ("abort", {}, "worker crashed (signal 6) on IfcOpenHouse_IFC4.ifc"),
        ("segfault", {}, "worker crashed (signal 11) on IfcOpenHouse_IFC4.ifc"),
        ("hang", {"timeout_s": 2}, "timed out after 2 s on IfcOpenHouse_IFC4.ifc"),
        ("allocate", {"memory_mb": 600}, "worker ran out of memory (limit 600 MB) on IfcOpenHouse_IFC4.ifc"),
    ],
)
def test_a_dying_worker_fails_only_its_load(fault, options, message, tmp_path, loaded):
    with pytest.raises(LoaderFailure) as caught:
        load(OPEN_HOUSE, {"cache_dir": str(tmp_path), "_fault": fault, **options})
    assert caught.value.problem == message
    assert list(tmp_path.glob("*.npz")) == []
    after = load(OPEN_HOUSE, {"cache_dir": str(tmp_path), "memory_mb": 600})
    assert after.details["elements"] == 35 and not after.details["cached"]


def test_the_cache_returns_the_same_layers_and_is_keyed_by_content_and_options(tmp_path):
    copy = tmp_path / "house.ifc"
    copy.write_bytes(OPEN_HOUSE.read_bytes())
    options = {"cache_dir": str(tmp_path / "cache")}
    first = load(copy, options)
    second = load(copy, options)
    assert not first.details["cached"] and second.details["cached"]
    for a, b in zip(first.parts, second.parts):
        assert np.array_equal(a.dataset.points, b.dataset.points)
        assert np.array_equal(a.dataset.cell_data["rgb"], b.dataset.cell_data["rgb"])
        assert list(a.assets["id"]) == list(b.assets["id"])
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    assert not load(copy, {**options, "spaces": False}).details["cached"]
    copy.write_bytes(OPEN_HOUSE.read_bytes().replace(b"IfcOpenHouse", b"IfcOpenHousf"))
    assert not load(copy, options).details["cached"]
    assert not load(copy, {"cache": False}).details["cached"]


def test_several_worker_processes_give_the_same_model(loaded, tmp_path):
    one = loaded(OPEN_HOUSE)
    two = load(OPEN_HOUSE, {"cache": False, "processes": 2})
    assert two.details["processes"] == 2
    assert two.extras["spatial_tree"] == one.extras["spatial_tree"]
    assert two.details["classes"] == one.details["classes"] and two.skipped == one.skipped == []
    for a, b in zip(one.parts, two.parts):
        order_a, order_b = np.argsort(np.asarray(a.assets["id"])), np.argsort(np.asarray(b.assets["id"]))
        assert np.array_equal(np.asarray(a.assets["id"])[order_a], np.asarray(b.assets["id"])[order_b])
        assert np.allclose(part_asset_bounds(a)[order_a], part_asset_bounds(b)[order_b], atol=1e-9)
        assert a.dataset.n_cells == b.dataset.n_cells


def test_the_registry_picks_this_loader_and_twin_info_reports_the_georeference(cache_dir, monkeypatch):
    import twin

    monkeypatch.setenv("CIM_TWIN_CACHE", str(cache_dir))
    scene = twin.load(GEOREF)
    assert scene.kind == "ifc" and scene.crs == "EPSG:31467"
    from twin.summary import describe

    info = describe(scene, 0.0)
    assert info["ifc"]["georeference"]["method"] == "IfcMapConversion"
    assert info["layers"][0]["name"] == "pass-grf000-correct_georeferencing/elements"


def test_a_killed_fork_server_is_replaced_on_the_next_load(tmp_path):
    import os
    import signal

    from loaders.ifc.runner import WORKERS

    load(BASIC, {"cache": False})
    assert WORKERS.pid is not None
    os.kill(WORKERS.pid, signal.SIGKILL)
    assert load(BASIC, {"cache": False}).details["elements"] == 1


def test_an_element_whose_geometry_fails_is_skipped_counted_and_listed(tmp_path):
    source = load(IFC / "broken" / "skipped_geometry.ifc", {"cache_dir": str(tmp_path)})
    assert source.details["elements"] == 1 and source.details["skipped"] == 1
    [item] = source.skipped
    assert item["id"] == "1kTvXnbbzCWw8lcMd1dR4o" and item["class"] == "IfcBuildingElementProxy"
    assert item["entity"] == "#900" and item["reason"]
    assert "1 elements without geometry" in source.warnings[-1]


def test_georeference_in_us_survey_feet_and_old_unit_scales():
    from loaders.ifc.georef import resolve

    feet = 1200 / 3937
    declared = {
        "unit_scale": 0.001,
        "length_unit": "MILLIMETRE",
        "site": None,
        "true_north_deg": None,
        "map": {
            "method": "IfcMapConversion",
            "crs": "EPSG:2227",
            "map_unit_scale": feet,
            "eastings": 6_000_000.0,
            "northings": 2_000_000.0,
            "height": 100.0,
            "x_axis": [0.0, 1.0],
            "scale": 1.0,
        },
    }
    georef, warnings = resolve(declared)
    assert georef.crs == "EPSG:2227" and warnings == []
    x, y, z = georef.apply(np.array([[feet, 0.0, 1.0]]))[0]  # one foot east of the origin, 1 m up
    assert np.allclose([x, y, z], [6_000_000.0, 2_000_001.0, 100.0 * feet + 1.0])
    declared["map"].update(scale=0.001 / feet)  # an old export that put the unit ratio into Scale
    assert resolve(declared)[0].scale == 1.0
    declared["map"] = None
    assert resolve(declared, "map")[0].crs is None and "no map conversion" in resolve(declared, "map")[1][0]


@pytest.mark.parametrize(
    "written, read_as",
    [
        ("IFC4X3_RC2", "IFC4X3_ADD2"),
        ("IFC4X3", "IFC4X3_ADD2"),
        ("IFC4_ADD2", "IFC4"),
        ("IFC2X3_TC1", "IFC2X3"),
        ("IFC4", "IFC4"),
    ],
)
def test_schema_names_and_what_they_are_read_as(written, read_as, tmp_path):
    path = tmp_path / "x.ifc"
    path.write_bytes(BASIC.read_bytes().replace(b"FILE_SCHEMA(('IFC4'))", f"FILE_SCHEMA(('{written}'))".encode()))
    info = header.check(path)
    assert (info.schema, info.read_as, info.needs_fallback) == (written, read_as, written != read_as)


def test_a_model_the_manifest_places_keeps_its_local_coordinates(tmp_path):
    """A placed model is not also moved by its own map conversion (the loader is told it is placed)."""
    import twin

    sample = DATA / "ifc" / "pass-grf000-correct_georeferencing.ifc"
    scene = tmp_path / "placed.toml"
    scene.write_text(
        f'name = "placed"\n[[sources]]\npath = "{sample}"\nplacement = {{ offset = [1000.0, 2000.0, 0.0] }}\n'
    )
    placed = twin.load(scene)
    x, y, _ = placed.assets.centres[0]
    assert 900 < x < 1100 and 1900 < y < 2100
    assert "local" in placed.sources[0].details["georeference"]["method"]
