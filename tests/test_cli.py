"""The ``twin`` command as a user runs it: a real subprocess, real files."""

import csv
import json

import numpy as np
import pytest
from conftest import DEMO, ROOT, twin_cli

INFO_KEYS = {"path", "kind", "assets", "bounds", "origin", "crs", "seconds", "warnings", "skipped", "layers"}


def test_info_json_has_the_documented_keys():
    result = twin_cli("info", DEMO, "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert INFO_KEYS <= set(info)
    assert info["kind"] == "scene" and info["crs"] == "EPSG:4549"
    assert info["assets"] == sum(layer["assets"] for layer in info["layers"])
    assert {"name", "kind", "assets", "cells", "points"} <= set(info["layers"][0])
    assert len(info["bounds"]) == 6 and info["bounds"][0] < info["bounds"][1]


def test_info_on_a_single_file_names_its_kind_block():
    result = twin_cli("info", ROOT / "data_samples/demo/district.city.json", "--json")
    info = json.loads(result.stdout)
    assert info["kind"] == "city" and "city" in info
    assert info["city"]["objects"]["Building"] >= 20


def test_assets_csv_lists_every_asset_with_world_centres(tmp_path):
    out = tmp_path / "assets.csv"
    result = twin_cli("assets", DEMO, "--csv", out)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert {"id", "kind", "name", "layer", "network", "address", "x", "y", "z"} <= set(rows[0])
    buildings = [r for r in rows if r["kind"] == "Building"]
    assert len(buildings) >= 20
    assert all(384_000 < float(r["x"]) < 386_000 for r in buildings)


@pytest.mark.parametrize(
    "content, name, problem",
    [
        (None, "missing.ifc", "no such file"),
        ("hello", "notes.docx", "no loader reads .docx files"),
        ("{broken", "bad.city.json", "line 1: invalid JSON"),
        ('name = "x"\n', "scene.toml", "key sources: missing"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_file(tmp_path, content, name, problem):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    result = twin_cli("info", path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"twin: error: {path}") and problem in lines[0], lines[0]


def test_render_draws_a_picture_that_is_not_blank(tmp_path, artifacts):
    from PIL import Image  # pillow comes with pyvista

    out = artifacts / "render_demo_iso.png"
    result = twin_cli("render", DEMO, "-o", out, "--size", "640x400", "--view", "iso")
    assert result.returncode == 0, result.stderr
    image = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert image.shape == (400, 640, 3)
    background = image[0, 0]
    differs = np.any(np.abs(image - background) > 8, axis=2).mean()
    assert differs >= 0.05, f"only {differs:.1%} of pixels differ from the background"


def test_render_with_a_bad_size_is_a_clean_error(tmp_path):
    result = twin_cli("render", DEMO, "-o", tmp_path / "x.png", "--size", "huge")
    assert result.returncode == 2 and "--size must look like" in result.stderr
