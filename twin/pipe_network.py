"""A pipe network as arrays: node and segment columns, and networkx's read-only graph interface.

A pipe loader puts one :class:`PipeNetwork` per network in ``extras["networks"]``: node and
segment columns (numpy arrays, no Python object per element) plus the graph attributes
(``name``, ``kind``, ``format``, ``flow_from_file``, ``segment_part``, ``node_part``).  For code
written against networkx it offers the read-only part of a ``MultiGraph``'s interface
(``nodes[id]``, ``edges[u, v, key]``, ``edges(node, keys=True)``, ``degree()``...) and
:meth:`PipeNetwork.to_networkx` for its algorithms.  The questions asked of it are in
:mod:`twin.valve_areas` (isolation) and :mod:`twin.network_flow` (tracing), gathered in
:mod:`twin.networks`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import networkx as nx

SOURCE_KINDS = ("reservoir", "tank", "source")
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


def csr(rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
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
        indptr, order = csr(node, len(self.node_ids))
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


def network_name(graph: PipeNetwork) -> Any:
    """The network's name, as its loader gave it (for messages)."""
    return graph.graph.get("name")
