"""Pipe networks as graphs, and the questions an engineer asks of them.

A pipe loader puts one networkx ``MultiGraph`` per network in ``extras["networks"]``: nodes are
node ids (attributes ``kind``, ``x``, ``y``, ``z``, ``ground``, ``demand``, ``address``, ``row``);
edges are keyed by segment id (``start``, ``end`` in the file's direction, ``length``,
``diameter``, ``invert_start``, ``invert_end``, ``row``, ...).  This module answers:

* :func:`isolate` -- which valves to close to cut a segment off from every source, and who
  loses supply (the valve-isolation segment);
* :func:`trace` -- what lies up- or downstream of a node or segment.

Geometric questions (what is near a segment) live in :mod:`twin.nearby`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import networkx as nx

from twin.errors import InputError

if TYPE_CHECKING:
    from twin.scene import Twin

SOURCE_KINDS = ("reservoir", "tank", "source")
GRAVITY_KINDS = ("drainage", "sewer", "storm")
STRATEGIES = ("data", "N", "N-1")


@dataclass(frozen=True)
class NetworkRef:
    """A network graph found in a twin: which source holds it and under what name."""

    source: int
    name: str
    graph: nx.MultiGraph


@dataclass(frozen=True)
class Valve:
    """An isolation valve on ``link`` at its end at ``node``; closing it parts the two."""

    id: str
    link: str
    node: str
    assumed: bool

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "link": self.link, "node": self.node, "assumed": self.assumed}


# -- finding networks and elements ----------------------------------------------------------


def networks_of(twin: Twin) -> list[NetworkRef]:
    """Every network graph of every source of a twin."""
    return [
        NetworkRef(i, name, graph)
        for i, record in enumerate(twin.sources)
        for name, graph in record.extras.get("networks", {}).items()
    ]


def find_element(
    twin: Twin, element_id: str, network: str | None = None, prefer: str = "segment"
) -> tuple[NetworkRef, str]:
    """The network holding a segment or node id, and which of the two it is.

    Segments are looked up before nodes (EPANET files reuse ids between pipes and junctions)
    unless ``prefer="node"``; ``network`` narrows the search when ids repeat across networks.
    """
    refs = [r for r in networks_of(twin) if network in (None, r.name)]
    if not refs:
        raise InputError(twin.path, f"no pipe network{f' named {network!r}' if network else ''} in this scene")
    order = ("segment", "node") if prefer == "segment" else ("node", "segment")
    for what in order:
        hits = [r for r in refs if (_has_segment(r.graph, element_id) if what == "segment" else element_id in r.graph)]
        if len(hits) > 1:
            names = ", ".join(sorted({h.name for h in hits}))
            raise InputError(
                twin.path, f"{what} {element_id!r} exists in several networks ({names})", hint="name one with --network"
            )
        if hits:
            return hits[0], what
    raise InputError(
        twin.path, f"no segment or node with id {element_id!r} in {', '.join(sorted({r.name for r in refs}))}"
    )


def _has_segment(graph: nx.MultiGraph, segment_id: str) -> bool:
    return segment_id in segment_index(graph)


def segment_index(graph: nx.MultiGraph) -> dict[str, tuple[str, str]]:
    """Segment id -> its (u, v) in the graph; cached on the graph, which the loader builds once
    and nothing changes after (checking the edge count walked the whole graph on every call)."""
    index = graph.graph.get("_segments")
    if index is None:
        index = {key: (u, v) for u, v, key in graph.edges(keys=True)}
        graph.graph["_segments"] = index
    return cast(dict[str, tuple[str, str]], index)


def _length(graph: nx.MultiGraph, segments: Iterable[str]) -> float:
    """Total stated length of some segments (those without one count nothing)."""
    lengths = (edge(graph, k)["length"] for k in segments)
    return float(sum(x for x in lengths if math.isfinite(x)))


def edge(graph: nx.MultiGraph, segment_id: str) -> dict[str, Any]:
    u, v = segment_index(graph)[segment_id]
    return cast(dict[str, Any], graph.edges[u, v, segment_id])


def sources(graph: nx.MultiGraph) -> list[str]:
    return sorted(n for n, kind in graph.nodes(data="kind") if kind in SOURCE_KINDS)


# -- valves -------------------------------------------------------------------------------


def valve_layer(graph: nx.MultiGraph, strategy: str = "data") -> list[Valve]:
    """The isolation valves of a network.

    ``data``: the valve nodes of the file; a valve node joins the segment of its first link
    (by id) and parts it from the others.  ``N``: an assumed valve at both ends of every
    segment.  ``N-1``: at every node, assumed valves on all incident segments but one (the
    first by id) -- the two strategies WNTR's valve-layer generator offers, made deterministic.
    """
    if strategy not in STRATEGIES:
        raise InputError(None, f"unknown valve strategy {strategy!r} (use one of {', '.join(STRATEGIES)})")
    out: list[Valve] = []
    for node in sorted(graph.nodes):
        keys = sorted(key for _, _, key in graph.edges(node, keys=True))
        if strategy == "data":
            if graph.nodes[node].get("kind") != "valve":
                continue
            chosen = keys[1:] if len(keys) > 1 else keys
            out += [Valve(node if len(chosen) == 1 else f"{node}:{k}", k, node, False) for k in chosen]
        else:
            chosen = keys if strategy == "N" else keys[1:]
            out += [Valve(f"V-{k}-{node}", k, node, True) for k in chosen]
    return out


def default_strategy(graph: nx.MultiGraph) -> str:
    """Valves from the data when the network has any, else the assumed ``N-1`` layer."""
    return "data" if any(kind == "valve" for _, kind in graph.nodes(data="kind")) else "N-1"


def _element_graph(graph: nx.MultiGraph, closed: set[tuple[str, str]]) -> nx.Graph:
    """Nodes and segments as vertices, joined where a segment meets a node through no valve."""
    g = nx.Graph()
    g.add_nodes_from(("n", n) for n in graph.nodes)
    for u, v, key in graph.edges(keys=True):
        g.add_node(("s", key))
        for end in (u, v):
            if (key, end) not in closed:
                g.add_edge(("s", key), ("n", end))
    return g


def valve_areas(graph: nx.MultiGraph, strategy: str) -> tuple[dict[tuple[str, str], int], nx.MultiGraph]:
    """The valve-bounded areas of a network: the area of every node and segment, and the areas
    joined by valves (edge attribute ``valve``).  They do not depend on the segment asked about,
    so they are computed once per valve strategy and kept on the graph."""
    cache = graph.graph.setdefault("_areas", {})
    if strategy not in cache:  # the graph does not change once loaded (see segment_index)
        valves = valve_layer(graph, strategy)
        area_of = {}
        components = nx.connected_components(_element_graph(graph, {(v.link, v.node) for v in valves}))
        for i, members in enumerate(components):
            for member in members:
                area_of[member] = i
        areas = nx.MultiGraph()
        areas.add_nodes_from(set(area_of.values()))
        for v in valves:
            a, b = area_of[("s", v.link)], area_of[("n", v.node)]
            if a != b:
                areas.add_edge(a, b, valve=v)
        cache[strategy] = (area_of, areas)
    return cast(tuple[dict[tuple[str, str], int], nx.MultiGraph], cache[strategy])


def isolate(graph: nx.MultiGraph, segment_id: str, strategy: str | None = None) -> dict[str, Any]:
    """The valve-isolation segment of ``segment_id`` and what loses supply when it is shut.

    The valves returned are those on the border of the segment's valve-bounded area that lead
    to a part of the network still fed by a source; valves towards parts fed only through the
    segment need not be closed (those parts lose supply anyway and are listed as
    ``unintended``).  The set is minimal: leaving any one of them open re-feeds the segment.
    A segment whose area holds a source cannot be cut off from it; then every border valve is
    returned (``contains_source``) and the parts left without a source are listed as lost.
    """
    if segment_id not in segment_index(graph):
        raise InputError(None, f"no segment {segment_id!r} in network {graph.graph.get('name')!r}")
    feeds = sources(graph)
    if not feeds:
        raise InputError(
            None,
            f"network {graph.graph.get('name')!r} has no source (reservoir, tank or supply point)",
            hint="isolation needs one: mark a node as kind source",
        )
    strategy = strategy or default_strategy(graph)
    area_of, areas = valve_areas(graph, strategy)
    target = area_of[("s", segment_id)]
    source_areas = {area_of[("n", s)] for s in feeds}
    holds_source = target in source_areas
    rest = areas.subgraph(n for n in areas if n != target)
    fed = set()
    for component in nx.connected_components(rest):
        if component & source_areas:
            fed |= component
    # a segment holding a source cannot be cut off from it: shut it off from the whole network
    closing = [d["valve"] for _, other, d in areas.edges(target, data=True) if holds_source or other in fed]
    lost_areas = set(areas) - fed
    closing = sorted(set(closing), key=lambda v: v.id)
    return _isolation_result(graph, segment_id, strategy, closing, area_of, lost_areas, target, holds_source)


def _isolation_result(
    graph: nx.MultiGraph,
    segment_id: str,
    strategy: str,
    closing: list[Valve],
    area_of: dict[tuple[str, str], int],
    lost_areas: set[int],
    target: int,
    holds_source: bool,
) -> dict[str, Any]:
    lost_segments = sorted(k for (what, k), a in area_of.items() if what == "s" and a in lost_areas)
    own = sorted(k for (what, k), a in area_of.items() if what == "s" and a == target)
    lost_nodes = sorted(n for (what, n), a in area_of.items() if what == "n" and a in lost_areas)
    customers = [
        n
        for n in lost_nodes
        if graph.nodes[n].get("kind") not in SOURCE_KINDS
        and (graph.nodes[n].get("demand", 0) > 0 or graph.nodes[n].get("address"))
    ]
    length = _length(graph, lost_segments)
    return {
        "network": graph.graph.get("name"),
        "segment": segment_id,
        "strategy": strategy,
        "valves_assumed": strategy != "data",
        "contains_source": holds_source,
        "valves": [v.as_dict() for v in closing],
        "isolated_segments": own,
        "segments": lost_segments,
        "unintended_segments": [k for k in lost_segments if k not in own],
        "nodes": lost_nodes,
        "customers": customers,
        "length_m": round(length, 3),
    }


# -- tracing -------------------------------------------------------------------------------


def flow_edges(graph: nx.MultiGraph) -> list[tuple[str, str, str]]:
    """Every segment as ``(from, to, id)`` in its direction of flow.

    Gravity networks flow from the higher invert to the lower (the file's direction where the
    inverts are equal or unknown); pressurised networks flow away from their sources, by
    shortest distance along the pipes (the file's direction where there is no source).
    """
    gravity = graph.graph.get("kind") in GRAVITY_KINDS
    feeds = sources(graph)
    distance = (
        {}
        if gravity or not feeds
        else nx.multi_source_dijkstra_path_length(
            graph,
            feeds,
            weight=lambda u, v, d: min(x["length"] for x in d.values() if math.isfinite(x["length"])) if d else 1.0,
        )
    )
    out = []
    for _, _, key, data in graph.edges(keys=True, data=True):
        a, b = data["start"], data["end"]
        if gravity:
            ia, ib = data.get("invert_start", math.nan), data.get("invert_end", math.nan)
            if math.isfinite(ia) and math.isfinite(ib) and ib > ia:
                a, b = b, a
        elif distance and a in distance and b in distance and distance[b] < distance[a]:
            a, b = b, a
        out.append((a, b, key))
    return out


def trace(graph: nx.MultiGraph, element_id: str, direction: str, what: str = "segment") -> dict[str, Any]:
    """Nodes and segments up- or downstream of a node or segment, following the flow."""
    if direction not in ("upstream", "downstream"):
        raise InputError(None, f"direction must be upstream or downstream, not {direction!r}")
    flows = flow_edges(graph)
    follow: dict[str, list[tuple[str, str]]] = {}
    for a, b, key in flows:
        head, tail = (a, b) if direction == "downstream" else (b, a)
        follow.setdefault(head, []).append((key, tail))
    if what == "segment":
        a, b, _ = next(f for f in flows if f[2] == element_id)
        start_nodes, segments = [b if direction == "downstream" else a], {element_id}
    else:
        if element_id not in graph:
            raise InputError(None, f"no node {element_id!r} in network {graph.graph.get('name')!r}")
        start_nodes, segments = [element_id], set()
    nodes, queue = set(start_nodes), deque(start_nodes)
    while queue:
        for key, nxt in follow.get(queue.popleft(), []):
            segments.add(key)
            if nxt not in nodes:
                nodes.add(nxt)
                queue.append(nxt)
    ends = sorted(n for n in nodes if not follow.get(n))
    length = _length(graph, segments)
    return {
        "network": graph.graph.get("name"),
        "id": element_id,
        "element": what,
        "direction": direction,
        "basis": "inverts"
        if graph.graph.get("kind") in GRAVITY_KINDS
        else ("distance from sources" if sources(graph) else "file direction"),
        "segments": sorted(segments),
        "nodes": sorted(nodes),
        "ends": ends,
        "length_m": round(length, 3),
    }
