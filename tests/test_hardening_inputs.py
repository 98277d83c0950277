"""Hostile and unlucky inputs of issue #18 that once gave a traceback, a hang or silent nonsense.

Each ends in exit status 2 with one line naming the file, the place and the problem, or in a
load with a warning; the wider sweep over every loader kind lives in ``tests/fuzz/``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, USER_CWD, twin_cli

import twin
from twin.assets import AssetTable
from twin.errors import InputError, ManifestError
from twin.layer import LayerPart
from twin.scene import Twin
from twin.source import LoadedSource

DEN_HAAG = DATA / "city" / "DH_01_subs.city.json"
GML = DATA / "city" / "Building_LOD2-EPSG25832.gml"
DEM = DATA / "terrain" / "ky4_elevation.tif"
BASIC_IFC = DATA / "ifc" / "basic.ifc"


def _one_line_error(*args: str | Path) -> str:
    """Run ``twin`` and return its one error line, asserting exit 2 and no traceback."""
    result = twin_cli(*args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twin: error: "), result.stderr
    return lines[0]


def _manifest(tmp_path: Path, head: str, name: str = "scene.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'{head}\nname = "x"\n[[sources]]\npath = "{DEN_HAAG}"\n', encoding="utf-8")
    return path


# -- manifests ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("head", "where", "problem"),
    [
        ("bookmarks = 5", "key bookmarks", "must be an array of tables"),
        ("styles = 5", "key styles", "must be a table"),
        ('crs = "EPSG:999999"', "key crs", "unknown CRS 'EPSG:999999'"),
        ('crs = "+proj=nonsense"', "key crs", "unknown CRS"),
        ("origin = [nan, 0, 0]", "key origin[0]", "must be a finite number"),
        ("origin = [inf, 0, 0]", "key origin[0]", "must be a finite number"),
        ("origin = [1e308, 0, 0]", "key origin[0]", "must be at most 1e+09"),
        (f"origin = [{'9' * 5000}, 0, 0]", None, "an integer longer than the limit of 4,300 digits"),
        ("x = " + "[" * 100_000 + "]" * 100_000, None, "nested deeper than the limit of 32 levels"),
    ],
    ids=["bookmarks-int", "styles-int", "crs-unknown", "crs-bad-proj", "nan", "inf", "1e308", "5000-digits", "deep"],
)
def test_a_malformed_manifest_is_one_error_naming_the_key(tmp_path, head, where, problem) -> None:
    path = _manifest(tmp_path, head)
    with pytest.raises(ManifestError) as caught:
        twin.load(path)
    assert caught.value.where == where and problem in caught.value.problem


def test_a_placement_of_nan_or_huge_scale_is_refused(tmp_path) -> None:
    path = tmp_path / "placed.toml"
    path.write_text(f'name = "x"\n[[sources]]\npath = "{DEN_HAAG}"\nplacement = {{ scale = nan }}\n')
    with pytest.raises(ManifestError, match="finite"):
        twin.load(path)
    path.write_text(f'name = "x"\n[[sources]]\npath = "{DEN_HAAG}"\nplacement = {{ scale = 1e300 }}\n')
    with pytest.raises(ManifestError, match="at most"):
        twin.load(path)


def test_a_proj_string_crs_is_kept_and_reprojects(tmp_path) -> None:
    proj = "+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    scene = twin.load(_manifest(tmp_path, f'crs = "{proj}"'))
    assert scene.crs == proj and not any(s.error for s in scene.sources)


def test_a_directory_named_toml_and_a_nul_byte_are_one_line_errors(tmp_path) -> None:
    (tmp_path / "dir.toml").mkdir()
    assert "is a directory, not a file" in _one_line_error("info", tmp_path / "dir.toml")
    nul = tmp_path / "nul.toml"
    nul.write_text('name = "x"\n[[sources]]\npath = "a\\u0000b.json"\n')
    line = _one_line_error("info", nul)
    assert "key sources[0].path" in line and "NUL byte" in line


def test_a_fifo_is_refused_at_once_and_a_symlink_keeps_the_given_name(tmp_path) -> None:
    fifo = tmp_path / "cloud.las"
    os.mkfifo(fifo)
    assert "is not a regular file but a FIFO" in _one_line_error("info", fifo)  # returns: never opened
    link = tmp_path / "link.city.json"
    link.symlink_to(DEN_HAAG)
    assert twin.load(link).assets["id"].size == twin.load(DEN_HAAG).assets["id"].size
    dangling = tmp_path / "gone.city.json"
    dangling.symlink_to(tmp_path / "nothing")
    assert f"{dangling}: no such file" in _one_line_error("info", dangling)


# -- data files --------------------------------------------------------------------------------
def test_cityjson_nested_100000_deep_is_one_line(tmp_path) -> None:
    path = tmp_path / "deep.city.json"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(f'{{"type": "CityJSON", "version": "2.0", "CityObjects": {{}}, "vertices": {deep}}}')
    assert "nested deeper than" in _one_line_error("info", path)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-1e308", "1e400"])
def test_cityjson_non_finite_or_huge_vertices_name_the_vertex(tmp_path, value) -> None:
    document = json.loads(DEN_HAAG.read_text())
    text = json.dumps(document).replace(json.dumps(document["vertices"][:1])[1:-1], f"[{value}, 0, 0]", 1)
    path = tmp_path / "bad.city.json"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        twin.load(path)
    assert caught.value.where == "vertices[0]"


@pytest.mark.parametrize("key", ["scale", "translate"])
def test_cityjson_non_finite_transform_is_refused(tmp_path, key) -> None:
    document = json.loads(DEN_HAAG.read_text())
    document["transform"][key][1] = float("nan")
    path = tmp_path / "bad.city.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="finite") as caught:
        twin.load(path)
    assert caught.value.where == "transform"


def test_citygml_with_20000_nested_building_parts_is_one_line(tmp_path) -> None:
    opening = "<bldg:consistsOfBuildingPart><bldg:BuildingPart>" * 20_000
    closing = "</bldg:BuildingPart></bldg:consistsOfBuildingPart>" * 20_000
    path = tmp_path / "nested.gml"
    path.write_text(
        '<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" '
        'xmlns:bldg="http://www.opengis.net/citygml/building/2.0"><core:cityObjectMember>'
        f"<bldg:Building>{opening}{closing}</bldg:Building></core:cityObjectMember></core:CityModel>"
    )
    assert "nested deeper than" in _one_line_error("info", path)


def _tiff_with_tag(tmp_path: Path, tag: int, value: int, sample: Path = DEM) -> Path:
    """A sample GeoTIFF with one tag of its first IFD rewritten as a LONG ``value`` (a header lie)."""
    raw = bytearray(sample.read_bytes())
    first = int.from_bytes(raw[4:8], "little")
    for i in range(int.from_bytes(raw[first : first + 2], "little")):
        entry = first + 2 + 12 * i
        if int.from_bytes(raw[entry : entry + 2], "little") == tag:
            raw[entry + 2 : entry + 4] = (4).to_bytes(2, "little")
            raw[entry + 8 : entry + 12] = value.to_bytes(4, "little")
    path = tmp_path / f"lie-{tag}.tif"
    path.write_bytes(raw)
    return path


def test_a_geotiff_claiming_two_billion_columns_is_refused_by_its_size(tmp_path) -> None:
    line = _one_line_error("info", _tiff_with_tag(tmp_path, 256, 2_000_000_000))  # ImageWidth
    assert "2,000,000,000" in line and "limit" in line


def test_a_geotiff_claiming_9999_bands_is_refused_naming_the_tag(tmp_path) -> None:
    line = _one_line_error("info", _tiff_with_tag(tmp_path, 277, 9999))  # SamplesPerPixel
    assert "SamplesPerPixel" in line and "9,999 bands" in line


def test_a_geotiff_whose_bits_per_sample_are_not_whole_bytes_loads_with_a_warning(tmp_path) -> None:
    source = twin.load(
        _tiff_with_tag(tmp_path, 258, 7, sample=DATA / "terrain" / "coastal_ky4_storm_surge.tif")
    ).sources[0]
    assert any("BitsPerSample" in w and "7 bits" in w for w in source.warnings), source.warnings
    assert not twin.load(DATA / "terrain" / "coastal_ky4_storm_surge.tif").sources[0].warnings


def test_a_cityjson_version_the_loader_does_not_know_loads_with_a_warning(tmp_path) -> None:
    document = json.loads(DEN_HAAG.read_text())
    path = tmp_path / "future.city.json"
    path.write_text(json.dumps({**document, "version": "9.9"}))
    source = twin.load(path).sources[0]
    assert any("'9.9'" in w and "not one this loader knows" in w for w in source.warnings), source.warnings
    assert source.details["objects"] == twin.load(DEN_HAAG).sources[0].details["objects"]
    assert not any("version" in w for w in twin.load(DEN_HAAG).sources[0].warnings)


# -- the scene ---------------------------------------------------------------------------------
def _source(points: np.ndarray) -> LoadedSource:
    import pyvista as pv

    cloud = pv.PolyData(points)
    part = LayerPart(
        name="p", dataset=cloud, assets=AssetTable.build(["a"], kind="x"), asset_index=np.zeros(len(points), np.int64)
    )
    return LoadedSource(path=Path("made.up"), kind="test", parts=[part])


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e308])
def test_a_source_with_non_finite_or_huge_points_is_refused_whole(bad) -> None:
    scene = Twin()
    with pytest.raises(InputError) as caught:
        scene.add_source(_source(np.array([[0.0, 0.0, 0.0], [bad, 1.0, 2.0]])))
    assert caught.value.where == "layer p" and not scene.layers and len(scene.assets) == 0


def test_info_json_is_strict_json_even_when_a_source_failed(tmp_path) -> None:
    document = json.loads(DEN_HAAG.read_text())
    document["vertices"][0][0] = float("nan")
    bad = tmp_path / "bad.city.json"
    bad.write_text(json.dumps(document))
    path = tmp_path / "scene.toml"
    path.write_text(f'name = "x"\n[[sources]]\npath = "{DEN_HAAG}"\n[[sources]]\npath = "{bad}"\n')
    result = twin_cli("info", path, "--json")
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} in --json output"))


# -- workers -----------------------------------------------------------------------------------
def test_an_ifc_loads_under_an_inherited_address_space_limit() -> None:
    """``ulimit -v`` below what the IFC worker asks for: it keeps the inherited hard limit."""
    hard = 6 << 30  # the IFC worker is asked for twice this (memory_mb), as a big default would on a big machine
    script = textwrap.dedent(
        f"""
        import resource, twin
        resource.setrlimit(resource.RLIMIT_AS, ({hard}, {hard}))
        scene = twin.load({str(BASIC_IFC)!r}, options={{"cache": False, "memory_mb": {hard >> 19}}})
        print(len(scene.assets), resource.getrlimit(resource.RLIMIT_AS)[1])
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=USER_CWD)
    assert result.returncode == 0, result.stderr[-3000:]
    assets, hard_after = result.stdout.split()
    assert int(assets) > 0 and int(hard_after) == hard


