"""Broken point clouds: each gives one clear InputError (exit status 2), never a partial success."""

from __future__ import annotations

import shutil
import struct
import time

import laspy
import pytest
from conftest import DATA, twin_cli

from loaders.pointcloud import load
from twin.errors import InputError

PC = DATA / "pointcloud"


def patched(tmp_path, name: str, offset: int, fmt: str, *values) -> object:
    """A copy of a sample with ``values`` packed at ``offset``."""
    target = tmp_path / name
    shutil.copy(PC / name, target)
    data = bytearray(target.read_bytes())
    struct.pack_into(fmt, data, offset, *values)
    target.write_bytes(bytes(data))
    return target


def truncated(tmp_path, name: str, keep: int):
    target = tmp_path / name
    target.write_bytes((PC / name).read_bytes()[:keep])
    return target


def test_garbage_vlr_count_rejected_before_laspy_sees_it():
    started = time.perf_counter()
    with pytest.raises(InputError, match="1,069,128,089 VLRs") as info:
        load(PC / "garbage_nVariableLength.las", {})
    assert time.perf_counter() - started < 5  # no allocation for a billion VLRs
    assert info.value.where == "byte 100"


def test_header_claiming_2_to_the_40_points(tmp_path):
    path = patched(tmp_path, "test1_4.las", 247, "<Q", 2**40)
    with pytest.raises(InputError, match="1,099,511,627,776 points") as info:
        load(path, {})
    assert "1,000 complete points" in str(info.value)


def test_laz_header_claiming_2_to_the_40_points(tmp_path):
    path = patched(tmp_path, "append-bug.laz", 247, "<Q", 2**40)
    with pytest.raises(InputError, match="lying header"):
        load(path, {})


def test_truncated_las_says_expected_and_actual(tmp_path):
    header = laspy.open(PC / "simple.las").header
    keep = header.offset_to_point_data + 500 * header.point_format.size + 7
    path = truncated(tmp_path, "simple.las", keep)
    with pytest.raises(InputError, match="1,065 points .* 500 complete points") as info:
        load(path, {})
    assert "partial=true" in info.value.hint
    loaded = load(path, {"partial": True})
    assert loaded.details["points_shown"] == 500
    assert any("truncated" in w for w in loaded.warnings)


def test_truncated_laz(tmp_path):
    path = truncated(tmp_path, "append-bug.laz", 120_000)
    with pytest.raises(InputError):
        load(path, {})


def test_shifted_laz_chunk_table_rejected_before_lazrs_reads_it(tmp_path):
    # 80 bytes inserted into the compressed points: the chunk table offset now points at garbage,
    # whose chunk count made lazrs abort the whole process (allocation failure) before this check
    data = bytearray((PC / "simple.laz").read_bytes())
    start = laspy.open(PC / "simple.laz").header.offset_to_point_data + 8
    data[start + 200 : start + 200] = bytes(range(80))
    path = tmp_path / "shifted.laz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt LAZ chunk table"):
        load(path, {})


def test_scrambled_laz_points_never_escape_as_a_raw_error(tmp_path):
    data = bytearray((PC / "simple.laz").read_bytes())
    start = laspy.open(PC / "simple.laz").header.offset_to_point_data + 8
    data[start + 200 : start + 3000] = bytes(range(200)) * 14
    path = tmp_path / "scrambled.laz"
    path.write_bytes(bytes(data))
    try:  # LAZ has no checksums: garbage may decode to garbage, but never to a PanicException
        load(path, {})
    except InputError:
        pass


def test_not_a_las_file(tmp_path):
    path = tmp_path / "notes.las"
    path.write_text("x,y,z\n1,2,3\n")
    with pytest.raises(InputError, match="not a LAS file"):
        load(path, {})


def test_corrupt_vlr_length(tmp_path):
    # the first VLR header starts right after the 227-byte public header; its length is at +20
    path = patched(tmp_path, "autzen-utm.las", 227 + 20, "<H", 65535)
    with pytest.raises(InputError, match="VLR 0 .* running past the start of the point data"):
        load(path, {})


def test_corrupt_crs_vlr_payload_is_a_warning(tmp_path):
    # garbage inside the GeoKey directory: the points are fine, the CRS is not believed
    path = patched(tmp_path, "autzen-utm.las", 227 + 54, "<4H", 9, 9, 9, 60000)
    loaded = load(path, {})
    assert loaded.crs is None or loaded.crs == "EPSG:26910"
    assert loaded.details["points_shown"] == 1065


def test_laz_without_a_backend(monkeypatch):
    monkeypatch.setattr(laspy.LazBackend, "is_available", lambda self: False)
    with pytest.raises(InputError, match="no LAZ decoder") as info:
        load(PC / "simple.laz", {})
    assert "lazrs" in info.value.hint


@pytest.mark.parametrize(
    "options", [{"budget": 0}, {"budget": "many"}, {"render": "wall"}, {"box": [1, 0, 0, 1]}, {"level": -1}]
)
def test_bad_options(options):
    with pytest.raises(InputError, match="option"):
        load(PC / "simple.las", options)


def test_cli_error_line_and_status(tmp_path):
    run = twin_cli("info", PC / "garbage_nVariableLength.las")
    assert run.returncode == 2
    assert run.stderr.startswith(f"twin: error: {PC / 'garbage_nVariableLength.las'}: byte 100: header claims")


def test_a_lazrs_panic_becomes_an_input_error(tmp_path):
    from loaders.pointcloud.read import native_errors

    class PanicException(BaseException):  # what pyo3 raises when Rust code panics
        pass

    with pytest.raises(InputError, match="the LAZ decoder crashed"):
        with native_errors(tmp_path / "x.laz", "cannot decompress the points"):
            raise PanicException("index out of bounds")
    with pytest.raises(KeyboardInterrupt):
        with native_errors(tmp_path / "x.laz", "cannot decompress the points"):
            raise KeyboardInterrupt


def test_header_under_counting_points_is_a_warning(tmp_path):
    path = patched(tmp_path, "simple.las", 107, "<I", 1000)
    loaded = load(path, {})
    assert loaded.details["points_total"] == 1000
    assert any("under-count" in w for w in loaded.warnings)


def test_laz_without_a_chunk_table(tmp_path):
    offset = laspy.open(PC / "simple.laz").header.offset_to_point_data
    path = patched(tmp_path, "simple.laz", offset, "<q", -1)
    with pytest.raises(InputError, match="chunk table is missing"):
        load(path, {})
