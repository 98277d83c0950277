"""Search the asset table by id, IFC GlobalId, name or standard address code, vectorised.

Matching runs on numpy ``StringDType`` columns with ``np.strings``: no Python loop over rows.
Exact ids rank first, then prefixes, then substrings; a few suggestions come back, never the
whole table.  A streamed city searches its asset index instead (:class:`IndexSearch`: indexed,
addresses included), whose rows are the twin's.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import numpy as np

from twin.asset_index import AssetIndex
from twin.assets import AssetTable

#: text columns searched, if the table has them (``id`` holds IFC GlobalIds for IFC models)
COLUMNS = ("id", "name", "address", "global_id", "tag")
LIMIT = 10


class AssetSearch:
    """Lower-cased copies of the searchable columns, made once per table, at the first search
    (a city's million rows took 4 s to copy, before the first frame, for a search nobody had asked)."""

    def __init__(self, assets: AssetTable) -> None:
        self.assets = assets

    @functools.cached_property
    def columns(self) -> dict[str, np.ndarray]:
        a = self.assets
        return {c: np.strings.lower(a[c]) for c in COLUMNS if c in a and a[c].dtype.kind == "T"}

    def suggest(self, text: str, limit: int = LIMIT) -> list[dict]:
        """Up to ``limit`` matching assets, best first, as small dicts for the suggestion list."""
        query = text.strip().lower()
        if not query or not len(self.assets):
            return []
        rank = np.full(len(self.assets), 9, dtype=np.int8)
        matched = np.full(len(self.assets), "", dtype=object)
        for column, values in self.columns.items():
            for level, hits in (
                (0, values == query),
                (1, np.strings.startswith(values, query)),
                (2, np.strings.find(values, query) >= 0),
            ):
                better = hits & (rank > level)
                rank[better] = level
                matched[better] = column
        found = np.flatnonzero(rank < 9)
        if not len(found):
            return []
        order = found[np.lexsort((found, rank[found]))][:limit]
        return [self._suggestion(int(i), matched[i]) for i in order]

    def _suggestion(self, index: int, column: str) -> dict:
        a = self.assets
        title = str(a["name"][index]) or str(a["id"][index])
        subtitle = " · ".join(
            s
            for s in (str(a["id"][index]), str(a["kind"][index]), str(a["layer"][index]), str(a["address"][index]))
            if s
        )
        return {"index": index, "title": title, "subtitle": subtitle, "matched": column}


class IndexSearch:
    """The same suggestions from a city's :class:`~twin.asset_index.AssetIndex` (``twin serve DIR``).

    An address hit stands for its building; one whose building is not an asset is left out.
    """

    def __init__(self, index: AssetIndex | Callable[[], AssetIndex]) -> None:
        self._open = index if callable(index) else None
        self._index = None if callable(index) else index
        self._lock = threading.Lock()

    @property
    def index(self) -> AssetIndex:
        """The index, opened at the first use (seconds for a city: :meth:`warm` it after the first frame)."""
        if self._index is None:
            with self._lock:
                if self._index is None and self._open is not None:
                    self._index = self._open()
        assert self._index is not None
        return self._index

    def warm(self) -> None:
        """Open the index now (from a worker thread), so the first search does not wait for it."""
        _ = self.index

    def suggest(self, text: str, limit: int = LIMIT) -> list[dict]:
        return [
            {
                "index": int(hit.row),
                "title": hit.label or hit.id,
                "subtitle": " · ".join(s for s in (hit.id, hit.kind, hit.address or "") if s),
                "matched": hit.match,
            }
            for hit in self.index.search(text, limit)
            if hit.row is not None
        ]
