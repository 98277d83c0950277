"""CityJSON loader on the real samples (cjio's test data) and on broken fixtures made in tmp_path."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, DEMO

import twin
from loaders import cityjson
from loaders.polygons import triangulate
from twin.errors import InputError

CITY = DATA / "city"
DELFT = CITY / "delft.json"
DEN_HAAG = CITY / "DH_01_subs.city.json"
ROTTERDAM = CITY / "rotterdam_subset.json"
SAMPLES = {"delft": DELFT, "den_haag": DEN_HAAG, "rotterdam": ROTTERDAM}


def _raw(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("path", SAMPLES.values(), ids=SAMPLES.keys())
def test_object_counts_per_type_equal_the_files(path: Path) -> None:
    loaded = cityjson.load(path, {})
    expected = Counter(o["type"] for o in _raw(path)["CityObjects"].values())
    assert loaded.details["objects"] == dict(expected)
    kinds = Counter(k for part in loaded.parts for k in part.assets["kind"].tolist())
    assert kinds == expected
    assert not loaded.skipped


@pytest.mark.parametrize("path", SAMPLES.values(), ids=SAMPLES.keys())
def test_bounds_equal_the_transformed_vertices(path: Path) -> None:
    document = _raw(path)
    t = document["transform"]
    vertices = np.asarray(document["vertices"], dtype=np.float64) * t["scale"] + t["translate"]
    loaded = twin.load(path)
    # every vertex used by a surface is drawn; these files use all their vertices
    np.testing.assert_allclose(loaded.bounds[0::2], vertices.min(axis=0), atol=2e-3)
    np.testing.assert_allclose(loaded.bounds[1::2], vertices.max(axis=0), atol=2e-3)


def test_crs_is_reported() -> None:
    assert cityjson.load(DELFT, {}).crs == "EPSG:7415"
    assert cityjson.load(DEN_HAAG, {}).crs is None
    assert cityjson.load(ROTTERDAM, {}).crs is None


def test_parts_have_parent_and_children() -> None:
    loaded = cityjson.load(DEN_HAAG, {})
    (part,) = loaded.parts  # BuildingParts are drawn in the Building layer
    assets = part.assets
    raw = _raw(DEN_HAAG)["CityObjects"]
    for row, object_id in enumerate(assets["id"].tolist()):
        obj = raw[object_id]
        assert assets["parent"][row] == (obj.get("parents") or [""])[0]
        assert assets["children"][row] == len(obj.get("children") or [])


def test_semantic_surfaces_are_kept_per_cell() -> None:
    loaded = cityjson.load(ROTTERDAM, {})
    types = loaded.details["surface_types"]
    assert {"RoofSurface", "WallSurface", "GroundSurface"} <= set(types)
    codes = np.asarray(loaded.parts[0].dataset.cell_data["surface"])
    named = {types[c] for c in np.unique(codes)}
    assert {"RoofSurface", "WallSurface", "GroundSurface"} <= named


def test_surface_area_is_preserved_by_triangulation() -> None:
    """Each LoD2 building's triangles cover exactly the area of its polygons (Newell area)."""
    loaded = cityjson.load(ROTTERDAM, {})
    mesh = loaded.parts[0].dataset
    document = _raw(ROTTERDAM)
    t = document["transform"]
    vertices = np.asarray(document["vertices"], dtype=np.float64) * t["scale"] + t["translate"]
    expected = 0.0
    for obj in document["CityObjects"].values():
        for surface in obj["geometry"][0]["boundaries"]:
            for k, ring in enumerate(surface):
                p = vertices[ring] - vertices[ring[0]]
                area = np.linalg.norm(np.cross(p, np.roll(p, -1, axis=0)).sum(axis=0)) / 2
                expected += area if k == 0 else -area
    assert mesh.compute_cell_sizes()["Area"].sum() == pytest.approx(expected, rel=1e-6)


