"""The city's asset index: one search path for a district in memory and a whole city on disk.

A city tileset keeps its assets in ``assets.parquet`` (one row per asset: ``row``, ``id``, ``kind``,
``name``, ``address``, ``address_text``, ``layer``, ``network``, ``xmin`` ... ``zmax``, ``tile``) and
the city's standard addresses in ``addresses.parquet`` (``code``, ``text``, ``building``, ``x``,
``y``; millions of rows, several doors and units per building).  :class:`AssetIndex` opens both
(Arrow, memory-mapped) or builds the same table from a loaded :class:`~twin.scene.Twin`, and
answers the title bar's search by id (IFC GlobalIds are ids), address code prefix, name and
Chinese address text, best matches first.

Search must stay interactive over 4.7 million addresses, where a plain substring scan takes half
a second.  Exact and prefix matches binary-search sorted copies of the ids and codes.  Substring
matches go through :class:`SubstringIndex`: a 128-bit signature per row of the UTF-8 byte pairs
it contains, OR-ed per block of 64 rows; a query's byte pairs must all be in a row's signature, so
whole blocks are skipped with a few vectorised comparisons and only the surviving rows are
checked by Arrow's ``match_substring``, in row order until enough are found.
"""

from __future__ import annotations

import bisect
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from twin.assets import STR
from twin.errors import InputError

if TYPE_CHECKING:
    from twin.scene import Twin

log = logging.getLogger(__name__)

ASSETS_FILE = "assets.parquet"
ADDRESSES_FILE = "addresses.parquet"
CACHE_FOLDER = ".index-cache"
BOX = ("xmin", "ymin", "zmin", "xmax", "ymax", "zmax")
TEXT = pa.string()
#: the contract's columns of ``assets.parquet`` (extra columns may follow)
ASSET_SCHEMA = pa.schema(
    [("row", pa.uint32()), ("id", TEXT), ("kind", TEXT), ("name", TEXT), ("address", TEXT), ("address_text", TEXT),
     ("layer", TEXT), ("network", TEXT), *[(c, pa.float64()) for c in BOX], ("tile", TEXT)]
)  # fmt: skip
ADDRESS_SCHEMA = pa.schema(
    [("code", TEXT), ("text", TEXT), ("building", TEXT), ("x", pa.float64()), ("y", pa.float64())]
)
#: how good a match is: lower first
RANK = {"id": 0, "code": 0, "id_prefix": 1, "code_prefix": 1, "name": 2, "address_text": 3}


@dataclass(frozen=True)
class Hit:
    """One search result: an asset, or a standard address (``kind == "address"``) of a building.

    ``row`` is the asset's row (for an address, its building's; ``None`` when the building is not
    an asset of this index); ``x, y`` where to fly to; ``match`` the field that matched.
    """

    match: str
    row: int | None
    id: str
    kind: str
    label: str
    address: str | None
    x: float
    y: float

    @property
    def rank(self) -> int:
        return RANK[self.match]


class SortedKeys:
    """The sort order of a string column (none when it is already sorted), for exact and prefix
    lookups by binary search; the values themselves are not copied."""

    def __init__(self, values: pa.Array | pa.ChunkedArray, cache: _Cache | None = None, name: str = "") -> None:
        self.values = values
        order = (cache or _Cache(None)).array(f"{name}.order", lambda: _sort_order(values))
        self.order: np.ndarray | None = order if len(order) or not len(values) - values.null_count else None
        self._view = _Strings(values, self.order, len(values) - values.null_count)

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """The original rows of sorted positions ``lo:hi``."""
        return np.arange(lo, hi) if self.order is None else np.asarray(self.order[lo:hi], dtype=np.int64)

    def exact(self, key: str) -> np.ndarray:
        return self.rows(bisect.bisect_left(self._view, key), bisect.bisect_right(self._view, key))

    def prefix(self, prefix: str, limit: int) -> np.ndarray:
        """Rows whose key starts with ``prefix``, in key order, at most ``limit``."""
        lo = bisect.bisect_left(self._view, prefix)
        hi = bisect.bisect_left(self._view, prefix + "\U0010ffff", lo)
        return self.rows(lo, min(hi, lo + limit))


