"""The one type every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.layer import LayerPart


@dataclass
class LoadedSource:
    """Everything a loader read from one file, in float64 world coordinates.

    Attributes
    ----------
    kind
        ``ifc``, ``pointcloud``, ``pipes`` or ``city``; names the kind-specific block of ``twin info``.
    crs
        The CRS the file declares (``EPSG:xxxx`` or a name), or None when it declares none.
    details
        The kind-specific block of ``twin info --json`` (e.g. ``{"schema": "IFC4"}``).
    extras
        Rich objects for the app and the analyses (spatial tree, network graphs, ...), never
        serialised by ``twin info``.
    """

    path: Path
    kind: str
    parts: list[LayerPart]
    crs: str | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
