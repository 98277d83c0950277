"""CIM Twin: a digital twin of a city for urban safety.

The core knows nothing of trame, ifcopenshell or laspy: loaders (``loaders/``) turn files into
:class:`LoadedSource` objects, and the :class:`Twin` holds them as merged layers over one
columnar asset table.  The names below are imported on first use (PEP 562), so ``import twin``
(and ``twin --version``) does not pay for numpy, pyvista and VTK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twin.assets import AssetTable
    from twin.errors import InputError, LoaderFailure, ManifestError, TwinError, UnsupportedInputError
    from twin.layer import Layer, LayerPart, LayerStyle
    from twin.loading import load
    from twin.scene import Twin
    from twin.source import LoadedSource

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "AssetTable": "twin.assets",
    "InputError": "twin.errors",
    "LoaderFailure": "twin.errors",
    "ManifestError": "twin.errors",
    "TwinError": "twin.errors",
    "UnsupportedInputError": "twin.errors",
    "Layer": "twin.layer",
    "LayerPart": "twin.layer",
    "LayerStyle": "twin.layer",
    "load": "twin.loading",
    "Twin": "twin.scene",
    "LoadedSource": "twin.source",
}

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
    "__version__",
    "load",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'twin' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
