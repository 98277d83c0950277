"""Pipe networks as arrays, and the questions an engineer asks of them.

A pipe loader puts one :class:`PipeNetwork` per network in ``extras["networks"]``: node and
segment columns (numpy arrays, no Python object per element) plus the graph attributes
(``name``, ``kind``, ``format``, ``flow_from_file``, ``segment_part``, ``node_part``).  For code
written against networkx it offers the read-only part of a ``MultiGraph``'s interface
(``nodes[id]``, ``edges[u, v, key]``, ``edges(node, keys=True)``, ``degree()``...) and
:meth:`PipeNetwork.to_networkx` for its algorithms.  This module answers:

* :func:`isolate` -- which valves to close to cut a segment off from every source, and who
  loses supply (the valve-isolation segment);
* :func:`trace` -- what lies up- or downstream of a node or segment;
* :func:`set_valve_state` -- a valve that cannot close (isolation then closes the next ones out).

Why arrays: on a city network (300,000 segments) a networkx graph costs seconds to build and
every whole-graph pass costs seconds per question.  Here what does not depend on the question
is computed once per network and kept: the direction of flow, the valve-bounded areas and a
depth-first tree of the areas seen from the sources (which areas a closed area cuts off), so a
query costs in proportion to its answer.  Geometric questions live in :mod:`twin.nearby`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.errors import InputError

if TYPE_CHECKING:
    import networkx as nx

    from twin.scene import Twin

SOURCE_KINDS = ("reservoir", "tank", "source")
GRAVITY_KINDS = ("drainage", "sewer", "storm")
STRATEGIES = ("data", "N", "N-1")
STR = np.dtypes.StringDType()
NODE_COLUMNS = ("id", "kind", "x", "y", "z", "ground", "demand", "address")
SEGMENT_COLUMNS = ("id", "kind", "start", "end", "length", "diameter", "invert_start", "invert_end")


def _in_order(rows: np.ndarray, rank: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``rows`` (distinct) sorted by id: an argsort of a small answer, one mask pass over the
    kept id order for a large one (cheaper than sorting tens of thousands of rows)."""
    if len(rows) * 16 < len(order):
        return rows[np.argsort(rank[rows])]
    mask = np.zeros(len(order), dtype=bool)
    mask[rows] = True
    sorted_rows: np.ndarray = order[mask[order]]
    return sorted_rows