def test_limit_memory_lowers_only_the_soft_limit() -> None:
    script = textwrap.dedent(
        f"""
        import resource, runpy
        server = runpy.run_path({str(Path(twin.__file__).with_name("worker_server.py"))!r})
        resource.setrlimit(resource.RLIMIT_AS, ({4 << 30}, {6 << 30}))
        server["limit_memory"](100_000)
        print(*resource.getrlimit(resource.RLIMIT_AS))
        server["limit_memory"](1024)
        print(*resource.getrlimit(resource.RLIMIT_AS))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(6 << 30), str(6 << 30), str(1 << 30), str(6 << 30)]
    assert resource.RLIMIT_AS  # the test needs an address-space limit, which Linux has


def test_the_asset_table_is_stacked_once_not_per_source(monkeypatch) -> None:
    """The build is linear in its sources: parts wait and are stacked in one pass when asked for."""
    calls = []
    concat = AssetTable.concat
    monkeypatch.setattr(AssetTable, "concat", staticmethod(lambda tables: calls.append(1) or concat(tables)))
    scene = Twin()
    for i in range(50):
        scene.add_source(_source(np.array([[float(i), 0.0, 0.0], [i + 1.0, 1.0, 1.0]])))
    assert not calls and [layer.asset_start for layer in scene.layers] == list(range(50))
    assert len(scene.assets) == 50 and len(calls) == 1
    assert scene.assets["layer"].tolist() == [layer.name for layer in scene.layers]
    scene.add_source(_source(np.array([[0.0, 0.0, 0.0]])))
    assert len(scene.assets) == 51 and len(calls) == 2 and scene.layers[-1].asset_start == 50


def test_render_refuses_an_output_it_cannot_write_before_loading(tmp_path) -> None:
    line = _one_line_error("render", DEN_HAAG, "-o", tmp_path / "missing" / "x.png")
    assert "-o: no such folder" in line
    assert "-o: is a directory" in _one_line_error("render", DEN_HAAG, "-o", tmp_path)


def test_a_drape_that_is_a_fifo_or_missing_is_refused_at_once(tmp_path) -> None:
    fifo = tmp_path / "flood.tif"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is not a regular file but a FIFO") as caught:
        twin.load(DEM, options={"drape": str(fifo)})
    assert caught.value.where == "options.drape"
    with pytest.raises(InputError, match="no such file"):
        twin.load(DEM, options={"drape": str(tmp_path / "none.tif")})
