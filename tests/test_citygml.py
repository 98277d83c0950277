"""CityGML 2.0 / 3.0 loader on the OGC CityGML 3.0 encodings' example buildings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA

import twin
from loaders import citygml
from twin.errors import InputError

CITY = DATA / "city"
GML2 = CITY / "Building_LOD2-EPSG25832.gml"
GML3 = CITY / "Building_CityGML3.0_with_Dynamizer_and_SensorConnection_V1.gml"


def _polygon_area(path: Path) -> tuple[float, int]:
    """Total area and number of distinct gml:Polygons and Triangles, by Newell's formula."""
    total, seen = 0.0, set()
    for polygon in ET.parse(path).iter():
        if not polygon.tag.endswith(("}Polygon", "}Triangle")):
            continue
        pid = next((v for k, v in polygon.attrib.items() if k.endswith("}id")), None)
        if pid is not None and pid in seen:
            continue
        seen.add(pid or len(seen))
        for k, pos in enumerate(e for e in polygon.iter() if e.tag.endswith("}posList")):
            p = np.array(pos.text.split(), dtype=float).reshape(-1, 3)[:-1]
            p -= p[0]
            area = np.linalg.norm(np.cross(p, np.roll(p, -1, axis=0)).sum(axis=0)) / 2
            total += area if k == 0 else -area
    return total, len(seen)


def test_citygml2_building_with_surfaces_and_attributes() -> None:
    loaded = citygml.load(GML2, {})
    assert loaded.crs == "EPSG:25832"
    building = next(p for p in loaded.parts if p.name == "Building")
    row = building.assets.row(0)
    assert row["kind"] == "Building" and row["yearOfConstruction"] == 1985 and row["function"] == "1000"
    assert row["measuredHeight"] == 5.0 and row["lod"] == "2"
    assert "Hermann-von-Helmholtz-Platz" in row["address"]
    codes = np.asarray(building.dataset.cell_data["surface"])
    types = loaded.details["surface_types"]
    assert {types[c] for c in np.unique(codes)} == {"GroundSurface", "WallSurface", "RoofSurface"}


def test_citygml_area_matches_the_polygons() -> None:
    for path in (GML2, GML3):
        loaded = citygml.load(path, {})
        area = sum(p.dataset.compute_cell_sizes()["Area"].sum() for p in loaded.parts if p.dataset.n_cells)
        expected, _ = _polygon_area(path)
        assert area == pytest.approx(expected, rel=1e-6)


def test_citygml3_building_room_and_sensor_link() -> None:
    loaded = citygml.load(GML3, {})
    assert loaded.crs == "EPSG:31468"  # AdV DE_DHDN_3GK4
    assets = loaded.parts[0].assets
    room = assets.index_of("DEBY_LOD2_5744682_room1")
    assert assets["kind"][room] == "BuildingRoom" and assets["parent"][room] == "DEBY_LOD2_5744682"
    assert assets["temperature"][room] == pytest.approx(20.2)
    assert assets["sensor_datastream"][room] == "1"
    assert assets["function"][assets.index_of("DEBY_LOD2_5744682")] == "31001_9998"
    assert loaded.details["objects"] == {"Building": 1, "BuildingRoom": 1}


def test_citygml_loads_through_the_registry() -> None:
    scene = twin.load(GML2)
    assert scene.kind == "city" and scene.crs == "EPSG:25832"


def test_broken_xml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.gml"
    path.write_text('<CityModel xmlns="http://www.opengis.net/citygml/2.0">\n<cityObjectMember>\n</CityModel>')
    with pytest.raises(InputError, match=r"bad.gml: line 3 column \d+: invalid XML"):
        citygml.load(path, {})


def test_not_citygml(tmp_path: Path) -> None:
    path = tmp_path / "other.gml"
    path.write_text('<FeatureCollection xmlns="http://www.opengis.net/wfs"/>')
    with pytest.raises(InputError, match="not a CityGML file"):
        citygml.load(path, {})
