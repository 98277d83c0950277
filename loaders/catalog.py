"""The built-in loaders as the registry knows them before any of them is imported.

Each ``cim_twin.loaders`` entry point of this package names one of these declarations: the kind,
name and suffixes, the typed options, a sniff of the first bytes and *where* the load function
lives (``"module:function"``, imported on its first call by :func:`twin.registry.lazy`).  So
finding the loader of ``house.ifc`` imports this module alone, and loading it imports the IFC
loader alone, not the tileset reader's VTK or the pipe builders' scipy (as pyvista's reader
registry and xarray's backend entry points defer their readers' imports).

This module imports nothing beyond :mod:`twin.registry`; the sniffs look at bytes only.
"""

from __future__ import annotations

from collections.abc import Mapping

from twin.registry import LoaderSpec, OptionType, lazy

#: options every pipe loader takes (the network's name, CRS, default depths, display)
NETWORK_OPTIONS: Mapping[str, OptionType] = {
    "network": str,
    "crs": str,
    "cover": float,
    "ground": float,
    "display_scale": float,
    "strict": bool,
}
#: and those that read text files (.inp, GeoJSON, CSV)
INP_OPTIONS: Mapping[str, OptionType] = {**NETWORK_OPTIONS, "encoding": str}
#: and those whose columns are mapped by the manifest (GeoJSON, CSV)
FIELD_OPTIONS: Mapping[str, OptionType] = {
    **INP_OPTIONS,
    "fields": dict,
    "diameter_unit": str,
    "length_unit": str,
    "elevation_unit": str,
}


def step_file(head: bytes) -> bool:
    """An IFC-SPF file opens with the STEP magic."""
    return b"ISO-10303-21" in head


def las_file(head: bytes) -> bool:
    """LAS and LAZ files open with the signature LASF."""
    return b"LASF" in head


def cityjson_file(head: bytes) -> bool:
    return b"CityJSON" in head


def citygml_file(head: bytes) -> bool:
    return b"citygml" in head or b"CityGML" in head


def tileset_file(head: bytes) -> bool:
    """A 3D Tiles tileset.json: an ``asset`` with a version and a ``root`` or ``geometricError``."""
    return b'"asset"' in head and (b'"root"' in head or b'"geometricError"' in head) and b"CityJSON" not in head


def swmm_file(head: bytes) -> bool:
    """SWMM names its flow units in [OPTIONS] near the top; any other .inp is EPANET's."""
    upper = head.upper()
    return any(marker in upper for marker in (b"FLOW_UNITS", b"[CONDUITS]", b"[SUBCATCHMENTS]"))


def epanet_file(head: bytes) -> bool:
    """An .inp file that is not SWMM's."""
    return not swmm_file(head)


def geojson_file(head: bytes) -> bool:
    return b"FeatureCollection" in head


def landxml_file(head: bytes) -> bool:
    return b"PipeNetwork" in head or b"LandXML" in head


IFC = LoaderSpec(
    "ifc",
    "ifc",
    (".ifc",),
    lazy("loaders.ifc:load"),
    step_file,
    options={
        "georeference": str,
        "cache": bool,
        "cache_dir": str,
        "deflection": float,
        "spaces": bool,
        "threads": int,
        "processes": int,
        "memory_mb": int,
        "timeout_s": float,
        "_fault": str,  # the tests' hook: make the geometry worker crash, hang or fail
    },
)
LAS = LoaderSpec(
    "pointcloud",
    "las",
    (".las", ".laz"),
    lazy("loaders.pointcloud.loader:load"),
    las_file,
    options={
        "budget": int,
        "box": (list, str),
        "level": int,
        "render": str,
        "partial": bool,
        "cache": bool,
        "cache_dir": str,
    },
)
CITYJSON = LoaderSpec(
    "city",
    "cityjson",
    (".city.json", ".json", ".city.jsonl", ".jsonl"),
    lazy("loaders.cityjson:load"),
    cityjson_file,
    options={"lod": (str, float)},
)
CITYGML = LoaderSpec(
    "city", "citygml", (".gml",), lazy("loaders.citygml:load"), citygml_file, options={"lod": (str, float)}
)
TILESET = LoaderSpec(
    "city",
    "tileset",
    (".json",),
    lazy("loaders.tileset:load"),
    tileset_file,
    options={"triangles": int, "points": int},
)
TERRAIN = LoaderSpec(
    "terrain",
    "terrain",
    (".tif", ".tiff"),
    lazy("loaders.terrain:load"),
    options={
        "triangles": int,
        "max_pixels": int,
        "box": (list, str),
        "z_scale": float,
        "drape": str,
        "drape_range": (list, str),
    },
)
SWMM = LoaderSpec("pipes", "swmm", (".inp",), lazy("loaders.pipes.swmm:load"), swmm_file, options=INP_OPTIONS)
EPANET = LoaderSpec("pipes", "epanet", (".inp",), lazy("loaders.pipes.epanet:load"), epanet_file, options=INP_OPTIONS)
GEOJSON = LoaderSpec(
    "pipes",
    "geojson",
    (".geojson", ".json"),
    lazy("loaders.pipes.geojson:load"),
    geojson_file,
    options={**FIELD_OPTIONS, "nodes": str, "snap": float},
)
LANDXML = LoaderSpec(
    "pipes", "landxml", (".xml",), lazy("loaders.pipes.landxml:load"), landxml_file, options=NETWORK_OPTIONS
)
PIPES_CSV = LoaderSpec(
    "pipes", "pipes-csv", (".csv",), lazy("loaders.pipes.csv:load"), options={**FIELD_OPTIONS, "nodes": str}
)
