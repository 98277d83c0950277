"""The summary of a twin that ``twin info`` prints: the stable, documented JSON contract."""

from __future__ import annotations

import math
from typing import Any

from twin.scene import SourceRecord, Twin


def describe(twin: Twin, seconds: float) -> dict[str, Any]:
    """The ``twin info --json`` document (keys documented in the README), strict JSON throughout.

    Every number in it is finite: NaN and infinities (a layer's or a column's empty range) become
    null, so ``json.dumps(..., allow_nan=False)`` always succeeds and any parser reads it.
    """
    skipped = [dict(item, source=record.name) for record in twin.sources for item in record.skipped]
    warnings = list(twin.warnings) + [w for record in twin.sources for w in record.warnings]
    out: dict[str, Any] = {
        "path": str(twin.path),
        "kind": twin.kind,
        "name": twin.name,
        "assets": len(twin.assets),
        "bounds": twin.bounds,
        "origin": None if twin.origin is None else [float(v) for v in twin.origin],
        "crs": twin.crs,
        "seconds": round(seconds, 4),
        "warnings": warnings,
        "skipped": skipped,
        "layers": [layer.summary() for layer in twin.layers],
        "sources": [_source(twin, record) for record in twin.sources],
    }
    if twin.kind != "scene" and twin.sources:
        out[twin.kind] = twin.sources[0].details
    cleaned: dict[str, Any] = _clean(out)
    return cleaned


def _source(twin: Twin, record: SourceRecord) -> dict[str, Any]:
    layers = [twin.layer(name) for name in record.layers]
    return {
        "path": str(record.path),
        "name": record.name,
        "kind": record.kind,
        "crs": record.crs,
        "seconds": round(record.seconds, 4),
        "assets": sum(layer.n_assets for layer in layers),
        "layers": record.layers,
        "error": record.error,
        record.kind or "details": record.details,
    }


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalars and arrays
        value = value.tolist()
        if isinstance(value, list):
            return _clean(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def text_summary(info: dict[str, Any]) -> str:
    """The readable form of :func:`describe`."""
    b = info["bounds"]
    lines = [
        f"{info['name']} ({info['kind']}): {info['path']}",
        f"  assets   {info['assets']:,}",
        f"  crs      {info['crs'] or 'unknown'}",
        f"  origin   {info['origin']}",
        "  bounds   "
        + (
            f"x {b[0]:.2f} .. {b[1]:.2f}, y {b[2]:.2f} .. {b[3]:.2f}, z {b[4]:.2f} .. {b[5]:.2f}"
            if b and None not in b
            else "none"
        ),
        f"  loaded in {info['seconds']:.2f} s",
        "  layers",
    ]
    for layer in info["layers"]:
        lines.append(
            f"    {layer['name']:<32} {layer['geometry']:<6} {layer['assets']:>9,} assets "
            f"{layer['cells']:>10,} cells {layer['points']:>10,} points"
        )
    for source in info["sources"]:
        if source["error"]:
            lines.append(f"  FAILED   {source['name']}: {source['error']}")
    for warning in info["warnings"]:
        lines.append(f"  warning  {warning}")
    if info["skipped"]:
        lines.append(f"  skipped  {len(info['skipped'])} (see --json)")
    return "\n".join(lines)
