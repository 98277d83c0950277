"""Pipe networks as arrays, and the questions an engineer asks of them.

A pipe loader puts one :class:`~twin.pipe_network.PipeNetwork` per network in
``extras["networks"]`` (node and segment columns, see :mod:`twin.pipe_network`).  This module
finds networks and elements in a twin and gathers the questions asked of them:

* :func:`isolate` (:mod:`twin.valve_areas`) -- which valves to close to cut a segment off from every source, and who
  loses supply (the valve-isolation segment);
* :func:`trace` (:mod:`twin.network_flow`) -- what lies up- or downstream of a node or segment;
* :func:`set_valve_state` -- a valve that cannot close (isolation then closes the next ones out).

Why arrays: on a city network (300,000 segments) a networkx graph costs seconds to build and
every whole-graph pass costs seconds per question.  Here what does not depend on the question
is computed once per network and kept: the direction of flow, the valve-bounded areas and a
depth-first tree of the areas seen from the sources (which areas a closed area cuts off), so a
query costs in proportion to its answer.  Geometric questions live in :mod:`twin.nearby`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twin.errors import InputError
from twin.network_flow import GRAVITY_KINDS, flow, flow_edges, trace
from twin.pipe_network import NODE_COLUMNS, SEGMENT_COLUMNS, SOURCE_KINDS, STR, PipeNetwork
from twin.valve_areas import (
    STRATEGIES,
    Valve,
    ValveAreas,
    ValveTable,
    default_strategy,
    isolate,
    set_valve_state,
    valve_areas,
    valve_layer,
    valve_table,
    valves_on,
)

if TYPE_CHECKING:
    from twin.scene import Twin

__all__ = [
    "GRAVITY_KINDS",
    "NODE_COLUMNS",
    "SEGMENT_COLUMNS",
    "SOURCE_KINDS",
    "STR",
    "STRATEGIES",
    "NetworkRef",
    "PipeNetwork",
    "Valve",
    "ValveAreas",
    "ValveTable",
    "default_strategy",
    "edge",
    "find_element",
    "flow",
    "flow_edges",
    "isolate",
    "networks_of",
    "segment_index",
    "set_valve_state",
    "sources",
    "trace",
    "valve_areas",
    "valve_layer",
    "valve_table",
    "valves_on",
]


@dataclass(frozen=True)
class NetworkRef:
    """A network found in a twin: which source holds it and under what name."""

    source: int
    name: str
    graph: PipeNetwork


# -- finding networks and elements ----------------------------------------------------------


def networks_of(twin: Twin) -> list[NetworkRef]:
    """Every network of every source of a twin."""
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
        hits = [r for r in refs if (r.graph.has_segment(element_id) if what == "segment" else element_id in r.graph)]
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


class _SegmentIndex(Mapping[str, tuple[str, str]]):
    """Segment id -> its (start, end) node ids, read from the columns (no dict of tuples)."""

    def __init__(self, net: PipeNetwork) -> None:
        self.net = net

    def __getitem__(self, segment_id: str) -> tuple[str, str]:
        row = self.net.segment_row(segment_id)
        ids = self.net.node_ids
        return str(ids[self.net.start[row]]), str(ids[self.net.end[row]])

    def __iter__(self) -> Iterator[str]:
        return iter(self.net.segment_ids.tolist())

    def __len__(self) -> int:
        return self.net.number_of_edges()

    def __contains__(self, segment_id: object) -> bool:
        return isinstance(segment_id, str) and self.net.has_segment(segment_id)


def segment_index(graph: PipeNetwork) -> Mapping[str, tuple[str, str]]:
    """Segment id -> its (u, v) node ids."""
    return _SegmentIndex(graph)


def edge(graph: PipeNetwork, segment_id: str) -> dict[str, Any]:
    return graph.segment_data(graph.segment_row(segment_id))


def sources(graph: PipeNetwork) -> list[str]:
    return graph.sorted_nodes(graph.source_rows)