def test_polygon_with_hole_triangulates_to_its_area() -> None:
    points = np.array(
        [
            [0, 0, 0],
            [10, 0, 0],
            [10, 10, 0],
            [0, 10, 0],
            [2, 2, 0],
            [2, 8, 0],
            [8, 8, 0],
            [8, 2, 0],
            [0, 0, 5],
            [10, 0, 5],
            [10, 4, 5],
            [4, 4, 5],
            [4, 10, 5],
            [0, 10, 5],
        ],
        dtype=float,
    ) + [4e5, 4e6, 0]
    flat = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0, 1, 2, 0, 1, 9, 8])
    result = triangulate(points, flat, np.array([4, 4, 6, 3, 4]), np.array([2, 1, 1, 1]))
    a = points[result.ids[:, 1]] - points[result.ids[:, 0]]
    b = points[result.ids[:, 2]] - points[result.ids[:, 0]]
    area = np.linalg.norm(np.cross(a, b), axis=1) / 2
    np.testing.assert_allclose(np.bincount(result.surface, area), [64, 64, 50, 50])


def test_lod_is_selectable(tmp_path: Path) -> None:
    geometry = [
        {"type": "MultiSurface", "lod": "1", "boundaries": [[[0, 1, 2]]]},
        {"type": "MultiSurface", "lod": "2.2", "boundaries": [[[0, 1, 2, 3]]]},
    ]
    path = _write(tmp_path, {"b1": {"type": "Building", "geometry": geometry}})
    assert cityjson.load(path, {}).parts[0].assets["lod"][0] == "2.2"
    low = cityjson.load(path, {"lod": 1})
    assert low.parts[0].assets["lod"][0] == "1" and low.parts[0].dataset.n_cells == 1


def test_cityjsonseq_loads_like_cityjson(tmp_path: Path) -> None:
    document = _raw(DEN_HAAG)
    header = {k: v for k, v in document.items() if k not in ("CityObjects", "vertices")}
    header.update(CityObjects={}, vertices=[])
    lines = [json.dumps(header)]
    for object_id, obj in document["CityObjects"].items():
        if obj.get("parents"):
            continue
        members = [object_id, *obj.get("children", [])]
        lines.append(
            json.dumps(
                {
                    "type": "CityJSONFeature",
                    "id": object_id,
                    "vertices": document["vertices"],
                    "CityObjects": {m: document["CityObjects"][m] for m in members},
                }
            )
        )
    path = tmp_path / "dh.city.jsonl"
    path.write_text("\n".join(lines) + "\n")
    seq, plain = twin.load(path), twin.load(DEN_HAAG)
    assert seq.sources[0].details["objects"] == plain.sources[0].details["objects"]
    assert seq.sources[0].details["features"] == 4
    np.testing.assert_allclose(seq.bounds, plain.bounds)


def test_demo_scene_loads_the_district() -> None:
    scene = twin.load(DEMO)
    assert not scene.warnings
    buildings = [layer for layer in scene.layers if layer.name.endswith("/Building")]
    assert buildings and buildings[0].n_assets == 28


# -- broken files ---------------------------------------------------------------------------------
VERTICES = [[0, 0, 0], [1000, 0, 0], [1000, 1000, 0], [0, 1000, 0]]


def _write(tmp_path: Path, objects: dict, **top) -> Path:
    document = {
        "type": "CityJSON",
        "version": "2.0",
        "transform": {"scale": [0.001] * 3, "translate": [0, 0, 0]},
        "CityObjects": objects,
        "vertices": VERTICES,
        **top,
    }
    path = tmp_path / "broken.city.json"
    path.write_text(json.dumps({k: v for k, v in document.items() if v is not None}))
    return path


def _square(ring=(0, 1, 2, 3), kind="MultiSurface") -> dict:
    return {"type": "Building", "geometry": [{"type": kind, "lod": "1", "boundaries": [[list(ring)]]}]}


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.city.json"
    path.write_text('{"type": "CityJSON",\n "version": "2.0",\n "CityObjects": {,}}')
    with pytest.raises(InputError, match=r"bad.city.json: line 3: invalid JSON: .* \(column \d+\)"):
        twin.load(path)


def test_missing_transform_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="transform: missing"):
        cityjson.load(_write(tmp_path, {"a": _square()}, transform=None), {})


