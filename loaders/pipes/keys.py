"""Text columns (node ids, link ids, kinds) as packed bytes: row lookup of keys, and gathers.

Resolving a city network's link ends is 200,000 lookups among 100,000 node ids.  A Python
dict probed from C (``map(table.get, ...)``) costs about 1 us a lookup -- cache misses on
Python strings -- and numpy's searchsorted over strings compares them one byte at a time.
Ids are short ASCII text, so here each key is packed into 64-bit words (its bytes,
zero-padded), reduced to one 64-bit code (the word itself for keys of up to 8 bytes, a hash
of the words for longer ones), and looked up in a hash table of integers probed in array
passes; a hash match is confirmed on the words, so the answer is exact.  Keys that cannot be packed
(not ASCII, with a trailing NUL, not text) or whose hashes collide take the dict.

Gathering rows of a ``StringDType`` column (``ids[rows]``) costs about 200 ns a row; the same
gather over the packed bytes, turned back into ``StringDType``, costs a tenth of it.
"""

from __future__ import annotations

import itertools

import numpy as np

#: odd 64-bit constant (2^64 / golden ratio) mixing the words of keys longer than 8 bytes
_MIX = np.uint64(0x9E3779B97F4A7C15)


def as_bytes(column: np.ndarray, words: int | None = None) -> np.ndarray | None:
    """A text column as zero-padded ASCII bytes, ``words`` 64-bit words wide (as few as hold
    the longest value when None); None where that would not hold every value exactly."""
    if column.dtype.kind not in "TU":
        return None
    longest = int(np.strings.str_len(column).max()) if len(column) else 0
    words = words if words is not None else max(1, -(-longest // 8))
    if longest > 8 * words:
        return None
    try:
        packed = column.astype(f"S{8 * words}")
    except UnicodeEncodeError:
        return None
    if (packed.astype(column.dtype) != column).any():
        return None  # a trailing NUL reads as padding: "a" and "a\0" would pack alike
    return packed


def take(column: np.ndarray, *rows: np.ndarray) -> list[np.ndarray]:
    """``column[r]`` for each of ``rows``, through the packed bytes when the column is text
    they hold exactly (and as plain indexing otherwise)."""
    packed = as_bytes(column) if column.dtype.kind == "T" else None
    if packed is None:
        return [column[r] for r in rows]
    return [packed[r].astype(column.dtype) for r in rows]


def _words(keys: np.ndarray, count: int | None = None) -> np.ndarray | None:
    """Keys as rows of 64-bit words (see :func:`as_bytes`), or None."""
    packed = as_bytes(keys, count)
    return None if packed is None else packed.view(np.uint64).reshape(len(keys), packed.itemsize // 8)


def _code(words: np.ndarray) -> np.ndarray:
    """One 64-bit code per key: its word when it has one, else a hash of its words."""
    code = words[:, 0].copy()
    for j in range(1, words.shape[1]):
        code ^= words[:, j]
        code *= _MIX
        code ^= code >> np.uint64(31)
    return code


class _CodeTable:
    """Open-addressing hash table from 64-bit codes to rows (the first row of each code), filled
    and probed in vectorised rounds of linear probing: one random access per query and round,
    where a binary search makes twenty.

    ``equal`` holds the (row, earlier row) pairs of equal codes met while filling it.
    """

    def __init__(self, code: np.ndarray) -> None:
        n = len(code)
        bits = max(4, (2 * n - 1).bit_length())  # at least twice as many slots as codes
        self.mask, self.shift, self.empty = np.uint64((1 << bits) - 1), np.uint64(64 - bits), n
        self.rows = np.full(1 << bits, n, dtype=np.int64)  # n: an empty slot
        self.codes = np.zeros(1 << bits, dtype=np.uint64)
        pending, slot = np.arange(n), self._slot(code)
        equal: list[tuple[np.ndarray, np.ndarray]] = []
        while len(pending):
            free = self.rows[slot] == n
            np.minimum.at(self.rows, slot[free], pending[free])  # of the rows claiming an empty slot, the first wins
            occupant = self.rows[slot]
            won = occupant == pending
            self.codes[slot[won]] = code[pending[won]]
            pending, slot, occupant = pending[~won], slot[~won], occupant[~won]
            same = self.codes[slot] == code[pending]  # equal codes probe alike, so meet here
            equal.append((pending[same], occupant[same]))
            pending, slot = pending[~same], (slot[~same] + np.uint64(1)) & self.mask
        self.equal = tuple(np.concatenate(side) for side in zip(*equal)) if equal else (np.empty(0, np.int64),) * 2

    def _slot(self, code: np.ndarray) -> np.ndarray:
        return (code * _MIX) >> self.shift  # Fibonacci hashing: the top bits of the product

    def find(self, code: np.ndarray) -> np.ndarray:
        """The row of each code, -1 where absent."""
        out = np.full(len(code), -1, dtype=np.int64)
        pending, slot = np.arange(len(code)), self._slot(code)
        while len(pending):
            rows = self.rows[slot]
            filled = rows != self.empty
            hit = filled & (self.codes[slot] == code[pending])
            out[pending[hit]] = rows[hit]
            more = filled & ~hit
            pending, slot = pending[more], (slot[more] + np.uint64(1)) & self.mask
        return out


class Index:
    """Row of each key (its first occurrence), for looking many queries up at once."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = np.asarray(keys)
        self.words = _words(self.keys)
        self.table: dict[object, int] | None = None
        if self.words is not None:
            self.codes = _CodeTable(_code(self.words))
            later, earlier = self.codes.equal
            self.unique = not len(later)
            if self.words.shape[1] > 1 and (self.words[later] != self.words[earlier]).any():
                self.words = None  # two keys share a hash: exact answers from the dict
        if self.words is None:
            n = len(self.keys)
            self.table = dict(zip(self.keys[::-1].tolist(), range(n - 1, -1, -1)))  # the first row wins
            self.unique = len(self.table) == n

    def find(self, queries: np.ndarray) -> np.ndarray:
        """Rows of the queries, -1 where absent."""
        queries = np.asarray(queries)
        if not len(self.keys) or not len(queries):
            return np.full(len(queries), -1, dtype=np.int64)
        found = self._find_packed(queries) if self.words is not None else None
        if found is not None:
            return found
        if self.table is None:
            n = len(self.keys)
            self.table = dict(zip(self.keys[::-1].tolist(), range(n - 1, -1, -1)))
        rows = map(self.table.get, queries.tolist(), itertools.repeat(-1))
        return np.fromiter(rows, dtype=np.int64, count=len(queries))

    def _find_packed(self, queries: np.ndarray) -> np.ndarray | None:
        """The queries' codes looked up; None when they cannot be packed like the keys."""
        assert self.words is not None
        words = self.words.shape[1]
        lengths = np.strings.str_len(queries) if queries.dtype.kind in "TU" else None
        if lengths is None:
            return None
        fits = lengths <= 8 * words  # a longer query matches no key
        packed = _words(np.where(fits, queries, "") if not fits.all() else queries, words)
        if packed is None:
            return None
        rows = self.codes.find(_code(packed))
        hit = (rows >= 0) & fits
        if words > 1:
            hit &= (self.words[rows] == packed).all(axis=1)  # row -1 reads the last key: masked by hit
        return np.where(hit, rows, -1)

    def repeats(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For the keys this index was made of: rows repeating an earlier key, and that row."""
        if self.unique:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        first = self.find(keys)
        rows = np.flatnonzero(first != np.arange(len(keys)))
        return rows, first[rows]


def lookup(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Row in ``keys`` of each query (its first occurrence), -1 where absent."""
    return Index(keys).find(queries)
