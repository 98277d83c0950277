from pathlib import Path

import pytest

from twin.errors import InputError, UnsupportedInputError
from twin.registry import LoaderSpec, Registry, installed

REGISTRY = installed()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "name, text, loader",
    [
        ("a.ifc", "ISO-10303-21;\nHEADER;", "ifc"),
        ("a.LAS", "LASF", "las"),
        ("a.city.json", '{"type": "CityJSON"}', "cityjson"),
        ("a.json", '{"type": "CityJSON", "version": "2.0"}', "cityjson"),
        ("a.json", '{"type": "FeatureCollection", "features": []}', "geojson"),
        ("a.inp", "[TITLE]\n[OPTIONS]\nFLOW_UNITS CFS\n[JUNCTIONS]\n", "swmm"),
        ("a.inp", "[TITLE]\n[JUNCTIONS]\n[PIPES]\n", "epanet"),
    ],
)
def test_suffix_and_content_pick_the_loader(tmp_path, name, text, loader):
    assert REGISTRY.find(write(tmp_path, name, text)).name == loader


def test_kind_override_beats_the_suffix(tmp_path):
    path = write(tmp_path, "network.txt", "[JUNCTIONS]\n")
    assert REGISTRY.find(path, kind="epanet").name == "epanet"
    assert REGISTRY.find(path, kind="city").kind == "city"


def test_unknown_suffix_names_the_file_and_the_supported_ones(tmp_path):
    path = write(tmp_path, "notes.docx", "hello")
    with pytest.raises(UnsupportedInputError) as info:
        REGISTRY.find(path)
    assert "notes.docx" in str(info.value) and ".ifc" in str(info.value)


def test_unknown_kind_lists_the_known_kinds(tmp_path):
    with pytest.raises(UnsupportedInputError, match="(?s)unknown kind .nope.*known kinds"):
        REGISTRY.find(write(tmp_path, "a.ifc", ""), kind="nope")


def _never(path, options):
    raise AssertionError("not called")


def test_duplicate_loader_names_are_an_error():
    registry = Registry([LoaderSpec("city", "x", (".x",), _never)])
    with pytest.raises(ValueError, match="registered already"):
        registry.register(LoaderSpec("city", "x", (".y",), _never))


def test_every_built_in_loader_is_an_entry_point():
    names = {loader.name for loader in REGISTRY.loaders}
    assert names == {
        "ifc",
        "las",
        "cityjson",
        "citygml",
        "terrain",
        "swmm",
        "epanet",
        "geojson",
        "landxml",
        "pipes-csv",
        "tileset",
    }
    assert not REGISTRY.unavailable


def test_a_loader_that_cannot_be_imported_is_named_in_the_error(tmp_path):
    registry = Registry([], unavailable={"ghost": "cannot be imported (No module named 'ghostlib')"})
    with pytest.raises(UnsupportedInputError, match="(?s)ghost.*ghostlib"):
        registry.find(write(tmp_path, "a.ghost", ""))


def test_unknown_or_mistyped_options_name_the_key(tmp_path):
    from twin import load

    path = write(tmp_path, "a.geojson", '{"type": "FeatureCollection", "features": []}')
    with pytest.raises(InputError, match="(?s)options.diameter_units.*takes no option"):
        load(path, options={"diameter_units": "mm"})
    with pytest.raises(InputError, match="(?s)options.snap.*must be float"):
        load(path, options={"snap": "near"})
