"""IFC buildings replace their CityJSON twins; colouring by attribute with a legend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pyvista as pv
from conftest import DATA, DEMO

import twin
from twin.assets import AssetTable
from twin.colours.attributes import MISSING, categorical_colors, color_by, layer_rgb, numeric_colors
from twin.layer import LayerPart
from twin.replace import hide_replaced
from twin.source import LoadedSource

DISTRICT = DATA / "demo" / "district.city.json"


def _ifc_like(bounds: np.ndarray, ifc_class: str = "IfcBuilding", name: str = "model.ifc") -> LoadedSource:
    """A box mesh standing in for an IFC model: one IfcBuilding row, one wall row with the geometry."""
    x0, x1, y0, y1, z0, z1 = bounds
    box = pv.Box(bounds=(x0 + 0.5, x1 - 0.5, y0 + 0.5, y1 - 0.5, z0, z1)).triangulate()
    box = pv.PolyData(box.points.astype(np.float64), faces=box.faces)
    assets = AssetTable.build(
        ["2O2Fr$t4X7Zf8NOew3FLOH", "1wall"], kind=[ifc_class, "IfcWall"], attrs={"ifc_class": [ifc_class, "IfcWall"]}
    )
    part = LayerPart("IfcWall", box, assets, np.ones(box.n_cells, dtype=np.int64))
    return LoadedSource(path=Path(name), kind="ifc", parts=[part], crs="EPSG:4549")


def _district_with(ifc: LoadedSource | None = None) -> twin.Twin:
    scene = twin.load(DISTRICT)
    if ifc is not None:
        scene.add_source(ifc, name="model")
    return scene


def _row(scene: twin.Twin, asset_id: str) -> int:
    row = scene.assets.index_of(asset_id)
    assert row is not None
    return row


def test_ifc_over_its_cityjson_twin_hides_it() -> None:
    scene = _district_with()
    target = _row(scene, "bldg-012")
    ifc = _ifc_like(scene.assets.bounds[target])
    scene.add_source(ifc, name="model")
    layer = scene.layer("district/Building")
    cells_before = layer.dataset.n_cells
    drawn_before = np.unique(layer.asset_index)
    replaced = hide_replaced(scene)
    assert replaced == {"bldg-012": "model"}
    assert target not in np.asarray(layer.asset_index)
    assert set(np.unique(layer.asset_index)) == set(drawn_before) - {target}
    assert layer.dataset.n_cells < cells_before
    assert scene.assets["replaced_by"][target] == "model"
    assert scene.assets["replaced_by"][_row(scene, "bldg-011")] == ""
    assert len(scene.assets) == 36 + 2  # the replaced row stays in the inventory


def test_an_ifc_without_a_building_replaces_nothing() -> None:
    scene = _district_with()
    ifc = _ifc_like(scene.assets.bounds[_row(scene, "bldg-012")], ifc_class="IfcDistributionSystem")
    scene.add_source(ifc, name="drainage")
    assert hide_replaced(scene) == {}


def test_replaces_option_names_the_ids() -> None:
    scene = _district_with()
    far = scene.assets.bounds[_row(scene, "bldg-001")] + [500, 500, 500, 500, 0, 0]
    scene.add_source(_ifc_like(far), name="model")
    assert hide_replaced(scene, {"model": ["bldg-003", "bldg-004"]}) == {"bldg-003": "model", "bldg-004": "model"}
    index = np.asarray(scene.layer("district/Building").asset_index)
    assert _row(scene, "bldg-003") not in index and _row(scene, "bldg-001") in index


def test_manifest_replaces_option(tmp_path: Path) -> None:
    """The manifest's ``replaces`` on an IFC source reaches hide_replaced through twin.load."""
    from twin import loading

    ifc_path = tmp_path / "house.ifc"
    ifc_path.write_text("ISO-10303-21;\n")
    manifest = tmp_path / "scene.toml"
    manifest.write_text(
        f'name = "t"\n[[sources]]\npath = "{DISTRICT}"\nname = "district"\n'
        f'[[sources]]\npath = "{ifc_path}"\nname = "house"\noptions = {{replaces = ["bldg-005"]}}\n'
    )
    fake = _ifc_like(np.array([385000.0, 385010, 3548000, 3548010, 10, 20]), name=str(ifc_path))
    original = loading._load_entry

    def load_entry(scene, entry, styles):
        if entry.path.suffix == ".ifc":
            return scene.add_source(fake, name=entry.name)
        return original(scene, entry, styles)

    loading._load_entry = load_entry
    try:
        scene = twin.load(manifest)
    finally:
        loading._load_entry = original
    assert scene.assets["replaced_by"][_row(scene, "bldg-005")] == "house"


