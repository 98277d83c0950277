"""Positions come from the points, never from a header that lies; files that would hang or
decode forever are refused or bounded by the point budget (issue #18)."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import laspy
import numpy as np
import pytest
from conftest import DATA, twin_cli

from loaders.pointcloud import load
from loaders.pointcloud.preview import OVERSAMPLE
from twin.errors import InputError

PC = DATA / "pointcloud"
#: where LAS 1.0-1.4 headers keep max x, min x, max y, min y, max z, min z (float64 each)
BOUNDS_AT = 179


@pytest.fixture(autouse=True)
def preview_cache(tmp_path, monkeypatch) -> Path:
    """Previews are kept in a folder of the test's own."""
    monkeypatch.setenv("CIM_TWIN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def laspy_xyz(path: Path) -> np.ndarray:
    las = laspy.read(path)
    return np.column_stack([las.x, las.y, las.z])


def assert_positions(part, expected: np.ndarray) -> None:
    """Every point at its true world position, to within one float32 step of its local value."""
    local = expected - part.origin
    step = np.spacing(np.float32(max(np.abs(local).max(initial=0), 1.0)))
    np.testing.assert_allclose(part.world_points(), expected, rtol=0, atol=float(step))


def lying_copy(source: Path, target: Path, shift: float) -> Path:
    """A copy of ``source`` whose header bounds are moved ``shift`` units off its points."""
    shutil.copy(source, target)
    with open(target, "r+b") as handle:
        handle.seek(BOUNDS_AT)
        bounds = np.array(struct.unpack("<6d", handle.read(48)))
        handle.seek(BOUNDS_AT)
        handle.write(struct.pack("<6d", *(bounds + shift)))
    return target


def test_simple1_3_points_land_where_laspy_puts_them():
    # its header stores the bounds in record units (x 1000): they would put points ~30 m off
    path = PC / "simple1_3.las"
    expected = laspy_xyz(path)
    loaded = load(path, {})
    part = loaded.parts[0]
    assert_positions(part, expected)
    assert np.abs(part.origin - expected.mean(axis=0)).max() < 1_000
    assert loaded.details["bounds_from"] == "points"
    np.testing.assert_array_equal(loaded.details["bounds"][0::2], expected.min(axis=0))
    np.testing.assert_array_equal(loaded.details["bounds"][1::2], expected.max(axis=0))
    assert any("header's bounds" in w and "taken from the points" in w for w in loaded.warnings)


def test_a_truthful_header_gives_no_warning():
    assert not any("header's bounds" in w for w in load(PC / "simple.las", {}).warnings)


@pytest.mark.parametrize("name", ["simple.las", "simple.laz"])
@pytest.mark.parametrize(
    "options, stream",
    [({}, False), ({"budget": 200}, False), ({"budget": 200}, True)],
    ids=["all points", "sample", "preview"],
)
def test_a_header_that_lies_changes_no_position(monkeypatch, tmp_path, name, options, stream):
    import loaders.pointcloud.reading as reading

    if stream:  # as a LAS too big to hold in memory is read
        monkeypatch.setattr(reading, "STREAM_ABOVE_BYTES", {"las": 0, "laz": 0})
    path = lying_copy(PC / name, tmp_path / f"lying{Path(name).suffix}", shift=5_000.0)
    expected = laspy_xyz(PC / name)
    loaded = load(path, {**options, "origin": [0.0, 0.0, 0.0]})
    part = loaded.parts[0]
    assert any("header's bounds" in w for w in loaded.warnings)
    if not options:
        assert_positions(part, expected)
        return
    # a preview shows some of the file's points, each exactly where it is
    world = part.world_points()
    assert 0 < len(world) <= 200
    nearest = np.abs(world[:, None, :] - expected[None]).max(axis=2).min(axis=1)
    assert nearest.max() < 1e-3


def test_a_lying_header_places_the_scene_by_its_points(tmp_path):
    from twin.loading import load as load_twin

    path = lying_copy(PC / "simple1_1.las", tmp_path / "lying.las", shift=-30.0)
    expected = laspy_xyz(PC / "simple1_1.las")
    twin = load_twin(path)
    lo, hi = expected.min(axis=0), expected.max(axis=0)
    assert np.all(twin.origin >= lo - 1) and np.all(twin.origin <= hi + 1)
    bounds = twin.assets.bounds
    np.testing.assert_array_equal(bounds[:, 0::2].min(axis=0), lo)
    np.testing.assert_array_equal(bounds[:, 1::2].max(axis=0), hi)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_named_las_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.las"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        load(fifo, {})  # opening it would wait for a writer forever
    result = twin_cli("info", fifo, timeout=120)
    assert result.returncode == 2 and "FIFO" in result.stderr


def test_a_folder_named_las_is_refused(tmp_path):
    folder = tmp_path / "cloud.las"
    folder.mkdir()
    with pytest.raises(InputError, match="not a regular file"):
        load(folder, {})


def identical_points_laz(path: Path, n: int) -> Path:
    """``n`` copies of one point, LAZ-compressed (a few bytes per 50,000-point chunk)."""
    header = laspy.LasHeader(point_format=3, version="1.2")
    header.offsets, header.scales = [500_000.0, 3_000_000.0, 0.0], [0.01] * 3
    las = laspy.LasData(header)
    las.x, las.y, las.z = np.full(n, 500_010.0), np.full(n, 3_000_020.0), np.full(n, 12.0)
    las.classification = np.full(n, 2, dtype=np.uint8)
    las.write(path, laz_backend=laspy.LazBackend.LazrsParallel)
    return path


@pytest.mark.slow
def test_the_budget_bounds_the_decode_work_of_a_huge_laz(tmp_path):
    # the file: 500 M identical points in 3.4 MB decoded for 536 s before any budget applied
    path = identical_points_laz(tmp_path / "same.laz", 2_000_000)
    budget = 5_000
    loaded = load(path, {"budget": budget})
    details = loaded.details
    chunks = -(-details["points_total"] // 50_000)
    assert details["points_total"] == 2_000_000
    # decoded: the first points of each chunk, about OVERSAMPLE x the budget, not the file
    assert details["points_read"] <= OVERSAMPLE * budget + chunks
    assert 0 < details["points_shown"] <= budget
    assert details["classes_counted"] == "points read"
    np.testing.assert_array_equal(loaded.parts[0].world_points()[0], [500_010.0, 3_000_020.0, 12.0])


@pytest.mark.parametrize("name", ["sample_c.las", "append-bug.laz"])
def test_a_later_preview_comes_from_the_cache(monkeypatch, preview_cache, name):
    import loaders.pointcloud.reading as reading

    monkeypatch.setattr(reading, "STREAM_ABOVE_BYTES", {"las": 0, "laz": 0})  # a LAS previews when that big
    first = load(PC / name, {"budget": 500})
    again = load(PC / name, {"budget": 500})
    assert first.details["preview"] == "file" and again.details["preview"] == "cache"
    assert list(preview_cache.glob("pointcloud/*.npz"))
    for key in ("points_read", "points_shown", "classes", "bounds"):
        assert again.details[key] == first.details[key]
    np.testing.assert_array_equal(again.parts[0].world_points(), first.parts[0].world_points())
    assert load(PC / name, {"budget": 500, "cache": False}).details["preview"] == "file"


def test_an_edited_file_misses_the_cache(monkeypatch, tmp_path):
    import loaders.pointcloud.reading as reading

    monkeypatch.setattr(reading, "STREAM_ABOVE_BYTES", {"las": 0, "laz": 0})
    path = shutil.copy(PC / "sample_c.las", tmp_path / "edited.las")
    assert load(path, {"budget": 500}).details["preview"] == "file"
    os.utime(path, ns=(1, 1))
    assert load(path, {"budget": 500}).details["preview"] == "file"
