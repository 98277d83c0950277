"""The tile tree kept between starts (twin.streaming.tree_cache): the same tree as the JSON gives,
read again only when a JSON file of it changed, and never a reason for a start to fail."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA
from tileset_builder import build_city

from twin.streaming import read_tileset, tree_cache

#: a foreign tileset to keep too (b3dm contents, regions)
CITY_B3DM = DATA / "tilesets" / "city_b3dm" / "tileset.json"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("CIM_TWIN_CACHE", str(folder))
    monkeypatch.delenv(tree_cache.SWITCH_ENV, raising=False)
    return folder / "tilesets"


@pytest.fixture
def city(tmp_path) -> Path:
    folder = tmp_path / "city"
    folder.mkdir()
    build_city(folder, side=6, levels=3, points_per_asset=20)
    return folder


def same_tree(a, b) -> None:
    for name in tree_cache.ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.children == b.children and a.layers == b.layers and a.extras == b.extras
    assert a.root_error == b.root_error and a.path == b.path
    assert [[(c.file, c.layer) for c in t] for t in a.contents] == [[(c.file, c.layer) for c in t] for t in b.contents]


def test_the_kept_tree_is_the_tree_the_json_gives(city, cache):
    fresh = read_tileset(city)  # not cached: nothing kept
    assert not cache.exists()
    first = read_tileset(city, cached=True)
    assert len(list(cache.glob("*.npz"))) == 1
    kept = read_tileset(city, cached=True)
    assert isinstance(kept.contents, tree_cache.KeptContents)
    same_tree(fresh, first)
    same_tree(fresh, kept)
    assert kept.city is not None and kept.city["crs"] == "EPSG:32650"
    leaf = int(np.flatnonzero([len(c) for c in fresh.contents])[-1])
    assert kept.contents[leaf][0].path == fresh.contents[leaf][0].path and kept.contents[-1] == kept.contents[leaf:][-1]


def test_a_changed_tileset_is_read_again(city, cache):
    read_tileset(city, cached=True)
    document = city / "tileset.json"
    text = document.read_text().replace('"geometricError"', '"geometricError" ', 1)
    document.write_text(text)
    stat = document.stat()
    os.utime(document, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert tree_cache.load(document) is None  # its size and time no longer match
    same_tree(read_tileset(city), read_tileset(city, cached=True))
    assert tree_cache.load(document) is not None


def test_a_foreign_tileset_is_kept_too(tmp_path, cache):
    folder = Path(shutil.copytree(CITY_B3DM.parent, tmp_path / "b3dm"))
    same_tree(read_tileset(folder), read_tileset(folder, cached=True))
    same_tree(read_tileset(folder), read_tileset(folder, cached=True))


def test_a_changed_external_tileset_reads_the_json_again(city, cache):
    """A root whose content is the city's tileset.json: the kept tree depends on both files."""
    root = json.loads((city / "tileset.json").read_text())["root"]
    wrapper = {
        "asset": {"version": "1.1"},
        "geometricError": 1000.0,
        "root": {
            "boundingVolume": root["boundingVolume"],
            "geometricError": 1000.0,
            "refine": "REPLACE",
            "content": {"uri": "city/tileset.json"},
        },
    }
    outer = city.parent / "outer.json"
    outer.write_text(json.dumps(wrapper))
    same_tree(read_tileset(outer), read_tileset(outer, cached=True))
    assert tree_cache.load(outer) is not None
    inner = city / "tileset.json"
    os.utime(inner, ns=(0, inner.stat().st_mtime_ns + 1_000_000))
    assert tree_cache.load(outer) is None


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 not an archive", b"\x93NUMPY truncated"])
def test_a_damaged_entry_reads_the_json(city, cache, damage):
    read_tileset(city, cached=True)
    (entry,) = cache.glob("*.npz")
    entry.write_bytes(damage)
    same_tree(read_tileset(city), read_tileset(city, cached=True))


def test_switched_off_or_unwritable_the_json_is_read(city, cache, monkeypatch):
    monkeypatch.setenv(tree_cache.SWITCH_ENV, "off")
    read_tileset(city, cached=True)
    assert not cache.exists()
    monkeypatch.delenv(tree_cache.SWITCH_ENV)
    cache.parent.mkdir(parents=True)
    cache.write_text("a file where the folder should be")  # the entry cannot be written
    same_tree(read_tileset(city), read_tileset(city, cached=True))
