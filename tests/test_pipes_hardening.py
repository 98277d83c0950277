"""Pipe files that used to load wrongly or end in a traceback (issue #18): repeated ids, cut-off
files, absurd numbers.  Each ends in an InputError naming the file, the place and the problem,
or loads with a warning where the rest of the data is usable.  Built from the real samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DATA

import twin
from twin.errors import InputError

PIPES = DATA / "pipes"
NET1 = (PIPES / "Net1.inp").read_text()
EXAMPLE1 = (PIPES / "Example1.inp").read_text()
PIPE_12 = " 12              \t12"  # the row of pipe 12 in Net1's [PIPES]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, **options) -> InputError:
    with pytest.raises(InputError) as caught:
        twin.load(path, options=options)
    return caught.value


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def insert_after(text: str, needle: str, new: str) -> str:
    lines = text.splitlines()
    at = line_of(text, needle)
    return "\n".join(lines[:at] + [new] + lines[at:]) + "\n"


def test_epanet_repeated_pipe_id_is_an_error_naming_both_lines(tmp_path):
    text = insert_after(NET1, PIPE_12, " 10 \t 12 \t 13 \t 5280 \t 10 \t 100 \t 0 \t Open")
    error = error_of(write(tmp_path, "dup.inp", text))
    assert error.path.name == "dup.inp"
    assert error.where == f"line {line_of(NET1, PIPE_12) + 1}"
    first = line_of(NET1, " 10              \t10              \t11")
    assert error.problem == f"duplicate segment id '10' (first at line {first})"


def test_epanet_repeated_node_id_across_sections_is_an_error(tmp_path):
    text = insert_after(NET1, "[TANKS]", " 10 \t 850 \t 120 \t 100 \t 150 \t 50.5 \t 0")
    error = error_of(write(tmp_path, "dupnode.inp", text))
    assert "duplicate node id '10'" in error.problem and error.where.startswith("line ")


def test_geojson_repeated_segment_id_is_skipped_with_a_warning(tmp_path):
    line = {"type": "Feature", "properties": {"id": "p1", "diameter": 0.1}}
    features = [
        {**line, "geometry": {"type": "LineString", "coordinates": [[0, 0], [10, 0]]}},
        {**line, "geometry": {"type": "LineString", "coordinates": [[10, 0], [20, 0]]}},
    ]
    path = write(tmp_path, "dup.geojson", json.dumps({"type": "FeatureCollection", "features": features}))
    t = twin.load(path, options={"crs": "EPSG:4549", "ground": 5})
    assert t.sources[0].skipped == [{"id": "p1", "reason": "feature 1: duplicate segment id 'p1' (first at feature 0)"}]
    assert any("1 elements skipped" in w for w in t.sources[0].warnings)
    assert error_of(path, strict=True, crs="EPSG:4549").where == "feature 1"


def test_csv_repeated_node_id_is_skipped(tmp_path):
    write(tmp_path, "m.nodes.csv", "id,x,y,kind\nR,0,0,reservoir\nA,100,0,\nA,200,0,\n")
    path = write(tmp_path, "m.csv", "id,from_node,to_node,diameter\nm1,R,A,0.3\n")
    t = twin.load(path, options={"network": "water", "ground": 5})
    assert (
        t.sources[0].skipped[0]["reason"] == "m.nodes.csv line 4: duplicate node id 'A' (first at m.nodes.csv line 3)"
    )


def test_swmm_cut_off_mid_line_loads_with_a_warning(tmp_path):
    cut = EXAMPLE1[: EXAMPLE1.index("RG1              10084")] + "RG1      100"
    t = twin.load(write(tmp_path, "cut.inp", cut))
    assert any("cut.inp: the file ends in the middle of line" in w and "truncated" in w for w in t.sources[0].warnings)


def test_epanet_without_end_loads_with_a_warning(tmp_path):
    t = twin.load(write(tmp_path, "noend.inp", NET1.replace("[END]", "")))
    assert any("no [END] section: the file may be truncated" in w for w in t.sources[0].warnings)
    assert not [w for w in twin.load(PIPES / "Net1.inp").sources[0].warnings if "truncated" in w]


def test_csv_cut_off_row_is_skipped_and_warned(tmp_path):
    write(tmp_path, "m.nodes.csv", "id,x,y\nR,0,0\nA,100,0\nB,200,0\n")
    path = write(tmp_path, "m.csv", "id,from_node,to_node,diameter,material\nm1,R,A,0.3,PE\nm2,A,B,0.")
    t = twin.load(path, options={"network": "water", "ground": 5})
    assert len(t.assets) and "m2" not in set(t.assets["id"].tolist())
    assert "line 3" in t.sources[0].skipped[0]["reason"] and "truncated" in t.sources[0].skipped[0]["reason"]
    assert any("ends in the middle of line 3" in w for w in t.sources[0].warnings)


@pytest.mark.parametrize("value", ["1e308", "-1e308"])
def test_geojson_absurd_coordinates_skip_the_feature(tmp_path, value):
    features = [
        {
            "type": "Feature",
            "properties": {"id": "ok", "diameter": 0.1},
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [10, 0]]},
        },
        {
            "type": "Feature",
            "properties": {"id": "far", "diameter": 0.1},
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [float(value), 5]]},
        },
    ]
    path = write(tmp_path, "far.geojson", json.dumps({"type": "FeatureCollection", "features": features}))
    t = twin.load(path, options={"crs": "EPSG:4549", "ground": 5})
    assert t.assets["id"].tolist().count("ok") == 1
    assert t.sources[0].skipped[0]["reason"].startswith("feature 1: segment far: position out of range")
    error = error_of(path, strict=True, crs="EPSG:4549")
    assert error.where == "feature 1" and "out of range" in error.problem


def feature_text(ident: str, diameter: str, end_x: str) -> str:
    """A LineString feature written by hand, so numbers go into the file exactly as given."""
    geometry = f'{{"type": "LineString", "coordinates": [[0, 0], [{end_x}, 0]]}}'
    return f'{{"type": "Feature", "properties": {{"id": {ident}, "diameter": {diameter}}}, "geometry": {geometry}}}'


def test_geojson_5000_digit_integers_are_no_traceback(tmp_path):
    huge = "9" * 5000
    features = [feature_text('"ok"', "0.1", "10"), feature_text('"big"', huge, "20"), feature_text(huge, "0.1", huge)]
    text = '{"type": "FeatureCollection", "features": [' + ", ".join(features) + "]}"
    t = twin.load(write(tmp_path, "digits.geojson", text), options={"crs": "EPSG:4549", "ground": 5})
    reasons = [s["reason"] for s in t.sources[0].skipped]
    assert reasons[0].startswith("feature 1: segment big: diameter (diameter) is not a finite number")
    assert reasons[1].startswith("feature 2:") and "non-finite position" in reasons[1] and len(reasons[1]) < 200
    assert t.assets["id"].tolist().count("ok") == 1


def test_epanet_absurd_coordinates_name_the_node(tmp_path):
    at = line_of(NET1, "[COORDINATES]") + 2
    lines = NET1.splitlines()
    lines[at - 1] = " 10 \t 1e308 \t 7000"
    error = error_of(write(tmp_path, "far.inp", "\n".join(lines) + "\n"))
    assert "node 10 has coordinates out of range" in error.problem