def _sort_order(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Rows in key order without the nulls, or an empty array when the column is sorted already."""
    valid = len(values) - values.null_count
    if valid > 1 and not values.null_count and pc.all(pc.less_equal(values[:-1], values[1:])).as_py():
        return np.empty(0, np.int64)
    order: np.ndarray = pc.sort_indices(values).to_numpy()[:valid]  # nulls last
    return order


class _Strings(Sequence[str]):
    """A string column in key order as a Python sequence, so :mod:`bisect` searches it in place."""

    def __init__(self, values: pa.Array | pa.ChunkedArray, order: np.ndarray | None, size: int) -> None:
        self.values, self.order, self.size = values, order, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: Any) -> Any:
        return self.values[i if self.order is None else int(self.order[i])].as_py()


class SubstringIndex:
    """Byte-pair signatures of a string column (128 bits a row, and a block of 64 rows OR-ed).

    A substring shares every byte pair of its query, so a row (or block) whose signature lacks one
    of the query's bits cannot match.  Rows are compared without a column-wide common prefix (such
    as 江苏省南京市): its bits are in every row, so they are dropped from queries instead.
    """

    WORDS, BLOCK, CHUNK, VERIFY = 2, 64, 1 << 18, 1 << 16

    def __init__(self, values: pa.Array | pa.ChunkedArray, cache: _Cache | None = None, name: str = "") -> None:
        self.values = values
        self._chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
        self._starts = np.cumsum([0] + [len(c) for c in self._chunks])[:-1]
        cache = cache or _Cache(None)
        common = cache.array(f"{name}.common", lambda: np.frombuffer(_common_prefix(values).encode(), np.uint8))
        self.common = bytes(common).decode("utf-8")  # kept: finding it reads every string
        inside = max(len(self.common.encode("utf-8")) - 1, 0)  # pairs wholly inside the common prefix
        self.row_bits = cache.array(
            f"{name}.bits",
            lambda: np.concatenate([self.signatures(_flat(c), inside) for c in self._chunks] or [self._none(0)]),
            (len(values), self.WORDS),
        )
        starts = np.arange(0, len(self.values), self.BLOCK)
        self.block_bits = (
            np.bitwise_or.reduceat(self.row_bits, starts, axis=0)
            if len(starts)
            else np.zeros((0, self.WORDS), np.uint64)
        )
        self.ignored = self.signatures(pa.array([self.common]))[0]

    @classmethod
    def _none(cls, n: int) -> np.ndarray:
        return np.zeros((n, cls.WORDS), np.uint64)

    @classmethod
    def signatures(cls, values: pa.Array, skip: int = 0) -> np.ndarray:
        """``(n, WORDS)`` uint64: the bits of the byte pairs inside each string, but for the pairs
        starting in its first ``skip`` bytes.  Chunks of rows share work arrays: page faults on
        fresh arrays cost more than the arithmetic."""
        n = len(values)
        offsets = np.frombuffer(values.buffers()[1], np.int32, n + 1, values.offset * 4).astype(np.int64)
        data = np.frombuffer(values.buffers()[2] or b"", np.uint8)
        out = np.zeros((n, cls.WORDS * 8), np.uint8)
        cuts = list(range(0, n, cls.CHUNK)) + [n]
        most = int(max(np.diff(offsets[cuts]), default=0)) + 1
        work = _Work(most, min(n, cls.CHUNK), cls.WORDS * 64 + 8)
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            out[lo:hi] = work.packed(data[offsets[lo] : offsets[hi]], offsets[lo : hi + 1] - offsets[lo], skip)
        return out.view("<u8")

    def find(self, query: str, limit: int) -> np.ndarray:
        """Rows containing ``query``, in row order, at most ``limit`` (queries under 2 bytes: none)."""
        if len(query.encode("utf-8")) < 2 or limit <= 0:
            return np.empty(0, np.int64)
        want = self.signatures(pa.array([query]))[0] & ~self.ignored
        found: list[np.ndarray] = []
        for rows in self._candidates(want):
            found.append(rows[self._contains(rows, query)])
            if sum(map(len, found)) >= limit:
                break
        return np.concatenate(found)[:limit] if found else np.empty(0, np.int64)

    def _contains(self, rows: np.ndarray, query: str) -> np.ndarray:
        """Whether each of some rows (ascending) contains ``query``, taken chunk by chunk: Arrow's
        take on a chunked column joins every chunk first (measured on 4.7 M addresses: 86 ms warm,
        2 s cold, against 10 ms for one chunk)."""
        chunk = np.searchsorted(self._starts, rows, side="right") - 1
        cuts = np.flatnonzero(np.diff(chunk)) + 1
        out = []
        for piece in np.split(np.arange(len(rows)), cuts):
            k = int(chunk[piece[0]])
            taken = self._chunks[k].take(pa.array(rows[piece] - self._starts[k]))
            out.append(pc.fill_null(pc.match_substring(taken, query), False).to_numpy(zero_copy_only=False))
        return np.concatenate(out) if out else np.zeros(0, bool)

    def _candidates(self, want: np.ndarray) -> Iterator[np.ndarray]:
        """Rows whose signatures hold ``want``, in batches growing from one ``BLOCK`` to ``VERIFY``
        rows: a common query is answered from the first rows, a rare one in few batches."""
        words = [w for w in range(self.WORDS) if want[w]]
        blocks = np.ones(len(self.block_bits), bool)
        for w in words:
            blocks &= (self.block_bits[:, w] & want[w]) == want[w]
        blocks = np.flatnonzero(blocks)
        n, start, per_batch = len(self.values), 0, 1
        while start < len(blocks):
            rows = (blocks[start : start + per_batch, None] * self.BLOCK + np.arange(self.BLOCK)).ravel()
            start, per_batch = start + per_batch, min(per_batch * 4, self.VERIFY // self.BLOCK)
            rows = rows[rows < n]
            keep = np.ones(len(rows), bool)
            for w in words:
                keep &= (self.row_bits[rows, w] & want[w]) == want[w]
            if keep.any():
                yield rows[keep]


class _Work:
    """Reused arrays for :meth:`SubstringIndex.signatures`: a pair's bit is the Fibonacci hash of its
    16 bits (``* 0x9E37 >> 9``, 0..127); bit 128 takes the pairs not counted (across two strings,
    in the skipped prefix), so one scatter sets every row's flags."""

    def __init__(self, size: int, rows: int, width: int) -> None:
        self.width = width
        self.bit = np.empty(size, np.uint16)
        self.index = np.empty(size, np.int32)  # rows * width stays below 2**31
        self.flags = np.empty(rows * width, bool)

    def packed(self, data: np.ndarray, offsets: np.ndarray, skip: int) -> np.ndarray:
        n, size, trash = len(offsets) - 1, len(data) - 1, self.width - 8
        if size < 1:
            return np.zeros((n, trash // 8), np.uint8)
        bit, index = self.bit[:size], self.index[:size]
        np.multiply(data[1:], 256, out=bit, dtype=np.uint16)
        np.bitwise_or(bit, data[:-1], out=bit)
        np.multiply(bit, 0x9E37, out=bit)
        np.right_shift(bit, 9, out=bit)
        ends = offsets[1:] - 1
        bit[ends[(ends >= 0) & (ends < size)]] = trash
        if skip:
            long = offsets[:-1][np.diff(offsets) > skip]
            bit[(long[:, None] + np.arange(skip)).ravel()] = trash
        index[:] = 0
        starts = offsets[1:-1]
        np.add.at(index, starts[starts < size], self.width)  # empty strings share a start
        np.cumsum(index, out=index)
        np.add(index, bit, out=index, casting="unsafe")
        flags = self.flags[: n * self.width]
        flags[:] = False
        flags[index] = True
        return np.packbits(flags.reshape(n, self.width)[:, :trash], axis=1, bitorder="little")


class AssetIndex:
    """The asset table of a city (Arrow) with its addresses, searchable and queryable by box."""

    def __init__(
        self,
        assets: pa.Table,
        addresses: pa.Table | None = None,
        *,
        assets_file: Path | None = None,
        addresses_file: Path | None = None,
    ) -> None:
        self.table = _checked(assets, ASSET_SCHEMA, assets_file)
        self.addresses = None if addresses is None else _checked(addresses, ADDRESS_SCHEMA, addresses_file)
        self.files = (assets_file, addresses_file)
        self._box = np.stack([self.table[c].to_numpy() for c in BOX]) if len(self.table) else np.empty((6, 0))
        cache = _Cache(assets_file)
        self._ids = SortedKeys(self.table["id"], cache, "id")
        self._names = SubstringIndex(self.table["name"], cache, "name")
        self._columns: dict[str, np.ndarray] = {}
        if self.addresses is not None:
            cache = _Cache(addresses_file)
            self._codes = SortedKeys(self.addresses["code"], cache, "code")
            self._texts = SubstringIndex(self.addresses["text"], cache, "text")
        else:  # a district without an address table: its assets' own address columns
            self._codes = SortedKeys(self.table["address"], cache, "address")
            self._texts = SubstringIndex(self.table["address_text"], cache, "address_text")

    def __len__(self) -> int:
        return len(self.table)

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | Path, addresses: str | Path | None = None) -> AssetIndex:
        """Open ``folder/assets.parquet`` and the address table (``addresses``, else
        ``folder/addresses.parquet`` when there is one)."""
        folder = Path(folder)
        address_path = Path(addresses) if addresses is not None else folder / ADDRESSES_FILE
        assets_file = folder / ASSETS_FILE
        assets = _Cache(assets_file).table()
        if addresses is None and not address_path.exists():
            return cls(assets, assets_file=assets_file)
        return cls(assets, _Cache(address_path).table(), assets_file=assets_file, addresses_file=address_path)

    @classmethod
    def from_twin(cls, twin: Twin) -> AssetIndex:
        """The same table from a loaded twin's asset table (no tiles: ``tile`` is null)."""
        return cls(asset_table(twin))

    # -- queries ---------------------------------------------------------------------------------
    def search(self, text: str, limit: int = 10) -> list[Hit]:
        """Assets and addresses matching ``text``: exact id or code, then id and code prefixes,
        then names, then address texts containing it; each asset or address once."""
        query = text.strip()
        hits: list[Hit] = []
        seen: set[tuple[str, str]] = set()
        if not query or limit <= 0:
            return hits
        for hit in self._matches(query, limit):
            key = ((hit.address or "") if hit.kind == "address" else "", hit.id)
            if key not in seen:
                seen.add(key)
                hits.append(hit)
                if len(hits) == limit:
                    break
        return hits

    def _matches(self, query: str, limit: int) -> Iterator[Hit]:
        yield from self._asset_hits(self._ids.exact(query), "id")
        yield from self._code_hits(self._codes.exact(query), "code")
        yield from self._asset_hits(self._ids.prefix(query, limit + 1), "id_prefix")
        if query.isdigit():
            yield from self._code_hits(self._codes.prefix(query, limit + 1), "code_prefix")
        yield from self._asset_hits(self._names.find(query, limit), "name")
        yield from self._code_hits(self._texts.find(query, limit), "address_text")

    def _asset_hits(self, rows: np.ndarray, match: str) -> Iterator[Hit]:
        for row in rows.tolist():
            record = self.table.slice(row, 1).to_pylist()[0]
            x, y = self._centre(row)
            label = record["name"] or record["id"]
            yield Hit(match, int(record["row"]), record["id"], record["kind"], label, record["address"], x, y)

    def _code_hits(self, rows: np.ndarray, match: str) -> Iterator[Hit]:
        """Hits in the address table (or, without one, in the assets' address columns)."""
        if self.addresses is None:
            yield from self._asset_hits(rows, match)
            return
        for row in rows.tolist():
            record = self.addresses.slice(row, 1).to_pylist()[0]
            asset = self.row_of(record["building"])
            yield Hit(
                match, asset, record["building"], "address", record["text"], record["code"], record["x"], record["y"]
            )

    def row_of(self, asset_id: str) -> int | None:
        """The row of an asset id, or ``None``."""
        found = self._ids.exact(asset_id)
        return int(found[0]) if len(found) else None

    def rows_in_box(self, xmin: float, ymin: float, xmax: float, ymax: float) -> np.ndarray:
        """Rows whose bounding box meets the rectangle (scene CRS), in row order."""
        box = self._box  # one contiguous row per coordinate: xmin, ymin, zmin, xmax, ymax, zmax
        inside = (box[3] >= xmin) & (box[0] <= xmax) & (box[4] >= ymin) & (box[1] <= ymax)
        return np.flatnonzero(inside)

    def bounds(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """World bounds of some rows, ``[xmin, xmax, ymin, ymax, zmin, zmax]`` as the twin gives them
        (NaN when no row has a finite box)."""
        box = self._box[:, np.asarray(rows, dtype=np.int64)]
        if not box.size or not np.isfinite(box).any():
            return np.full(6, np.nan)
        out = np.empty(6)
        out[0::2], out[1::2] = np.nanmin(box[:3], axis=1), np.nanmax(box[3:], axis=1)
        return out

    def column(self, name: str) -> np.ndarray:
        """One column as numpy: numbers as they are, text as ``StringDType`` (null becomes '')."""
        if name not in self._columns:
            values = self.table[name]
            if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
                self._columns[name] = np.asarray(pc.fill_null(values, "").to_pylist(), dtype=STR)
            else:
                self._columns[name] = values.to_numpy()
        return self._columns[name]

    def _centre(self, row: int) -> tuple[float, float]:
        x0, y0, _, x1, y1, _ = self._box[:, row]
        return float((x0 + x1) / 2), float((y0 + y1) / 2)


def asset_table(twin: Twin) -> pa.Table:
    """A twin's asset table in the columns of ``assets.parquet`` (empty text becomes null)."""
    assets = twin.assets
    n = len(assets)
    bounds = assets.bounds  # [xmin, xmax, ymin, ymax, zmin, zmax]
    columns: dict[str, pa.Array] = {"row": pa.array(np.arange(n, dtype=np.uint32))}
    for name in ("id", "kind", "name", "address", "address_text", "layer", "network"):
        values = pa.array(assets[name]) if name in assets else pa.nulls(n, TEXT)
        columns[name] = values if name in ("id", "kind") else _null_if_empty(values.cast(TEXT))
    for i, name in enumerate(("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")):
        columns[name] = pa.array(bounds[:, i])
    columns["tile"] = pa.nulls(n, TEXT)
    return pa.table({name: columns[name].cast(ASSET_SCHEMA.field(name).type) for name in ASSET_SCHEMA.names})


def write_asset_index(table: pa.Table, folder: str | Path) -> Path:
    """Check ``table`` against the contract and write it as ``folder/assets.parquet`` (atomically)."""
    path = Path(folder) / ASSETS_FILE
    table = _checked(table, ASSET_SCHEMA, path)
    if len(table) and pc.count_distinct(table["id"]).as_py() != len(table):
        raise InputError(path, "asset ids are not unique", where="column id")
    if (
        not pc.equal(table["row"], pa.array(np.arange(len(table), dtype=np.uint32)))
        .combine_chunks()
        .to_numpy(zero_copy_only=False)
        .all()
    ):
        raise InputError(path, "row must count 0, 1, 2 ... in table order", where="column row")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    pq.write_table(table, partial, compression="zstd", row_group_size=1 << 17)
    partial.replace(path)
    return path


# -- helpers ------------------------------------------------------------------------------------
class _Cache:
    """What opening a Parquet table costs, kept in ``.index-cache/`` beside it: the table as an
    uncompressed Arrow IPC file (memory-mapped, so opening reads only the pages a query touches),
    and the sort orders and signatures of its columns.  Named by the file's size and modification
    time: a rewritten file gets fresh ones and the old are removed.  A folder that cannot be
    written only means computing them again next time.  ``_Cache(None)`` keeps nothing."""

    def __init__(self, source: Path | None) -> None:
        self.source = source
        if source is not None and source.exists():
            stat = source.stat()
            self.folder: Path | None = source.parent / CACHE_FOLDER
            self.stem = f"{source.stem}.{stat.st_size}-{stat.st_mtime_ns}.v1"
        else:
            self.folder, self.stem = None, ""

    def table(self) -> pa.Table:
        """The source table, from the IPC copy when there is one (made on the first open)."""
        assert self.source is not None
        kept = self._path("arrow")
        if kept is not None and kept.exists():
            try:
                return pa.ipc.open_file(pa.memory_map(str(kept))).read_all()
            except (OSError, pa.ArrowInvalid):
                log.debug("unreadable table cache %s", kept)
        source = self.source
        if kept is not None and self._keep(kept, lambda out: _parquet_to_ipc(source, out)):
            return pa.ipc.open_file(pa.memory_map(str(kept))).read_all()
        return _read(source)

    def array(self, what: str, compute: Callable[[], np.ndarray], shape: tuple[int, ...] | None = None) -> np.ndarray:
        """A kept array (memory-mapped) when it has the expected shape, else computed and kept."""
        kept = self._path(f"{what}.npy")
        if kept is not None and kept.exists():
            try:
                found: np.ndarray = np.load(kept, mmap_mode="r")
                if shape is None or found.shape == shape:
                    return found
            except (OSError, ValueError):
                log.debug("unreadable cache %s", kept)
        result = compute()
        if kept is not None:
            self._keep(kept, lambda out: _write_npy(result, out))
        return result

    def _path(self, what: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{self.stem}.{what}"

    def _keep(self, path: Path, write: Callable[[Path], None]) -> bool:
        assert self.folder is not None and self.source is not None
        try:
            self.folder.mkdir(exist_ok=True)
            for old in self.folder.glob(f"{self.source.stem}.*"):
                if not old.name.startswith(self.stem + "."):
                    old.unlink(missing_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
            try:
                write(partial)
                partial.replace(path)
            finally:
                partial.unlink(missing_ok=True)
            return True
        except OSError as exc:
            log.debug("cannot keep %s: %s", path, exc)
            return False


def _write_npy(array: np.ndarray, path: Path) -> None:
    with path.open("wb") as out:  # a file object: np.save would add ".npy" to a path's name
        np.save(out, array)


def _parquet_to_ipc(source: Path, path: Path) -> None:
    """Copy a Parquet file into an uncompressed Arrow IPC file batch by batch (bounded memory)."""
    try:
        parquet = pq.ParquetFile(source, memory_map=True)
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, parquet.schema_arrow) as writer:
            for batch in parquet.iter_batches(batch_size=1 << 17):
                writer.write_batch(batch)
    except pa.ArrowInvalid as exc:
        raise InputError(source, f"not a readable Parquet file ({exc})") from None


def _read(path: Path) -> pa.Table:
    try:
        return pq.read_table(path, memory_map=True)
    except FileNotFoundError:
        raise InputError(path, "no such file", hint="the tiler writes assets.parquet beside tileset.json") from None
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(path, f"not a readable Parquet file ({exc})") from None


def _checked(table: pa.Table, schema: pa.Schema, path: Path | None) -> pa.Table:
    """The table with the schema's columns first, cast to its types; a missing column is an error."""
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}", hint=f"columns: {', '.join(schema.names)}")
    try:
        core = [table[name].cast(schema.field(name).type) for name in schema.names]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(path, f"a column has the wrong type ({exc})") from None
    extra = [name for name in table.column_names if name not in schema.names]
    return pa.table(core + [table[name] for name in extra], names=[*schema.names, *extra])


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous string array (chunked columns are joined once)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if pa.types.is_large_string(values.type):
        values = values.cast(TEXT)
    return values


def _null_if_empty(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, TEXT), values)


def _common_prefix(values: pa.Array) -> str:
    """The prefix every (non-null) string shares: that of the smallest and the largest."""
    if len(values) - values.null_count < 2:
        return ""
    bounds = pc.min_max(values)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    size = next((i for i, (a, b) in enumerate(zip(low, high)) if a != b), min(len(low), len(high)))
    return str(low[:size])