def test_bad_objects_are_skipped_and_the_rest_loads(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {"good": _square(), "far": _square((0, 1, 2, 99)), "odd": _square(kind="Spline"), "junk": _square(("a", 1, 2))},
    )
    loaded = cityjson.load(path, {})
    reasons = {s["id"]: s["reason"] for s in loaded.skipped}
    assert set(reasons) == {"far", "odd", "junk"}
    assert "vertex index 99 out of range" in reasons["far"]
    assert "unknown geometry type 'Spline'" in reasons["odd"]
    assert loaded.parts[0].assets["id"].tolist() == ["good"]
    assert loaded.warnings and "3 city objects skipped" in loaded.warnings[0]


def test_a_file_with_only_bad_objects_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r'CityObjects\["far"\]: vertex index 7 out of range'):
        cityjson.load(_write(tmp_path, {"far": _square((0, 1, 7))}), {})
    with pytest.raises(InputError, match="unknown geometry type"):
        cityjson.load(_write(tmp_path, {"odd": _square(kind="Spline")}), {})


def test_cli_prints_one_line_error(tmp_path: Path, capsys) -> None:
    from twin.faces.cli import main

    path = _write(tmp_path, {"far": _square((0, 1, 7))})
    assert main(["info", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"twin: error: {path}: CityObjects")


def test_geometry_instances_place_their_template(tmp_path: Path) -> None:
    """A tree template (a unit triangle) instanced twice: scaled by the matrix, moved to each reference point."""
    templates = {
        "templates": [{"type": "MultiSurface", "lod": "1", "boundaries": [[[0, 1, 2]]]}],
        "vertices-templates": [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
    }
    matrix = [2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]
    trees = {
        f"tree{i}": {
            "type": "SolitaryVegetationObject",
            "geometry": [
                {"type": "GeometryInstance", "template": 0, "boundaries": [i], "transformationMatrix": matrix}
            ],
        }
        for i in (1, 3)
    }
    loaded = cityjson.load(_write(tmp_path, trees, **{"geometry-templates": templates}), {})
    mesh = loaded.parts[0].dataset
    assert mesh.n_cells == 2 and not loaded.skipped
    np.testing.assert_allclose(mesh.bounds, [0, 3, 0, 1, 0, 2])  # (1,0,0)+(0..2,0,0..2) and (0,1,0)+...


def test_a_broken_cityjsonseq_line_is_named(tmp_path: Path) -> None:
    header = {
        "type": "CityJSON",
        "version": "2.0",
        "transform": {"scale": [1, 1, 1], "translate": [0, 0, 0]},
        "CityObjects": {},
        "vertices": [],
    }
    feature = {
        "type": "CityJSONFeature",
        "id": "a",
        "CityObjects": {"a": _square((0, 1, 2))},
        "vertices": [[0, 0, 0], [1, 0, 0], [1, 1, 0]],
    }
    path = tmp_path / "tile.city.jsonl"
    path.write_text(f'{json.dumps(header)}\n{json.dumps(feature)}\n{{"type": "CityJSONFeature", \n')
    with pytest.raises(InputError, match="tile.city.jsonl: line 3: invalid JSON"):
        cityjson.load(path, {})


def test_a_bad_lod_option_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="options.lod: lod must be a number"):
        cityjson.load(_write(tmp_path, {"a": _square()}), {"lod": "high"})


def test_the_manifest_gives_the_crs_a_file_lacks() -> None:
    from conftest import SCENES

    scene = twin.load(SCENES / "netherlands_lod2.toml")
    assert scene.crs == "EPSG:7415"
    assert [s.crs for s in scene.sources] == ["EPSG:7415", "EPSG:7415"]
    assert not any("declares no CRS" in w for s in scene.sources for w in s.warnings)


@pytest.mark.parametrize("name", ["delft", "netherlands_lod2", "ky4_terrain", "demo"])
def test_city_scenes_load_without_errors(name: str) -> None:
    from conftest import SCENES

    scene = twin.load(SCENES / f"{name}.toml")
    assert all(s.error is None for s in scene.sources) and len(scene.assets)
