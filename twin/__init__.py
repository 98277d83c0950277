"""CIM Twin: a digital twin of a city for urban safety.

The core knows nothing of trame, ifcopenshell or laspy: loaders (``loaders/``) turn files into
:class:`LoadedSource` objects, and the :class:`Twin` holds them as merged layers over one
columnar asset table.
"""

from twin.assets import AssetTable
from twin.errors import InputError, LoaderFailure, ManifestError, TwinError, UnsupportedInputError
from twin.layer import Layer, LayerPart, LayerStyle
from twin.loading import load
from twin.scene import Twin
from twin.source import LoadedSource

__version__ = "0.1.0"

__all__ = [
    "AssetTable",
    "InputError",
    "Layer",
    "LayerPart",
    "LayerStyle",
    "LoadedSource",
    "LoaderFailure",
    "ManifestError",
    "Twin",
    "TwinError",
    "UnsupportedInputError",
    "load",
    "__version__",
]
