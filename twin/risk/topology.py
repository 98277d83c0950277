"""What a pipe segment is tied to in its network, for grouping alerts and for what an incident
touches: its valve-isolation section, its up- and downstream path, and who loses supply when it
is shut.  Answers come from :mod:`twin.networks`' public queries and are kept per segment.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from twin.assets import AssetTable
from twin.errors import InputError

EMPTY = np.zeros(0, np.int64)


class NetworkTopology:
    """Network relations of a twin's pipe segments, by asset row.

    Parameters
    ----------
    assets
        The twin's asset table (segment ids are asset ids).
    graphs
        ``segment id -> network graph`` for every segment of every network.
    """

    def __init__(self, assets: AssetTable, graphs: dict[str, Any]) -> None:
        self.assets, self.graphs = assets, graphs
        self._ids = assets["id"].tolist()
        self.related = lru_cache(maxsize=65536)(self._related)
        self.isolation = lru_cache(maxsize=4096)(self._isolation)

    @classmethod
    def from_twin(cls, twin: Any) -> NetworkTopology | None:
        """The topology of a loaded twin's networks (None when it has none)."""
        from twin.networks import networks_of, segment_index

        refs = networks_of(twin)
        if not refs:
            return None
        return cls(twin.assets, {segment: ref.graph for ref in refs for segment in segment_index(ref.graph)})

    def _related(self, row: int) -> np.ndarray:
        """Asset rows of the segment's isolation section and of its up- and downstream paths."""
        from twin.networks import trace

        asset_id = self._ids[row]
        graph = self.graphs.get(asset_id)
        if graph is None:
            return EMPTY
        ids = set(self.isolation(row).get("isolated_segments", []))
        for direction in ("upstream", "downstream"):
            try:
                ids.update(trace(graph, asset_id, direction)["segments"])
            except InputError:
                continue
        rows = [self.assets.index_of(i) for i in ids]
        return np.unique(np.array([r for r in rows if r is not None], dtype=np.int64))

    def _isolation(self, row: int) -> dict[str, Any]:
        """:func:`twin.networks.isolate` of the segment ({} where isolation means nothing)."""
        from twin.networks import isolate

        graph = self.graphs.get(self._ids[row])
        if graph is None:
            return {}
        try:
            return isolate(graph, self._ids[row])
        except InputError:
            return {}
