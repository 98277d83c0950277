"""Flow on a pipe network: each segment's direction of flow (computed once per network), and
what lies up- or downstream of a node or segment (:func:`trace`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.errors import InputError
from twin.pipe_network import PipeNetwork, network_name

GRAVITY_KINDS = ("drainage", "sewer", "storm")


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
            raise InputError(None, f"no segment {element_id!r} in network {network_name(graph)!r}")
        row = graph.segment_row(element_id)
        a, b = (x[row] for x in flow(graph))
        start = int(b if direction == "downstream" else a)
    else:
        if element_id not in graph:
            raise InputError(None, f"no node {element_id!r} in network {network_name(graph)!r}")
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
        "network": network_name(graph),
        "id": element_id,
        "element": what,
        "direction": direction,
        "basis": basis,
        "segments": graph.segment_ids[seg_rows].tolist(),
        "nodes": graph.node_ids[node_rows].tolist(),
        "ends": graph.node_ids[ends].tolist(),
        "length_m": round(graph.lengths(seg_rows), 3),
    }
