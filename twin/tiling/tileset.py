"""``tileset.json``: the quadtree of nodes with content, its boxes, errors, groups and extras.

Two trees share the root: the meshes' (``refine: REPLACE``: a coarse node's boxes give way to
its children's full models) and the point clouds' (``refine: ADD``: a child adds points).  A
node's box is the union of its contents and its children's boxes (padded by a few centimetres,
so no box is flat), hence every child lies inside its parent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.tiling.frame import LocalFrame
from twin.tiling.grid import NodeKey, TileGrid, parent

PAD = 0.05  # metres added around every content's bounds
REFINE = {"mesh": "REPLACE", "points": "ADD"}


@dataclass
class Content:
    """One GLB of a node: its uri, layer group, family and ENU bounds ``[min(3), max(3)]``."""

    uri: str
    key: NodeKey
    group: int
    family: str
    bounds: Sequence[float]


@dataclass
class _Node:
    key: NodeKey
    low: np.ndarray = field(default_factory=lambda: np.full(3, np.inf))
    high: np.ndarray = field(default_factory=lambda: np.full(3, -np.inf))
    contents: list[Content] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)

    def include(self, low: np.ndarray, high: np.ndarray) -> None:
        self.low, self.high = np.minimum(self.low, low), np.maximum(self.high, high)


def tileset_document(
    contents: Iterable[Content],
    groups: Sequence[dict[str, str]],
    frame: LocalFrame,
    grid: TileGrid,
    extras: dict[str, Any],
) -> dict[str, Any]:
    """The whole ``tileset.json`` (3D Tiles 1.1) for these contents."""
    by_family: dict[str, list[Content]] = {}
    for content in contents:
        by_family.setdefault(content.family, []).append(content)
    top = max((c.key[0] for family in by_family.values() for c in family), default=0)
    trees = [_tree(items, top, grid, REFINE[family]) for family, items in sorted(by_family.items())]
    children = [child for tree in trees for child in tree[0]]
    low = np.min([tree[1] for tree in trees], axis=0) if trees else np.full(3, -PAD)
    high = np.max([tree[2] for tree in trees], axis=0) if trees else np.full(3, PAD)
    root_error = grid.geometric_error(top + 1)
    return {
        "asset": {"version": "1.1", "generator": "CIM Twin"},
        "geometricError": 2 * root_error,
        "schema": {
            "id": "cim_twin_layers",
            "classes": {"layer": {"properties": {"name": {"type": "STRING"}, "kind": {"type": "STRING"}}}},
        },
        "groups": [{"class": "layer", "properties": {"name": g["name"], "kind": g["kind"]}} for g in groups],
        "root": {
            "boundingVolume": {"box": _box(low, high)},
            "transform": frame.root_transform(),
            "geometricError": root_error,
            "refine": "ADD",
            "children": children,
        },
        "extras": {"cim_twin": extras},
    }


def _tree(
    contents: list[Content], top: int, grid: TileGrid, refine: str
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """The JSON of one family's top nodes, with the family's overall bounds."""
    nodes: dict[NodeKey, _Node] = {}
    for content in contents:
        node = nodes.setdefault(content.key, _Node(content.key))
        node.contents.append(content)
        node.include(np.asarray(content.bounds[:3]) - PAD, np.asarray(content.bounds[3:]) + PAD)
    for level in range(top):  # bottom-up: each level's nodes widen (and link to) their parents
        for node in [n for n in nodes.values() if n.key[0] == level]:
            above = nodes.setdefault(parent(node.key), _Node(parent(node.key)))
            above.children.append(node)
            above.include(node.low, node.high)
    tops = sorted((n for n in nodes.values() if n.key[0] == top), key=lambda n: n.key)
    if not tops:
        return [], np.full(3, np.inf), np.full(3, -np.inf)
    low = np.min([n.low for n in tops], axis=0)
    high = np.max([n.high for n in tops], axis=0)
    return [_json(n, grid, refine) for n in tops], low, high


def _json(node: _Node, grid: TileGrid, refine: str) -> dict[str, Any]:
    tile: dict[str, Any] = {
        "boundingVolume": {"box": _box(node.low, node.high)},
        "geometricError": grid.geometric_error(node.key[0]),
        "refine": refine,
    }
    if node.contents:
        tile["contents"] = [{"uri": c.uri, "group": c.group} for c in sorted(node.contents, key=lambda c: c.group)]
    if node.children:
        tile["children"] = [_json(child, grid, refine) for child in sorted(node.children, key=lambda n: n.key)]
    return tile


def _box(low: np.ndarray, high: np.ndarray) -> list[float]:
    """A 3D Tiles ``box``: centre, then the three half-axis vectors (axis-aligned in ENU)."""
    centre, half = (low + high) / 2, (high - low) / 2
    return [float(v) for v in (*centre, half[0], 0, 0, 0, half[1], 0, 0, 0, half[2])]
