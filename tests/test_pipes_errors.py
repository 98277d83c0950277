"""Broken pipe files: each gives one clear error naming the file and the place, or skips one element."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DATA

import twin
from twin.errors import InputError
from twin.faces.cli import main

PIPES = DATA / "pipes"
NET1 = (PIPES / "Net1.inp").read_text()


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def error_of(path: Path, **options) -> InputError:
    with pytest.raises(InputError) as caught:
        twin.load(path, options=options)
    return caught.value


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def replace_line(text: str, number: int, new: str) -> str:
    lines = text.splitlines()
    lines[number - 1] = new
    return "\n".join(lines) + "\n"


def test_unknown_section_names_its_line_on_the_command_line(capsys):
    assert main(["info", str(PIPES / "bad_syntax.inp")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"twin: error: {PIPES / 'bad_syntax.inp'}: line 330: unknown section [FOO]")


def test_link_to_unknown_node(tmp_path):
    text = NET1.replace(" 12              \t12              \t13 ", " 12              \t12              \tNOPE ")
    path = write(tmp_path, "unknown_node.inp", text)
    exc = error_of(path)
    assert exc.where == f"line {line_of(text, 'NOPE')}" and "unknown node NOPE" in exc.problem
    loaded = twin.load(path, options={"strict": False})  # recoverable when asked: the rest loads
    assert loaded.sources[0].skipped[0]["id"] == "12" and len(loaded.assets) == 23


@pytest.mark.parametrize("diameter,problem", [("-10", "is not positive"), ("0", "is not positive")])
def test_bad_diameter(tmp_path, diameter, problem):
    text = NET1.replace("5280        \t14          \t100", f"5280        \t{diameter}          \t100")
    exc = error_of(write(tmp_path, "diameter.inp", text))
    assert problem in exc.problem and exc.where == f"line {line_of(text, ' 11              ' + chr(9) + '11')}"


def test_broken_row_and_non_numbers(tmp_path):
    number = line_of(NET1, "10530")
    exc = error_of(write(tmp_path, "short.inp", replace_line(NET1, number, " 10  10  11")))
    assert "[PIPES] row needs 5 fields" in exc.problem and exc.where == f"line {number}"
    text = NET1.replace("10530", "ten-thousand")
    exc = error_of(write(tmp_path, "nan.inp", text))
    assert "length is not a number: 'ten-thousand'" in exc.problem


def test_missing_coordinates_are_placed_between_the_neighbours_with_a_warning(tmp_path):
    # EPANET needs no drawing: a node the file does not place loads (as the engine reads it), placed
    text = NET1.replace(" 13              \t70.00           \t70.00", "")
    loaded = twin.load(write(tmp_path, "nocoords.inp", text))
    assert len(loaded.assets) == 24
    warnings = [w for s in loaded.sources for w in s.warnings] + loaded.warnings
    assert any("1 node has no coordinates: placed between their neighbours" in w for w in warnings)


def test_non_utf8_file_is_an_error_with_its_line(tmp_path):
    raw = NET1.encode("utf-8").replace(b"EPANET Example Network 1", b"EPANET \xe9xample \xff")
    exc = error_of(write(tmp_path, "latin.inp", raw))
    assert exc.where == "line 2" and "not UTF-8" in exc.problem
    assert "encoding" in exc.hint
    loaded = twin.load(tmp_path / "latin.inp", options={"encoding": "latin-1"})
    assert len(loaded.assets) == 24


def test_gbk_file_is_detected(tmp_path):
    raw = NET1.replace("[TITLE]\n", "[TITLE]\n 给水管网 示例\n").encode("gb18030")
    loaded = twin.load(write(tmp_path, "gbk.inp", raw))
    assert len(loaded.assets) == 24
    assert any("GB18030" in w for w in loaded.sources[0].warnings)


def feature_collection(*features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def segment(coords, **props) -> dict:
    return {"type": "Feature", "properties": props, "geometry": {"type": "LineString", "coordinates": coords}}


def test_geojson_bad_features_are_skipped_with_their_index(tmp_path):
    doc = feature_collection(
        segment([[0, 0], [10, 0]], id="a", diameter=0.2),
        segment([[10, 0]], id="b", diameter=0.2),
        segment([[10, 0], [20, 0]], id="c", diameter=-1),
        segment([[10, 0], ["x", 0]], id="d", diameter=0.2),
        {"type": "Feature", "properties": {"id": "e"}, "geometry": {"type": "Polygon", "coordinates": []}},
    )
    path = write(tmp_path, "bad.geojson", json.dumps(doc))
    loaded = twin.load(path, options={"ground": 10})
    skipped = {s["id"]: s["reason"] for s in loaded.sources[0].skipped}
    assert set(skipped) == {"b", "c", "d", "4"}
    assert skipped["b"].startswith("feature 1:") and skipped["c"].startswith("feature 2:")
    assert skipped["d"].startswith("feature 3:") and skipped["4"].startswith("feature 4:")
    assert len(loaded.layers[0].dataset.cell_data["asset_index"]) > 0
    exc = error_of(path, strict=True)
    assert exc.where == "feature 1"


def test_geojson_nested_absurdly_deep(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    text = '{"type": "FeatureCollection",\n"features": [\n' + deep + "]}"
    exc = error_of(write(tmp_path, "deep.geojson", text))
    assert "nested more than" in exc.problem and exc.where == "line 3"


def test_geojson_invalid_json(tmp_path):
    exc = error_of(write(tmp_path, "broken.geojson", '{"type": "FeatureCollection",\n "features": [,]}'))
    assert exc.where == "line 2" and "invalid JSON" in exc.problem


def test_csv_node_table_alone_and_missing(tmp_path):
    write(tmp_path, "net.csv", "id,from_node,to_node,diameter\np1,A,B,0.2\n")
    exc = error_of(tmp_path / "net.csv")
    assert "no node table net.nodes.csv" in exc.problem
    write(tmp_path, "net.nodes.csv", "id,x,y\nA,0,0\nB,1,1\n")
    exc = error_of(tmp_path / "net.nodes.csv")
    assert "node table" in exc.problem
    assert len(twin.load(tmp_path / "net.csv").assets) == 3


def test_landxml_not_well_formed(tmp_path):
    exc = error_of(write(tmp_path, "broken.xml", "<LandXML>\n<PipeNetworks>\n<PipeNetwork>\n</LandXML>\n"))
    assert exc.where == "line 4" and "not well-formed" in exc.problem
