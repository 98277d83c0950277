"""The network commands' scene cache: a second question reads the kept scene, a changed file does not."""

import argparse
import os
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, twin_cli

from twin.faces.commands import scene_cache

PIPES = ROOT / "data_samples" / "demo" / "pipes_water.geojson"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CIM_TWIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(scene_cache.SWITCH_ENV, raising=False)
    return tmp_path / "cache" / "scenes"


def asked(path: Path) -> argparse.Namespace:
    return argparse.Namespace(path=str(path), kind=None, option=["network=water"], budget=None)


def test_a_second_question_reads_the_kept_scene_until_a_file_changes(cache, tmp_path):
    pipes = tmp_path / "pipes.geojson"
    shutil.copy(PIPES, pipes)
    first = scene_cache.load_cached(asked(pipes))
    assert len(list(cache.glob("*.pickle"))) == 1
    kept = scene_cache.read(pipes, None, {"network": "water"})
    assert kept is not None and len(kept.assets) == len(first.assets)
    assert list(kept.assets["id"]) == list(first.assets["id"])
    assert scene_cache.read(pipes, None, {"network": "gas"}) is None  # other options: another entry
    pipes.write_bytes(pipes.read_bytes() + b"\n")  # same meaning, other bytes: loaded afresh
    assert scene_cache.read(pipes, None, {"network": "water"}) is None


def test_an_entry_others_may_write_is_never_unpickled(cache, tmp_path):
    pipes = tmp_path / "pipes.geojson"
    shutil.copy(PIPES, pipes)
    scene_cache.load_cached(asked(pipes))
    entry = next(cache.glob("*.pickle"))
    assert entry.stat().st_mode & 0o077 == 0 and cache.stat().st_mode & 0o077 == 0
    os.chmod(entry, 0o666)
    assert scene_cache.read(pipes, None, {"network": "water"}) is None


def test_the_cache_can_be_turned_off(cache, tmp_path, monkeypatch):
    monkeypatch.setenv(scene_cache.SWITCH_ENV, "off")
    pipes = tmp_path / "pipes.geojson"
    shutil.copy(PIPES, pipes)
    scene_cache.load_cached(asked(pipes))
    assert not cache.exists()


def test_a_manifest_entry_follows_every_file_it_names():
    files = scene_cache.scene_files(ROOT / "scenes" / "demo.toml", None)
    names = {f.name for f in files}
    assert {"demo.toml", "district.city.json", "district_dem.tif", "district_flood.tif", "survey.laz"} <= names
    assert {"pipes_gas.geojson", "AC20-FZK-Haus.ifc", "sensors.csv"} <= names


@pytest.mark.slow
def test_isolate_answers_the_same_from_the_cache(cache):
    fresh = twin_cli("isolate", ROOT / "scenes" / "demo.toml", "W-P020", "--json")
    cached = twin_cli("isolate", ROOT / "scenes" / "demo.toml", "W-P020", "--json")
    nearby = twin_cli("nearby", ROOT / "scenes" / "demo.toml", "W-P020", "--radius", "5", "--json")
    assert fresh.returncode == cached.returncode == nearby.returncode == 0, fresh.stderr + cached.stderr
    assert fresh.stdout == cached.stdout
    assert len(list(cache.glob("*.pickle"))) == 1  # one entry serves every question
