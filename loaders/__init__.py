"""The one place where loaders are registered.

Each entry names a kind (the ``kind`` of ``twin info``), the suffixes it reads, the module
that holds its ``load(path, options) -> LoadedSource`` (imported only when needed) and, where
suffixes are shared, a sniffer that recognises the file by its first bytes.
"""

from __future__ import annotations

from twin.registry import LoaderSpec, Registry


def _has(*needles: bytes):
    return lambda head: any(n in head for n in needles)


def _inp_has(*needles: bytes):
    return lambda head: any(n in head.upper() for n in needles)


REGISTRY = Registry(
    [
        LoaderSpec("ifc", "ifc", (".ifc",), "loaders.ifc", _has(b"ISO-10303-21"), ("ifcopenshell",)),
        LoaderSpec("pointcloud", "las", (".las", ".laz"), "loaders.pointcloud", _has(b"LASF"), ("laspy", "lazrs")),
        LoaderSpec(
            "city",
            "cityjson",
            (".city.json", ".json", ".city.jsonl", ".jsonl"),
            "loaders.cityjson",
            _has(b"CityJSON"),
            ("mapbox-earcut",),
        ),
        LoaderSpec("city", "citygml", (".gml",), "loaders.citygml", _has(b"citygml", b"CityGML"), ("mapbox-earcut",)),
        LoaderSpec("terrain", "terrain", (".tif", ".tiff"), "loaders.terrain", None, ("rasterio",)),
        # SWMM names its flow units in [OPTIONS] near the top; any other .inp is EPANET's
        LoaderSpec(
            "pipes", "swmm", (".inp",), "loaders.pipes.swmm", _inp_has(b"FLOW_UNITS", b"[CONDUITS]", b"[SUBCATCHMENTS]")
        ),
        LoaderSpec("pipes", "epanet", (".inp",), "loaders.pipes.epanet", None),
        LoaderSpec("pipes", "geojson", (".geojson", ".json"), "loaders.pipes.geojson", _has(b"FeatureCollection")),
        LoaderSpec("pipes", "landxml", (".xml",), "loaders.pipes.landxml", _has(b"PipeNetwork", b"LandXML")),
        LoaderSpec("pipes", "pipes-csv", (".csv",), "loaders.pipes.csv", None),
    ]
)