def _csr(rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``indptr`` and the order grouping ``rows`` (values in ``0..n-1``), stable within a row."""
    order = np.argsort(rows, kind="stable")
    return np.r_[0, np.cumsum(np.bincount(rows, minlength=n))], order


def _ranks(order: np.ndarray) -> np.ndarray:
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


class PipeNetwork:
    """One network: node columns, segment columns (``start``/``end`` are node rows) and attributes.

    Node columns: :data:`NODE_COLUMNS`; segment columns: :data:`SEGMENT_COLUMNS`.  A row of
    either table is the element's row in the network's asset layer.  Nothing changes once
    loaded, so every derived structure is built on first use and kept.
    """

    def __init__(self, attrs: Mapping[str, Any], nodes: Mapping[str, np.ndarray], segments: Mapping[str, np.ndarray]):
        self.graph: dict[str, Any] = dict(attrs)  #: named as networkx names a graph's attributes
        self.node_columns = {k: np.asarray(nodes[k]) for k in NODE_COLUMNS}
        self.segment_columns = {k: np.asarray(segments[k]) for k in SEGMENT_COLUMNS}
        self.start = self.segment_columns["start"].astype(np.int64)
        self.end = self.segment_columns["end"].astype(np.int64)

    # -- ids and rows ---------------------------------------------------------------------------
    @property
    def node_ids(self) -> np.ndarray:
        return self.node_columns["id"]

    @property
    def segment_ids(self) -> np.ndarray:
        return self.segment_columns["id"]

    @functools.cached_property
    def _node_row(self) -> dict[str, int]:
        return dict(zip(self.node_ids.tolist(), range(len(self.node_ids))))

    @functools.cached_property
    def _segment_row(self) -> dict[str, int]:
        return dict(zip(self.segment_ids.tolist(), range(len(self.segment_ids))))

    def node_row(self, node_id: str) -> int:
        """Row of a node id (KeyError if absent)."""
        return self._node_row[node_id]

    def segment_row(self, segment_id: str) -> int:
        """Row of a segment id (KeyError if absent)."""
        return self._segment_row[segment_id]

    def has_segment(self, segment_id: str) -> bool:
        return segment_id in self._segment_row

    @functools.cached_property
    def node_order(self) -> np.ndarray:
        """Node rows in id order (Python's ``sorted`` order: code points)."""
        return np.argsort(self.node_ids, kind="stable")

    @functools.cached_property
    def segment_order(self) -> np.ndarray:
        return np.argsort(self.segment_ids, kind="stable")

    @functools.cached_property
    def node_rank(self) -> np.ndarray:
        """Position of each node in id order."""
        return _ranks(self.node_order)

    @functools.cached_property
    def segment_rank(self) -> np.ndarray:
        return _ranks(self.segment_order)

    @functools.cached_property
    def source_rows(self) -> np.ndarray:
        """Rows of the nodes that feed the network (reservoirs, tanks, sources)."""
        return np.flatnonzero(np.isin(self.node_columns["kind"], SOURCE_KINDS))

    def sorted_nodes(self, rows: np.ndarray) -> list[str]:
        return list(self.node_ids[self.sort_nodes(rows)].tolist())

    def sort_nodes(self, rows: np.ndarray) -> np.ndarray:
        return _in_order(rows, self.node_rank, self.node_order)

    def sort_segments(self, rows: np.ndarray) -> np.ndarray:
        return _in_order(rows, self.segment_rank, self.segment_order)

    @functools.cached_property
    def incidence(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, segment, node)``: each node's segments in file order (a loop counted once)."""
        n_seg = len(self.start)
        once = np.r_[np.ones(n_seg, dtype=bool), self.start != self.end]
        node = np.r_[self.start, self.end][once]
        segment = np.r_[np.arange(n_seg), np.arange(n_seg)][once]
        indptr, order = _csr(node, len(self.node_ids))
        return indptr, segment[order], node[order]

    def lengths(self, rows: np.ndarray) -> float:
        """Total stated length of some segments, summed in the order given (NaN counts nothing)."""
        values = self.segment_columns["length"][rows]
        return float(sum(values[np.isfinite(values)].tolist()))

    # -- the read-only networkx interface -------------------------------------------------------
    @property
    def nodes(self) -> _NodeView:
        return _NodeView(self)

    @property
    def edges(self) -> _EdgeView:
        return _EdgeView(self)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._node_row

    def __iter__(self) -> Iterator[str]:
        return iter(self.node_ids.tolist())

    def __len__(self) -> int:
        return len(self.node_ids)

    def number_of_nodes(self) -> int:
        return len(self.node_ids)

    def number_of_edges(self) -> int:
        return len(self.segment_ids)

    def degree(self) -> Iterator[tuple[str, int]]:
        """(node, degree) as networkx counts it (a loop adds two)."""
        counts = np.bincount(np.r_[self.start, self.end], minlength=len(self.node_ids))
        return zip(self.node_ids.tolist(), counts.tolist())

    def node_data(self, row: int) -> dict[str, Any]:
        cols = self.node_columns
        return {
            "row": row,
            **{k: str(cols[k][row]) for k in ("kind", "address")},
            **{k: float(cols[k][row]) for k in ("x", "y", "z", "ground", "demand")},
        }

    def segment_data(self, row: int) -> dict[str, Any]:
        cols = self.segment_columns
        return {
            "row": row,
            "kind": str(cols["kind"][row]),
            "start": str(self.node_ids[self.start[row]]),
            "end": str(self.node_ids[self.end[row]]),
            **{k: float(cols[k][row]) for k in ("length", "diameter", "invert_start", "invert_end")},
        }

    def to_networkx(self) -> nx.MultiGraph:
        """The network as a networkx ``MultiGraph`` keyed by segment id (built on each call)."""
        import networkx as nx

        g = nx.MultiGraph(**self.graph)
        g.add_nodes_from((n, self.node_data(i)) for i, n in enumerate(self.node_ids.tolist()))
        g.add_edges_from(
            (d["start"], d["end"], k, d)
            for k, d in ((k, self.segment_data(i)) for i, k in enumerate(self.segment_ids.tolist()))
        )
        return g


class _NodeView:
    """``network.nodes``: ``nodes[id]`` is the node's attributes; ``nodes(data="kind")`` pairs."""

    def __init__(self, net: PipeNetwork) -> None:
        self.net = net

    def __getitem__(self, node_id: str) -> dict[str, Any]:
        return self.net.node_data(self.net.node_row(node_id))

    def __iter__(self) -> Iterator[str]:
        return iter(self.net)

    def __len__(self) -> int:
        return len(self.net)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.net

    def __call__(self, data: str | bool = False) -> Iterator[Any]:
        if not data:
            return iter(self.net)
        if data is True:
            return ((n, self.net.node_data(i)) for i, n in enumerate(self.net))
        column = self.net.node_columns.get(str(data))
        values = column.tolist() if column is not None else [None] * len(self.net)
        return zip(self.net, values)


class _EdgeView:
    """``network.edges``: ``edges[u, v, key]`` is a segment's attributes; ``edges(node, keys=True)``."""

    def __init__(self, net: PipeNetwork) -> None:
        self.net = net

    def __getitem__(self, uvk: tuple[str, str, str]) -> dict[str, Any]:
        return self.net.segment_data(self.net.segment_row(uvk[2]))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((u, v) for u, v, _ in self(keys=True))

    def __len__(self) -> int:
        return self.net.number_of_edges()

    def __call__(self, nbunch: str | None = None, keys: bool = False, data: bool = False) -> Iterator[tuple[Any, ...]]:
        net, ids = self.net, self.net.node_ids
        if nbunch is None:
            rows = np.arange(len(net.start))
            ends = zip(ids[net.start].tolist(), ids[net.end].tolist())
        else:
            indptr, segment, _ = net.incidence
            node = net.node_row(nbunch)
            rows = segment[indptr[node] : indptr[node + 1]]
            other = np.where(net.start[rows] == node, net.end[rows], net.start[rows])
            ends = zip([nbunch] * len(rows), ids[other].tolist())
        for (u, v), row, key in zip(ends, rows.tolist(), net.segment_ids[rows].tolist()):
            yield (u, v) + ((key,) if keys else ()) + ((net.segment_data(row),) if data else ())


@dataclass(frozen=True)
class NetworkRef:
    """A network found in a twin: which source holds it and under what name."""

    source: int
    name: str
    graph: PipeNetwork


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


def _network_name(graph: PipeNetwork) -> Any:
    return graph.graph.get("name")


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
            None, f"no valve {valve_id!r} in the {strategy} valve layer of network {_network_name(graph)!r}"
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
        indptr, order = _csr(ends, root + 1)
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
        raise InputError(None, f"no segment {segment_id!r} in network {_network_name(graph)!r}")
    if not len(graph.source_rows):
        raise InputError(
            None,
            f"network {_network_name(graph)!r} has no source (reservoir, tank or supply point)",
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
        "network": _network_name(graph),
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


# -- tracing -------------------------------------------------------------------------------


def _is_gravity(graph: PipeNetwork) -> bool:
    return graph.graph.get("kind") in GRAVITY_KINDS


def flow(graph: PipeNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Every segment's (from, to) node rows in its direction of flow, computed once per network.

    Gravity networks flow from the higher invert to the lower (the file's direction where the
    inverts are equal or unknown); pressurised networks flow away from their sources, by
    shortest distance along the pipes (the file's direction where there is no source).
    """
    cached = graph.__dict__.get("_flow")
    if cached is None:
        a, b = graph.start, graph.end
        cols = graph.segment_columns
        if _is_gravity(graph):
            ia, ib = cols["invert_start"], cols["invert_end"]
            flip = np.isfinite(ia) & np.isfinite(ib) & (ib > ia)
        else:
            distance = _source_distance(graph)
            flip = distance[b] < distance[a] if distance is not None else np.zeros(len(a), dtype=bool)
        cached = graph.__dict__["_flow"] = (np.where(flip, b, a), np.where(flip, a, b))
    result: tuple[np.ndarray, np.ndarray] = cached
    return result


def _source_distance(graph: PipeNetwork) -> np.ndarray | None:
    """Shortest distance along the pipes from the nearest source to every node (inf: unreached)."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import dijkstra

    feeds = graph.source_rows
    if not len(feeds):
        return None
    length = graph.segment_columns["length"]
    u, v = np.minimum(graph.start, graph.end), np.maximum(graph.start, graph.end)
    use = np.isfinite(length) & (u != v)
    u, v, w = u[use], v[use], length[use]
    order = np.lexsort((v, u))
    u, v, w = u[order], v[order], w[order]
    first = np.flatnonzero(np.r_[True, (u[1:] != u[:-1]) | (v[1:] != v[:-1])]) if len(u) else np.empty(0, np.int64)
    w = np.minimum.reduceat(w, first) if len(first) else w  # parallel pipes: the shortest counts
    n = len(graph.node_ids)
    matrix = coo_array((w, (u[first], v[first])), shape=(n, n)).tocsr()
    return np.asarray(dijkstra(matrix, directed=False, indices=feeds, min_only=True))


def flow_edges(graph: PipeNetwork) -> list[tuple[str, str, str]]:
    """Every segment as ``(from, to, id)`` in its direction of flow (see :func:`flow`)."""
    head, tail = flow(graph)
    ids = graph.node_ids
    return list(zip(ids[head].tolist(), ids[tail].tolist(), graph.segment_ids.tolist()))


def _follow(graph: PipeNetwork, direction: str) -> Any:
    """The directed node graph of the flow (or against it), as a scipy CSR matrix, kept."""
    from scipy.sparse import coo_array

    key = f"_follow_{direction}"
    if key not in graph.__dict__:
        head, tail = flow(graph)
        if direction == "upstream":
            head, tail = tail, head
        n = len(graph.node_ids)
        graph.__dict__[key] = (coo_array((np.ones(len(head)), (head, tail)), shape=(n, n)).tocsr(), head)
    return graph.__dict__[key]


def trace(graph: PipeNetwork, element_id: str, direction: str, what: str = "segment") -> dict[str, Any]:
    """Nodes and segments up- or downstream of a node or segment, following the flow."""
    from scipy.sparse.csgraph import breadth_first_order

    if direction not in ("upstream", "downstream"):
        raise InputError(None, f"direction must be upstream or downstream, not {direction!r}")
    matrix, head = _follow(graph, direction)
    if what == "segment":
        if not graph.has_segment(element_id):
            raise InputError(None, f"no segment {element_id!r} in network {_network_name(graph)!r}")
        row = graph.segment_row(element_id)
        a, b = (x[row] for x in flow(graph))
        start = int(b if direction == "downstream" else a)
    else:
        if element_id not in graph:
            raise InputError(None, f"no node {element_id!r} in network {_network_name(graph)!r}")
        start = graph.node_row(element_id)
    nodes = np.asarray(breadth_first_order(matrix, start, directed=True, return_predecessors=False))
    reached = np.zeros(len(graph.node_ids), dtype=bool)
    reached[nodes] = True
    segments = reached[head]
    if what == "segment":
        segments[row] = True
    seg_rows = graph.sort_segments(np.flatnonzero(segments))
    node_rows = graph.sort_nodes(nodes)
    ends = node_rows[np.diff(matrix.indptr)[node_rows] == 0]
    basis = (
        "inverts" if _is_gravity(graph) else ("distance from sources" if len(graph.source_rows) else "file direction")
    )
    return {
        "network": _network_name(graph),
        "id": element_id,
        "element": what,
        "direction": direction,
        "basis": basis,
        "segments": graph.segment_ids[seg_rows].tolist(),
        "nodes": graph.node_ids[node_rows].tolist(),
        "ends": graph.node_ids[ends].tolist(),
        "length_m": round(graph.lengths(seg_rows), 3),
    }
