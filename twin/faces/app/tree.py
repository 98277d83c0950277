"""The layer tree's data: sources with their layers, IFC spatial trees, network legends.

Built once at start-up as plain JSON (shared, read-only state); what each browser shows of it
(visibility, opacity, the selected element) stays in that browser.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.colours import utilities as palettes
from twin.faces.rendering import DEFAULT_COLORS
from twin.scene import Twin

KIND_ICONS = {
    "ifc": "mdi-office-building",
    "pointcloud": "mdi-dots-hexagon",
    "pipes": "mdi-pipe",
    "city": "mdi-city-variant-outline",
    "terrain": "mdi-terrain",
}
MAX_TREE_ELEMENTS = 20_000
POINT_MODES = (
    ("rgb", "True colour"),
    ("classification", "Class"),
    ("elevation", "Elevation"),
    ("intensity", "Intensity"),
)


def layer_groups(twin: Twin) -> list[dict[str, Any]]:
    """One group per source: its layers (or its error), and a spatial tree when it has one."""
    groups = []
    for record in twin.sources:
        layers = [_layer(twin, twin.layer(name), record.details) for name in record.layers]
        groups.append(
            {
                "name": record.name,
                "kind": record.kind,
                "icon": KIND_ICONS.get(record.kind, "mdi-layers"),
                "error": record.error,
                "warnings": len(record.warnings),
                "layers": layers,
                "tree": spatial_items(twin, record.extras.get("spatial_tree")),
            }
        )
    return groups


def _layer(twin: Twin, layer, details: dict) -> dict[str, Any]:
    kind = _network_kind(layer)
    entry = {
        "name": layer.name,
        "label": layer.name.split("/", 1)[-1],
        "assets": layer.n_assets,
        "points": int(layer.dataset.n_points) if layer.geometry == "points" else 0,
        "geometry": layer.geometry,
        "kind": layer.kind,
        "network_kind": kind,
        "color": layer.style.color or DEFAULT_COLORS.get(layer.kind, "#cccccc"),
        "modes": [],
        "classes": [],
    }
    if layer.geometry == "points":
        arrays = set(layer.dataset.point_data.keys())
        entry["modes"] = [{"value": m, "title": t} for m, t in POINT_MODES if m == "elevation" or m in arrays]
        classes = details.get("classes", {}) if isinstance(details, dict) else {}
        if "classification" in arrays:  # count the points loaded, not the file's, for "N of M points shown"
            loaded = np.bincount(np.asarray(layer.dataset.point_data["classification"], dtype=np.uint8), minlength=256)
            entry["classes"] = [
                {
                    "code": int(code),
                    "name": f"{code} {classes.get(code, classes.get(str(code), {})).get('name', '')}",
                    "count": int(loaded[code]),
                }
                for code in np.flatnonzero(loaded)
            ]
    return entry


def _network_kind(layer) -> str | None:
    if layer.kind != "pipes":
        return None
    return palettes.network_kind(layer.name.split("/", 1)[0])


def legend(twin: Twin) -> list[dict[str, str]]:
    """The utility colour legend for the network kinds present in the scene."""
    kinds = {_network_kind(layer) for layer in twin.layers if layer.kind == "pipes"}
    palette = palettes.PALETTES.get(twin.palette, palettes.PALETTES["china"])
    return [{"kind": k, "label": palettes.LABELS[k], "color": palette[k]} for k in palettes.KINDS if k in kinds]


def spatial_items(twin: Twin, tree: dict | None) -> list[dict[str, Any]] | None:
    """A VTreeview's items from an IFC spatial tree: building, storey, then the elements.

    Element items carry their asset row as ``value`` so a click selects them in 3D and a pick
    in 3D activates them here.
    """
    if not tree:
        return None
    budget = [MAX_TREE_ELEMENTS]
    rows = {asset_id: i for i, asset_id in enumerate(twin.assets["id"].tolist())}

    def node(n: dict) -> dict:
        children = [node(c) for c in n.get("children", [])]
        for global_id in n.get("elements", []):
            row = rows.get(global_id)
            if row is not None and budget[0] > 0:
                budget[0] -= 1
                kind = str(twin.assets["kind"][row])
                name = str(twin.assets["name"][row]) or f"{kind.removeprefix('Ifc')} {global_id[:6]}…"
                children.append({"value": row, "title": name, "subtitle": kind})
        label = n.get("name") or n.get("class", "")
        return {
            "value": f"node:{n.get('id')}",
            "title": f"{label} ({n.get('total', 0)})",
            "icon": "mdi-stairs" if n.get("class") == "IfcBuildingStorey" else "mdi-domain",
            "children": children,
        }

    return [node(tree)]


def ancestors(groups: list[dict[str, Any]]) -> dict[int, list[str]]:
    """For every element row in the spatial trees, the tree nodes to open to show it."""
    out: dict[int, list[str]] = {}

    def walk(items: list[dict], path: list[str]) -> None:
        for item in items:
            if isinstance(item["value"], int):
                out[item["value"]] = path
            else:
                walk(item.get("children", []), [*path, item["value"]])

    for group in groups:
        walk(group.get("tree") or [], [])
    return out
