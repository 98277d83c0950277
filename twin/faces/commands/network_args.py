"""What the network commands (isolate, trace, nearby) share: arguments, lookup and output."""

from __future__ import annotations

import argparse
import json
from typing import Any

from twin.faces.commands.common import add_load_arguments
from twin.faces.commands.scene_cache import load_cached
from twin.networks import NetworkRef, find_element, segment_index
from twin.summary import _clean


def add_network_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    add_load_arguments(parser)
    parser.add_argument("id", metavar="ID", help=what)
    parser.add_argument("--network", help="the network holding ID, when ids repeat across networks")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def load_and_find(args: argparse.Namespace, prefer: str = "segment"):
    """Load PATH (a data file or a scene; from the scene cache when unchanged) and find ID in its networks."""
    twin = load_cached(args)  # a question after the first reads the scene kept on disk
    ref, what = find_element(twin, args.id, args.network, prefer)
    return twin, ref, what


def segment_layer(twin, ref: NetworkRef):
    """The twin layer holding a network's segments (None if it has none)."""
    index = ref.graph.graph.get("segment_part")
    return None if index is None else twin.layer(twin.sources[ref.source].layers[index])


def asset_row(twin, ref: NetworkRef, element_id: str, what: str) -> int:
    """The twin's asset row of a segment or node of a network."""
    part = ref.graph.graph.get("segment_part" if what == "segment" else "node_part")
    layer = twin.layer(twin.sources[ref.source].layers[part])
    if what == "segment":
        u, v = segment_index(ref.graph)[element_id]
        local = ref.graph.edges[u, v, element_id]["row"]
    else:
        local = ref.graph.nodes[element_id]["row"]
    return layer.asset_start + local


def connected_segments(ref: NetworkRef, element_id: str, what: str) -> set[str]:
    """Segments of the same network meeting this segment (or node) at a node: they touch by design."""
    nodes = segment_index(ref.graph)[element_id] if what == "segment" else (element_id,)
    return {key for node in nodes for _, _, key in ref.graph.edges(node, keys=True)} - {element_id}


def emit(result: dict[str, Any], as_json: bool, lines: list[str]) -> int:
    print(json.dumps(_clean(result), indent=2, ensure_ascii=False) if as_json else "\n".join(lines))
    return 0


def listing(label: str, items: list[str], limit: int = 12) -> str:
    more = f" ... (+{len(items) - limit})" if len(items) > limit else ""
    return f"  {label:<12} {len(items):>5}  {', '.join(items[:limit])}{more}"
