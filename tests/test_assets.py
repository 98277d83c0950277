import io

import numpy as np
import pytest

from twin.assets import CORE_COLUMNS, STR, AssetTable


def test_build_broadcasts_scalars_and_keeps_columns():
    table = AssetTable.build(
        ["a", "b", "c"],
        kind="Building",
        name=["A", "B", "C"],
        attrs={"height_m": np.array([10.0, 20.0, 30.0]), "use": ["x", "y", "z"]},
    )
    assert len(table) == 3
    assert table.columns[:6] == list(CORE_COLUMNS)
    assert list(table["kind"]) == ["Building"] * 3
    assert table["height_m"].dtype == np.float64
    assert table["use"].dtype == STR


def test_concat_fills_missing_attributes():
    a = AssetTable.build(["a"], kind="pipe", attrs={"diameter_m": np.array([0.3])})
    b = AssetTable.build(["b"], kind="Building", attrs={"function": ["office"]})
    both = AssetTable.concat([a, b])
    assert list(both["id"]) == ["a", "b"]
    assert np.isnan(both["diameter_m"][1]) and both["diameter_m"][0] == 0.3
    assert list(both["function"]) == ["", "office"]


def test_index_of_and_row():
    table = AssetTable.build(["z9", "a1", "m5"], kind="k")
    table.bounds[:] = [[0, 2, 0, 2, 0, 2]] * 3
    assert table.index_of("a1") == 1
    assert table.index_of("nope") is None
    row = table.row(2)
    assert row["id"] == "m5" and row["x"] == 1.0


def test_csv_has_core_columns_centres_and_attributes():
    table = AssetTable.build(["a", "b"], kind="pipe", attrs={"diameter_m": np.array([0.3, np.nan])})
    table.bounds[:] = [[385000, 385002, 3548000, 3548004, 5, 7], [0, 0, 0, 0, 0, 0]]
    out = io.StringIO()
    table.write_csv(out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "id,kind,name,layer,network,address,x,y,z,diameter_m"
    assert lines[1] == "a,pipe,,,,,385001.000,3548002.000,6.000,0.3"
    assert lines[2].endswith(",")  # a missing number is an empty cell


def test_a_million_assets_are_not_a_million_python_objects():
    n = 1_000_000
    ids = np.char.add("seg-", np.arange(n).astype(str)).astype(STR)
    table = AssetTable.build(ids, kind="pipe", network="water", attrs={"diameter_m": np.full(n, 0.2)})
    assert len(table) == n
    assert all(table[c].dtype != object for c in table.columns)
    assert table.index_of("seg-999999") == n - 1


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        AssetTable.build(["a", "b"], kind=["x"])
