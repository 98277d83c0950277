"""Valve isolation on a pipe network: which valves to close to cut a segment off from every
source, and who loses supply (the valve-isolation segment).

The valve layer (from the data, or assumed: N valves at every node end, N-1 all but one) and
the valve-bounded areas with a depth-first tree of them seen from the sources are computed
once per network and strategy and kept on the network, until a valve's state changes
(:func:`set_valve_state`): a query then costs in proportion to its answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.errors import InputError
from twin.pipe_network import SOURCE_KINDS, STR, PipeNetwork, csr, network_name

STRATEGIES = ("data", "N", "N-1")


@dataclass(frozen=True)
class Valve:
    """An isolation valve on ``link`` at its end at ``node``; closing it parts the two."""

    id: str
    link: str
    node: str
    assumed: bool

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "link": self.link, "node": self.node, "assumed": self.assumed}


# -- valves -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValveTable:
    """A valve layer as columns: the incidence slot (node, segment) of each valve, and its id."""

    node: np.ndarray
    segment: np.ndarray
    ids: np.ndarray
    assumed: bool
    slot: np.ndarray  #: index into :attr:`PipeNetwork.incidence` of each valve


def valve_table(graph: PipeNetwork, strategy: str = "data") -> ValveTable:
    """The isolation valves of a network that can close, in the order of :func:`valve_layer`
    (kept per strategy until a valve's state changes, see :func:`set_valve_state`)."""
    cache = graph.__dict__.setdefault("_valves", {})
    if strategy not in cache:
        table = _all_valves(graph, strategy)
        broken = graph.__dict__.get("_inoperable", set())
        if broken:
            keep = ~np.isin(table.ids, np.array(sorted(broken), dtype=STR))
            table = ValveTable(table.node[keep], table.segment[keep], table.ids[keep], table.assumed, table.slot[keep])
        cache[strategy] = table
    kept: ValveTable = cache[strategy]
    return kept


def _all_valves(graph: PipeNetwork, strategy: str) -> ValveTable:
    if strategy not in STRATEGIES:
        raise InputError(None, f"unknown valve strategy {strategy!r} (use one of {', '.join(STRATEGIES)})")
    cache = graph.__dict__.setdefault("_valves_all", {})
    if strategy not in cache:
        cache[strategy] = _valve_table(graph, strategy)
    table: ValveTable = cache[strategy]
    return table


def set_valve_state(graph: PipeNetwork, valve_id: str, operable: bool, strategy: str | None = None) -> None:
    """Mark an isolation valve as unable to close (seized, buried, broken) or as working again.

    Isolation then closes the next valves out.  The valve-bounded areas of the valve's layer
    are rebuilt at the next question (one pass over the network); other questions keep theirs.
    """
    strategy = strategy or default_strategy(graph)
    if valve_id not in set(_all_valves(graph, strategy).ids.tolist()):
        raise InputError(
            None, f"no valve {valve_id!r} in the {strategy} valve layer of network {network_name(graph)!r}"
        )
    broken = graph.__dict__.setdefault("_inoperable", set())
    if operable:
        broken.discard(valve_id)
    else:
        broken.add(valve_id)
    graph.__dict__.get("_valves", {}).pop(strategy, None)
    graph.__dict__.get("_areas", {}).pop(strategy, None)


def valves_on(graph: PipeNetwork, segment_id: str, strategy: str | None = None) -> list[Valve]:
    """The isolation valves on one segment (what the inspector lists), without the whole layer."""
    table = valve_table(graph, strategy or default_strategy(graph))
    return _valves(graph, table, np.flatnonzero(table.segment == graph.segment_row(segment_id)))


def _valve_table(graph: PipeNetwork, strategy: str) -> ValveTable:
    """``data``: a valve node joins the segment of its first link (by id) and parts it from the
    others.  ``N``: an assumed valve at both ends of every segment.  ``N-1``: at every node,
    assumed valves on all incident segments but the first by id -- WNTR's two valve-layer
    strategies, made deterministic."""
    _, segment, node = graph.incidence
    slot = np.lexsort((graph.segment_rank[segment], graph.node_rank[node]))
    node_s, seg_s = node[slot], segment[slot]
    first = np.r_[True, node_s[1:] != node_s[:-1]]
    if strategy == "N":
        keep = np.ones(len(slot), dtype=bool)
    elif strategy == "N-1":
        keep = ~first
    else:
        size = np.bincount(node_s, minlength=len(graph.node_ids))[node_s]
        keep = (graph.node_columns["kind"][node_s] == "valve") & (~first | (size == 1))
    node_s, seg_s, slot = node_s[keep], seg_s[keep], slot[keep]
    node_ids, seg_ids = graph.node_ids[node_s].astype(STR, copy=False), graph.segment_ids[seg_s].astype(STR, copy=False)
    if strategy == "data":
        single = np.bincount(node_s, minlength=len(graph.node_ids))[node_s] == 1
        ids = np.where(single, node_ids, np.strings.add(np.strings.add(node_ids, ":"), seg_ids))
    else:
        ids = np.strings.add(np.strings.add(np.strings.add("V-", seg_ids), "-"), node_ids)
    return ValveTable(node_s, seg_s, ids.astype(STR, copy=False), strategy != "data", slot)


def valve_layer(graph: PipeNetwork, strategy: str = "data") -> list[Valve]:
    """The isolation valves of a network (see :func:`valve_table` for the strategies)."""
    table = valve_table(graph, strategy)
    return _valves(graph, table, np.arange(len(table.ids)))


def _valves(graph: PipeNetwork, table: ValveTable, rows: np.ndarray) -> list[Valve]:
    links = graph.segment_ids[table.segment[rows]].tolist()
    nodes = graph.node_ids[table.node[rows]].tolist()
    return [Valve(i, k, n, table.assumed) for i, k, n in zip(table.ids[rows].tolist(), links, nodes)]


def default_strategy(graph: PipeNetwork) -> str:
    """Valves from the data when the network has any, else the assumed ``N-1`` layer."""
    return "data" if bool((graph.node_columns["kind"] == "valve").any()) else "N-1"


class ValveAreas:
    """The valve-bounded areas of one network and valve layer, and how they hang together.

    Built once per valve strategy: the area of every node and segment (connected components
    of nodes and segments joined where no valve parts them), the areas' adjacency through
    valves, and a depth-first tree of the areas from a virtual root joined to every area
    holding a source.  Closing an area cuts off exactly the subtrees of its tree children whose
    low point does not reach above it (Tarjan's articulation points), plus whatever no source
    reaches at all; members are stored in the tree's preorder, so each cut-off part is one
    slice.
    """

    def __init__(self, graph: PipeNetwork, valves: ValveTable) -> None:
        from scipy.sparse import coo_array
        from scipy.sparse.csgraph import connected_components

        n_nodes, n_seg = len(graph.node_ids), len(graph.segment_ids)
        _, segment, node = graph.incidence
        open_slot = np.ones(len(segment), dtype=bool)
        open_slot[valves.slot] = False
        a, b = n_nodes + segment[open_slot], node[open_slot]
        size = n_nodes + n_seg
        joined = coo_array((np.ones(len(a), dtype=np.int8), (a, b)), shape=(size, size)).tocsr()
        self.count, label = connected_components(joined, directed=False)
        self.node_area, self.segment_area = label[:n_nodes], label[n_nodes:]
        valve_a, valve_b = self.segment_area[valves.segment], self.node_area[valves.node]
        self.valve_rows = np.flatnonzero(valve_a != valve_b)
        self.valve_a, self.valve_b = valve_a[self.valve_rows], valve_b[self.valve_rows]
        self.source_areas = np.unique(self.node_area[graph.source_rows])
        self._tree()
        self.segments_by_pre, self.segment_pre = self._by_preorder(self.segment_area)
        self.nodes_by_pre, self.node_pre = self._by_preorder(self.node_area)

    def _tree(self) -> None:
        """Iterative DFS from the virtual root (``count``): preorder number, subtree end, low point."""
        root = self.count
        ends = np.r_[self.valve_a, self.valve_b, np.full(len(self.source_areas), root), self.source_areas]
        other = np.r_[self.valve_b, self.valve_a, self.source_areas, np.full(len(self.source_areas), root)]
        indptr, order = csr(ends, root + 1)
        self.adjacency = (indptr, other[order])
        ptr, nbr = indptr.tolist(), other[order].tolist()
        disc, low, end, parent = [-1] * (root + 1), [0] * (root + 1), [0] * (root + 1), [-1] * (root + 1)
        disc[root], counter, stack = 0, 1, [[root, ptr[root]]]
        while stack:
            top = stack[-1]
            v, i = top
            if i < ptr[v + 1]:
                top[1] = i + 1
                w = nbr[i]
                if disc[w] < 0:
                    disc[w] = low[w] = counter
                    counter += 1
                    parent[w] = v
                    stack.append([w, ptr[w]])
                elif disc[w] < low[v]:
                    low[v] = disc[w]
            else:
                stack.pop()
                end[v] = counter
                p = parent[v]
                if p >= 0 and low[v] < low[p]:
                    low[p] = low[v]
        big = np.iinfo(np.int64).max
        self.disc = np.array(disc, dtype=np.int64)
        self.reached = self.disc >= 0
        self.disc[~self.reached] = big  # no source reaches them: they sort last, as one slice
        self.low, self.end = np.array(low, dtype=np.int64), np.array(end, dtype=np.int64)
        self.parent = np.array(parent, dtype=np.int64)

    def _by_preorder(self, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Members ordered by their area's preorder number, and those numbers in that order."""
        pre = self.disc[area]
        order = np.argsort(pre, kind="stable")
        return order, pre[order]

    def lost(self, target: int) -> list[tuple[int, int]]:
        """Preorder ranges ``[lo, hi)`` of the areas left without a source when ``target`` closes."""
        big = np.iinfo(np.int64).max
        out = [(big, big + 0)]  # the unreached tail, added as members >= its first number below
        if not self.reached[target]:
            return out
        out.append((int(self.disc[target]), int(self.disc[target]) + 1))
        indptr, nbr = self.adjacency
        neighbours = nbr[indptr[target] : indptr[target + 1]]
        children = np.unique(neighbours[self.parent[neighbours] == target])
        cut = children[self.low[children] >= self.disc[target]]
        out += [(int(self.disc[c]), int(self.end[c])) for c in cut]
        return out

    @staticmethod
    def members(by_pre: np.ndarray, pre: np.ndarray, ranges: list[tuple[int, int]]) -> np.ndarray:
        """Rows whose area's preorder number falls in one of ``ranges`` (the first is the tail)."""
        tail = by_pre[np.searchsorted(pre, np.iinfo(np.int64).max) :]
        parts = [by_pre[np.searchsorted(pre, lo) : np.searchsorted(pre, hi)] for lo, hi in ranges[1:]]
        return np.concatenate([tail, *parts]) if parts else tail

    def is_lost(self, areas: np.ndarray, ranges: list[tuple[int, int]]) -> np.ndarray:
        pre = self.disc[areas]
        out: np.ndarray = ~self.reached[areas]
        for lo, hi in ranges[1:]:
            out |= (pre >= lo) & (pre < hi)
        return out


def valve_areas(graph: PipeNetwork, strategy: str) -> ValveAreas:
    """The :class:`ValveAreas` of a network for a valve strategy (kept on the network)."""
    cache = graph.__dict__.setdefault("_areas", {})
    if strategy not in cache:
        cache[strategy] = ValveAreas(graph, valve_table(graph, strategy))
    areas: ValveAreas = cache[strategy]
    return areas


def isolate(graph: PipeNetwork, segment_id: str, strategy: str | None = None) -> dict[str, Any]:
    """The valve-isolation segment of ``segment_id`` and what loses supply when it is shut.

    The valves returned are those on the border of the segment's valve-bounded area that lead
    to a part of the network still fed by a source; valves towards parts fed only through the
    segment need not be closed (those parts lose supply anyway and are listed as
    ``unintended``).  The set is minimal: leaving any one of them open re-feeds the segment.
    A segment whose area holds a source cannot be cut off from it; then every border valve is
    returned (``contains_source``) and the parts left without a source are listed as lost.
    """
    if not graph.has_segment(segment_id):
        raise InputError(None, f"no segment {segment_id!r} in network {network_name(graph)!r}")
    if not len(graph.source_rows):
        raise InputError(
            None,
            f"network {network_name(graph)!r} has no source (reservoir, tank or supply point)",
            hint="isolation needs one: mark a node as kind source",
        )
    strategy = strategy or default_strategy(graph)
    table = valve_table(graph, strategy)
    areas = valve_areas(graph, strategy)
    target = int(areas.segment_area[graph.segment_row(segment_id)])
    holds_source = bool(np.isin(target, areas.source_areas))
    ranges = areas.lost(target)
    border = (
        np.flatnonzero((areas.valve_a == target) | (areas.valve_b == target))
        if len(areas.valve_a)
        else np.empty(0, np.int64)
    )
    other = np.where(areas.valve_a[border] == target, areas.valve_b[border], areas.valve_a[border])
    closing = border if holds_source else border[~areas.is_lost(other, ranges)]
    rows = areas.valve_rows[closing]
    rows = rows[np.argsort(table.ids[rows])]
    lost_segments = graph.sort_segments(areas.members(areas.segments_by_pre, areas.segment_pre, ranges))
    lost_nodes = areas.members(areas.nodes_by_pre, areas.node_pre, ranges)
    lost_nodes = graph.sort_nodes(lost_nodes)
    own = lost_segments[areas.segment_area[lost_segments] == target]
    return _isolation_result(
        graph, segment_id, strategy, _valves(graph, table, rows), lost_segments, own, lost_nodes, holds_source
    )


def _isolation_result(
    graph: PipeNetwork,
    segment_id: str,
    strategy: str,
    closing: list[Valve],
    lost_segments: np.ndarray,
    own: np.ndarray,
    lost_nodes: np.ndarray,
    holds_source: bool,
) -> dict[str, Any]:
    cols = graph.node_columns
    kind, demand, address = cols["kind"][lost_nodes], cols["demand"][lost_nodes], cols["address"][lost_nodes]
    customer = ~np.isin(kind, SOURCE_KINDS) & ((demand > 0) | (np.strings.str_len(address.astype(STR, copy=False)) > 0))
    ids = graph.segment_ids
    own_set = np.zeros(len(ids), dtype=bool)
    own_set[own] = True
    return {
        "network": network_name(graph),
        "segment": segment_id,
        "strategy": strategy,
        "valves_assumed": strategy != "data",
        "contains_source": holds_source,
        "valves": [v.as_dict() for v in closing],
        "isolated_segments": ids[own].tolist(),
        "segments": ids[lost_segments].tolist(),
        "unintended_segments": ids[lost_segments[~own_set[lost_segments]]].tolist(),
        "nodes": graph.node_ids[lost_nodes].tolist(),
        "customers": graph.node_ids[lost_nodes[customer]].tolist(),
        "length_m": round(graph.lengths(lost_segments), 3),
    }
