"""Isolating a gravity (sewer or storm) segment: plugs, not valves, and a bypass.

A crew working on a drainage pipe plugs it at its upstream manhole (what flows in from above)
and at its downstream manhole (backflow), and pumps the flow arriving from upstream around the
works into the manhole below.  So the answer has the shape of a water isolation: the plugs in
the same ``valves`` list (``kind = "plug"``), the segment isolated, nothing cut off from a
source; plus ``bypass``: the upstream section whose flow must be pumped (its segments and
contributing length; the flow where the model states one).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.errors import InputError
from twin.networks import GRAVITY_KINDS, PipeNetwork, flow, trace


def is_gravity(graph: PipeNetwork) -> bool:
    """Whether a network drains by gravity (isolation by plugs, not valves)."""
    return graph.graph.get("kind") in GRAVITY_KINDS


def plug(graph: PipeNetwork, segment_id: str) -> dict[str, Any]:
    """The plugs that isolate a gravity segment and the upstream section to bypass-pump."""
    if not graph.has_segment(segment_id):
        raise InputError(None, f"no segment {segment_id!r} in network {graph.graph.get('name')!r}")
    row = graph.segment_row(segment_id)
    head, tail = (int(ends[row]) for ends in flow(graph))
    upstream, downstream = str(graph.node_ids[head]), str(graph.node_ids[tail])
    above = trace(graph, segment_id, "upstream")
    section = [s for s in above["segments"] if s != segment_id]
    contributing = round(graph.lengths(np.array([graph.segment_row(s) for s in section], dtype=np.int64)), 3)
    plugs = [
        {
            "id": f"PLUG-{segment_id}-{node}",
            "link": segment_id,
            "node": node,
            "assumed": True,
            "kind": "plug",
            "end": end,
        }
        for node, end in ((upstream, "upstream"), (downstream, "downstream"))
    ]
    length = graph.segment_columns["length"][row]
    return {
        "network": graph.graph.get("name"),
        "segment": segment_id,
        "strategy": "plugs",
        "valves_assumed": True,
        "contains_source": False,
        "valves": plugs,
        "isolated_segments": [segment_id],
        "segments": [segment_id],
        "unintended_segments": [],
        "nodes": [],
        "customers": [],
        "length_m": round(float(length), 3) if np.isfinite(length) else 0.0,
        "bypass": {
            "from_node": upstream,
            "to_node": downstream,
            "segments": section,
            "nodes": [n for n in above["nodes"] if n != upstream],
            "length_m": contributing,
            "flow_lps": None,  # a layout file states no flow; a SWMM run would
            "basis": above["basis"],
        },
    }
