from pathlib import Path

import pytest
from conftest import DEMO

from twin.errors import ManifestError
from twin.manifest import read_manifest


def test_the_demo_manifest_reads():
    manifest = read_manifest(DEMO)
    assert manifest.name == "Demo district"
    assert manifest.crs == "EPSG:4549"
    assert manifest.sources and all(s.path.exists() for s in manifest.sources)
    assert [b.name for b in manifest.bookmarks][:1] == ["Overview"]


def scene(tmp_path: Path, body: str) -> Path:
    (tmp_path / "data.city.json").write_text('{"type": "CityJSON"}')
    path = tmp_path / "scene.toml"
    path.write_text(body)
    return path


GOOD_SOURCE = '[[sources]]\npath = "data.city.json"\n'


@pytest.mark.parametrize(
    "body, where, problem",
    [
        ('name = "x"\n', "key sources", "missing"),
        (GOOD_SOURCE, "key name", "missing"),
        ('name = "x"\ncolour = "red"\n' + GOOD_SOURCE, "key colour", "unknown key"),
        ('name = "x"\n[[sources]]\npath = "nope.ifc"\n', "key sources[0].path", "no such file"),
        (
            'name = "x"\n' + GOOD_SOURCE + "placement = {offset = [1, 2]}\n",
            "key sources[0].placement.offset",
            "list of 3 numbers",
        ),
        ('name = "x"\n' + GOOD_SOURCE + "placement = {scale = -1}\n", "key sources[0].placement.scale", "at least"),
        ('name = "x"\n' + GOOD_SOURCE + "style = {opacity = 2}\n", "key sources[0].style.opacity", "at most 1"),
        ('name = "x"\n' + GOOD_SOURCE + 'style = {color = "#12"}\n', "key sources[0].style.color", "#rrggbb"),
        (
            'name = "x"\n' + GOOD_SOURCE + '[[bookmarks]]\nname = "b"\nposition = [0, 0, 0]\n',
            "key bookmarks[0].focal_point",
            "missing",
        ),
        ('name = "x"\npalette = "rainbow"\n' + GOOD_SOURCE, "key palette", "china"),
        ('name = "x"\nsources = [1 2]\n', "line 2", "not valid TOML"),
    ],
)
def test_mistakes_name_the_file_the_key_and_the_problem(tmp_path, body, where, problem):
    path = scene(tmp_path, body)
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    message = str(info.value)
    assert message.startswith(str(path.resolve())), message
    assert where in message and problem in message, message


def test_paths_are_relative_to_the_manifest(tmp_path):
    path = scene(
        tmp_path,
        'name = "x"\n' + GOOD_SOURCE + 'kind = "city"\ncrs = "EPSG:4549"\n'
        "placement = {offset = [10, 20, 30], rotation = 90, scale = 0.001}\n",
    )
    source = read_manifest(path).sources[0]
    assert source.path == (tmp_path / "data.city.json").resolve()
    assert source.placement.offset == (10.0, 20.0, 30.0) and source.placement.scale == 0.001