def test_color_by_height_gives_classes_and_a_legend() -> None:
    scene = twin.load(DEMO)
    layer = scene.layer("district/Building")
    rows = np.arange(layer.asset_start, layer.asset_stop)
    coloring = color_by(scene.assets, "height_m", classes=4, rows=rows)
    assert sum(entry.count for entry in coloring.legend) == len(rows)
    cell_rgb = layer_rgb(coloring, layer.asset_index)
    assert cell_rgb.shape == (layer.dataset.n_cells, 3) and cell_rgb.dtype == np.uint8
    tallest = rows[np.argmax(scene.assets["height_m"][rows])]
    assert tuple(coloring.rgb[tallest]) == coloring.legend[-1].rgb


def test_color_by_function_is_categorical() -> None:
    scene = twin.load(DEMO)
    coloring = color_by(scene.assets, "function")
    labels = [entry.label for entry in coloring.legend]
    assert "residential" in labels and "no value" in labels  # roads and ground have no function
    assert labels[0] == "residential"  # the most frequent first


def test_numeric_colors_with_breaks_and_missing() -> None:
    values = np.array([1965, 1980, 1999, 2010, np.nan])
    rgb, legend = numeric_colors(values, breaks=[1975, 2000])
    assert [e.label for e in legend] == ["1965 – 1975", "1975 – 2000", "2000 – 2010", "no value"]
    assert tuple(rgb[-1]) == MISSING
    assert tuple(rgb[1]) == tuple(rgb[2]) != tuple(rgb[0])


def test_categorical_colors_fold_the_rare_ones() -> None:
    values = np.array(["a"] * 5 + ["b"] * 3 + ["c", "d", ""])
    rgb, legend = categorical_colors(values, max_categories=2)
    assert [(e.label, e.count) for e in legend] == [("a", 5), ("b", 3), ("other", 2), ("no value", 1)]
    assert tuple(rgb[8]) == tuple(rgb[9]) == legend[2].rgb


@pytest.mark.parametrize("column", ["yearOfConstruction", "height_m", "function"])
def test_legend_hex(column: str) -> None:
    coloring = color_by(twin.load(DISTRICT).assets, column)
    assert all(e.hex.startswith("#") and len(e.hex) == 7 for e in coloring.legend)


def test_replacing_a_building_by_id_takes_its_parts() -> None:
    """Den Haag's buildings carry their geometry in BuildingParts: naming the building hides the parts."""
    scene = twin.load(DATA / "city" / "DH_01_subs.city.json")
    parent = "GUID_DBDABF53-7DD5-4C2F-BE7F-51F29A0CBA16"
    far = np.array([0.0, 1, 0, 1, 0, 1])
    scene.add_source(_ifc_like(far), name="model")
    replaced = hide_replaced(scene, {"model": [parent]})
    assert set(replaced) == {parent, f"{parent}_1", f"{parent}_2", f"{parent}_3"}
    index = np.asarray(scene.layer("DH_01_subs/Building").asset_index)
    assert not np.isin([scene.assets.index_of(i) for i in replaced], index).any()


def test_roofs_and_walls_coloured_apart() -> None:
    from loaders import cityjson
    from twin.colours.attributes import SURFACE_COLORS, surface_colors

    loaded = cityjson.load(DATA / "city" / "rotterdam_subset.json", {})
    codes = loaded.parts[0].dataset.cell_data["surface"]
    rgb, legend = surface_colors(codes, loaded.details["surface_types"])
    types = loaded.details["surface_types"]
    roof = np.asarray(codes) == types.index("RoofSurface")
    assert np.all(rgb[roof] == SURFACE_COLORS["RoofSurface"])
    assert {e.label for e in legend} == {"RoofSurface", "WallSurface", "GroundSurface"}
    assert sum(e.count for e in legend) == len(codes)
