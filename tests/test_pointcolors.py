"""Colour modes and class filters for point clouds (pure numpy, written in place by the app)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA

from loaders.pointcloud import load
from twin.colours import point_classes as pointcolors

SURVEY = DATA / "demo" / "survey.laz"


@pytest.fixture(scope="module")
def survey():
    return load(SURVEY, {})


def test_demo_survey_is_a_classified_coloured_cloud_of_the_district(survey):
    details = survey.details
    assert survey.crs == "EPSG:4549"
    assert 200_000 <= details["points_total"] <= 500_000
    assert {2, 3, 4, 5, 6, 7, 11} == set(details["classes"])
    assert details["classes"][6]["name"] == "Building"
    assert survey.parts[0].style.rgb_array == "rgb"
    x0, x1, y0, y1 = details["bounds"][:4]
    assert 384_990 < x0 < x1 < 385_390 and 3_547_990 < y0 < y1 < 3_548_390


@pytest.mark.parametrize("mode", pointcolors.MODES)
def test_every_mode_gives_uint8_rgb_per_point(survey, mode):
    part = survey.parts[0]
    arrays = {"points": np.asarray(part.dataset.points), **part.dataset.point_data}
    out = pointcolors.colors(arrays, mode)
    assert out.dtype == np.uint8 and out.shape == (part.dataset.n_points, 3)


def test_classification_colours_follow_the_asprs_table():
    classes = np.array([2, 6, 5, 11, 200], dtype=np.uint8)
    out = pointcolors.colors({"classification": classes}, "classification")
    assert [tuple(c) for c in out[:4]] == [pointcolors.ASPRS_COLORS[c] for c in (2, 6, 5, 11)]
    assert tuple(out[4]) == pointcolors.OTHER_CLASS_COLOR


def test_elevation_ramp_runs_low_to_high_and_ignores_outliers():
    z = np.concatenate([np.linspace(0, 100, 1000), [10_000.0]])
    out = pointcolors.colors({"z": z}, "elevation")
    assert tuple(out[0]) == tuple(pointcolors.ELEVATION_RAMP[0].astype(np.uint8))
    assert tuple(out[-2]) == tuple(pointcolors.ELEVATION_RAMP[-1].astype(np.uint8))
    assert len({tuple(c) for c in out[:-1]}) > 100  # the outlier did not flatten the ramp
    fixed = pointcolors.colors({"z": np.array([0.0, 50.0])}, "elevation", value_range=(0, 100))
    assert fixed[1].tolist() != fixed[0].tolist()


def test_intensity_is_grey_and_rgb_falls_back_to_elevation():
    out = pointcolors.colors(
        {"intensity": np.array([0, 500, 1000], dtype=np.uint16)}, "intensity", value_range=(0, 1000)
    )
    assert out.tolist() == [[0, 0, 0], [127, 127, 127], [255, 255, 255]]
    no_rgb = pointcolors.colors({"z": np.array([1.0, 2.0])}, "rgb")
    assert no_rgb.shape == (2, 3)
    with pytest.raises(ValueError, match="unknown colour mode"):
        pointcolors.colors({}, "heat")


def test_class_mask_hides_vegetation(survey):
    classification = survey.parts[0].dataset.point_data["classification"]
    shown = pointcolors.class_mask(classification, pointcolors.VEGETATION)
    assert not np.isin(classification[shown], (3, 4, 5)).any()
    assert shown.sum() == sum(v["count"] for c, v in survey.details["classes"].items() if c not in (3, 4, 5))
    assert pointcolors.class_mask(classification, []).all()


def test_class_names():
    assert pointcolors.class_name(2) == "Ground"
    assert pointcolors.class_name(40) == "Reserved class 40"
    assert pointcolors.class_name(65) == "Class 65"


def test_the_survey_renders_in_its_own_colours(artifacts):
    import subprocess
    import sys

    from conftest import USER_CWD
    from PIL import Image

    out = artifacts / "render_survey_top.png"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "twin.faces.cli",
            "render",
            str(SURVEY),
            "-o",
            str(out),
            "--size",
            "480x480",
            "--view",
            "top",
            "--budget",
            "150000",
        ],
        capture_output=True,
        text=True,
        cwd=USER_CWD,
    )
    assert run.returncode == 0, run.stderr
    image = np.asarray(Image.open(out).convert("RGB")).astype(int)
    background = image[0, 0]
    drawn = np.any(np.abs(image - background) > 8, axis=2)
    assert drawn.mean() > 0.3  # the district fills the view from above
    # RGB is drawn (streets grey, lawns and trees green), not one flat layer colour
    assert len({tuple(c // 32) for c in image[drawn][::50]}) > 5
