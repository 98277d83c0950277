"""The spatial tree for the app's model tree: the worker's nodes, kept to the assets, with counts."""

from __future__ import annotations

from typing import Any

#: classes of spatial nodes counted in ``details["spatial"]``
NODE_COUNTS = {
    "IfcSite": "sites",
    "IfcBuilding": "buildings",
    "IfcBuildingStorey": "storeys",
    "IfcSpace": "spaces",
    "IfcBridge": "facilities",
    "IfcRoad": "facilities",
    "IfcRailway": "facilities",
    "IfcTunnel": "facilities",
    "IfcMarineFacility": "facilities",
    "IfcFacility": "facilities",
}


def finish(node: dict[str, Any] | None, classes: dict[str, str]) -> dict[str, Any] | None:
    """Keep in ``elements`` only assets (GlobalId -> class in ``classes``); add ``counts`` and ``total``.

    ``counts`` totals the assets per IFC class in a node and everything below it.
    """
    if node is None:
        return None
    children = [c for c in (finish(child, classes) for child in node["children"]) if c is not None]
    elements = [guid for guid in node["elements"] if guid in classes]
    counts: dict[str, int] = {}
    for guid in elements:
        counts[classes[guid]] = counts.get(classes[guid], 0) + 1
    for child in children:
        for name, n in child["counts"].items():
            counts[name] = counts.get(name, 0) + n
    return {
        **node,
        "children": children,
        "elements": elements,
        "counts": dict(sorted(counts.items())),
        "total": sum(counts.values()),
    }


def node_counts(root: dict[str, Any] | None) -> dict[str, int]:
    """How many sites, buildings, other facilities, storeys and spaces the tree holds."""
    counts = {"sites": 0, "buildings": 0, "facilities": 0, "storeys": 0, "spaces": 0}
    stack = [root] if root else []
    while stack:
        node = stack.pop()
        if node["class"] in NODE_COUNTS:
            counts[NODE_COUNTS[node["class"]]] += 1
        stack.extend(node["children"])
    return counts
