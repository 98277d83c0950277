"""``twin tile`` with IFC models over the city (README "IFC over the city model"): each source is
cut alone on Dask, so the plan tells the city's cuts what the models replace; the replaced
buildings keep their rows in ``assets.parquet`` (``replaced_by``) and are drawn by no city tile."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
from conftest import DATA
from test_tiling import glb_features

from twin.loading import load_manifest
from twin.manifest import read_manifest
from twin.tiling import BuildOptions, build_tileset


def ifc_scene(folder: Path) -> Path:
    """The demo district with FZK-Haus moved onto bldg-002, which it names in ``replaces``, and
    IfcOpenHouse naming bldg-003.  (Neither model holds an ``IfcBuilding`` row, so neither would
    replace by footprint: that path is the same :func:`twin.replace.hide_claimed`, fed the
    model's footprint from its cut.)"""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "demo" / "district.city.json", folder / "district.city.json")
    manifest = folder / "scene.toml"
    manifest.write_text(
        'name = "IFC over the city"\ncrs = "EPSG:4549"\norigin = [385190.0, 3548190.0, 10.0]\n'
        '[[sources]]\nname = "district"\npath = "district.city.json"\n'
        f'[[sources]]\nname = "FZK-Haus"\nkind = "ifc"\npath = "{DATA / "ifc" / "AC20-FZK-Haus.ifc"}"\n'
        'placement = { offset = [385085.0, 3548038.0, 10.0] }\noptions = { replaces = ["bldg-002"] }\n'
        f'[[sources]]\nname = "IfcOpenHouse"\nkind = "ifc"\npath = "{DATA / "ifc" / "IfcOpenHouse_IFC4.ifc"}"\n'
        'placement = { offset = [385170.8, 3548048.5, 10.35] }\noptions = { replaces = ["bldg-003"] }\n',
        encoding="utf-8",
    )
    return manifest


def test_replaced_city_buildings_are_in_the_index_but_in_no_city_tile(tmp_path):
    manifest = ifc_scene(tmp_path / "scene")
    out = tmp_path / "out"
    report = build_tileset(manifest, out, BuildOptions(workers=2))
    assert report.ok, report.failures
    assets = pq.read_table(out / "assets.parquet").to_pydict()
    replaced = {i: r for i, r in zip(assets["id"], assets["replaced_by"]) if r}
    assert replaced == {"bldg-002": "FZK-Haus", "bldg-003": "IfcOpenHouse"}
    loaded = load_manifest(read_manifest(manifest))  # the same scene loaded whole replaces the same
    assert {str(i): str(r) for i, r in zip(loaded.assets["id"], loaded.assets["replaced_by"]) if r} == replaced
    row = {i: n for n, i in enumerate(assets["id"])}
    assert all(assets["tile"][row[i]] is None for i in replaced)
    drawn: dict[str, set[str]] = {"district": set(), "ifc": set()}
    for glb in (out / "tiles").rglob("*.glb"):
        ids = set(glb_features(glb)["id"])
        drawn["district" if "district-" in glb.name else "ifc"] |= ids
    assert not drawn["district"] & set(replaced)
    assert {"bldg-001", "bldg-004"} <= drawn["district"]
    ifc_rows = {i for i, layer in zip(assets["id"], assets["layer"]) if layer.startswith("FZK-Haus/")}
    assert drawn["ifc"] & ifc_rows  # the model is in the tileset
    # the models unchanged, a second build reuses every cut and tile
    again = build_tileset(manifest, out, BuildOptions(workers=1))
    assert again.written == 0 and {s["status"] for s in again.sources} == {"reused"}
    # a model that no longer names bldg-003 gives it back to the city tiles
    text = manifest.read_text().replace('options = { replaces = ["bldg-003"] }\n', "")
    manifest.write_text(text)
    third = build_tileset(manifest, out, BuildOptions(workers=2))
    assert third.ok
    assets = pq.read_table(out / "assets.parquet").to_pydict()
    assert {i for i, r in zip(assets["id"], assets["replaced_by"]) if r} == {"bldg-002"}
    assert third.rebuilt and all("/district-" in uri for uri in third.rebuilt)
    assert json.loads((out / "tileset.json").read_text())["extras"]["cim_twin"]["counts"]["assets"] == len(assets["id"])
