"""The synthetic megacity (``data_samples/megacity/make_city.py``) and its committed sample scene.

The generator must be deterministic (same seed, same bytes), write what the project's own
loaders read without a warning, and keep the committed sample in step with its default run.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import DATA, SCENES, twin_cli

import twin
from twin.risk.sensors import read_sensors
from twin.risk.static import read_features

MEGACITY = DATA / "megacity"
SAMPLE = MEGACITY / "sample"
SCENE = SCENES / "megacity_sample.toml"
FILES = (
    "buildings.city.jsonl",
    "addresses.parquet",
    "pipes_water.geojson",
    "pipes_gas.geojson",
    "pipes_drainage.geojson",
    "risk_sources.geojson",
    "grids.geojson",
    "sensors.csv",
    "city.json",
)


@pytest.fixture(scope="module")
def make_city() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_city", MEGACITY / "make_city.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_city"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def small(make_city: ModuleType, seed: int = 1) -> object:
    return make_city.Sizes(300, 90, 40, 7, 30, 1_000, seed=seed)


@pytest.fixture(scope="module")
def city(make_city: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    make_city.generate(out, small(make_city))
    return out


def test_same_seed_same_bytes_other_seed_other_city(make_city: ModuleType, city: Path, tmp_path: Path) -> None:
    make_city.generate(tmp_path / "again", small(make_city))
    make_city.generate(tmp_path / "other", small(make_city, seed=2))
    for name in FILES:
        assert (tmp_path / "again" / name).read_bytes() == (city / name).read_bytes(), name
    assert (tmp_path / "other" / "buildings.city.jsonl").read_bytes() != (city / "buildings.city.jsonl").read_bytes()


def test_buildings_are_cityjson_2_lod1_and_lod2_with_standard_addresses(city: Path) -> None:
    lines = (city / "buildings.city.jsonl").read_text(encoding="utf-8").splitlines()
    header, features = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["type"] == "CityJSON" and header["version"] == "2.0"
    assert header["metadata"]["referenceSystem"].endswith("/EPSG/0/4549")
    assert len(features) == 300
    objects = [next(iter(f["CityObjects"].values())) for f in features]
    lods = [[g["lod"] for g in o["geometry"]] for o in objects]
    assert {tuple(lod) for lod in lods} == {("1",), ("1", "2.2")}
    assert 0.15 < sum(len(lod) == 2 for lod in lods) / len(lods) < 0.45  # --lod2-share 0.3
    codes = [o["attributes"]["address"] for o in objects]
    assert all(len(c) == 19 and c.isdigit() and c.endswith("00") and c[:4] == "3201" for c in codes)
    assert len(set(codes)) == len(codes)
    first = objects[0]["attributes"]
    assert first["address_text"].startswith("江苏省南京市") and first["address_text"].endswith("号")
    assert {"name", "function", "usage", "storeysAboveGround", "measuredHeight", "roofType"} <= set(first)


def test_address_table_is_sorted_by_code_with_every_building(city: Path) -> None:
    table = pq.read_table(city / "addresses.parquet")
    assert table.column_names == ["code", "text", "building", "x", "y"] and len(table) == 1_000
    codes = table["code"].to_pylist()
    assert codes == sorted(codes) and len(set(codes)) == len(codes)
    own = pc.ends_with(table["code"], "00")
    assert pc.count_distinct(pc.filter(table["building"], own)).as_py() == 300  # each building's own address
    units = table.filter(pc.invert(own))["text"].to_pylist()
    assert units and all(t.endswith("单元") for t in units)


def test_the_project_loaders_read_the_generated_city_without_warnings(city: Path) -> None:
    loaded = twin.load(city / "buildings.city.jsonl")
    assert loaded.warnings == [] and all(not s.warnings for s in loaded.sources)
    assert len(loaded.assets) == 300 and loaded.crs == "EPSG:4549"
    for network in ("water", "gas", "drainage"):
        pipes = twin.load(city / f"pipes_{network}.geojson", options={"network": network})
        assert [w for s in pipes.sources for w in s.warnings] == []
        assert (pipes.assets["kind"] == "pipe").sum() == 30
    assert len(read_features(city / "risk_sources.geojson", True)) == 40
    assert len(read_features(city / "grids.geojson", False)) == 7


def test_sensors_watch_assets_that_exist(city: Path) -> None:
    rows = list(csv.DictReader((city / "sensors.csv").open(encoding="utf-8")))
    assert len(rows) == 30 and {r["quantity"] for r in rows} == {"gas", "pressure", "water_level"}
    buildings = {f"B{i:07d}" for i in range(300)}
    pipes = {f"{p}-P{k:06d}" for p in "WD" for k in range(1, 31)}
    assert {r["asset"] for r in rows} <= buildings | pipes


def test_sample_is_the_generators_default_run(make_city: ModuleType, tmp_path: Path) -> None:
    make_city.main([str(tmp_path)])
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), f"regenerate the sample: {name}"
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 5_000_000


def test_sample_scene_loads_without_warnings_and_its_sensors_resolve() -> None:
    scene = twin.load(SCENE)
    assert scene.warnings == [] and [s.name for s in scene.sources if s.error or s.warnings] == []
    kinds = scene.assets["kind"]
    assert (kinds == "Building").sum() == 2_000 and (kinds == "pipe").sum() == 400
    assert scene.crs == "EPSG:4549" and scene.live["rules"].exists()
    assert read_sensors(scene.live["sensors"], scene.assets).warnings == []
    assert len(read_features(scene.live["risk_sources"], True)) == 500
    assert len(read_features(scene.live["grids"], False)) == 50
    addresses = scene.assets["address"][kinds == "Building"]
    assert np.all(np.strings.str_len(addresses) == 19)


def test_twin_info_reads_the_sample_scene() -> None:
    result = twin_cli("info", SCENE, "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["warnings"] == [] and info["assets"] == 2_000 + 400 + 240 and info["crs"] == "EPSG:4549"
