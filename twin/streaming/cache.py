"""Tile contents loaded lazily on a small thread pool into an LRU cache with a memory cap.

The event loop only asks (:meth:`TileCache.request`) and looks (:meth:`TileCache.get`); reading
and decoding a tile happens on the pool, so a slow disk never stalls a frame.  A tile that fails
(missing, truncated, malformed) is remembered as failed with a warning, counted for the status
line, and never asked for again: the tiles around it still show.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from twin.errors import InputError
from twin.streaming.content import TileContent, read_content
from twin.streaming.tileset import Tileset

log = logging.getLogger("twin.streaming")
#: 512 MiB of decoded tiles by default: a city overview and a street view with room to spare
MEMORY_CAP = 512 << 20
#: bytes of a GLB file per triangle / per point before any tile has loaded (refined by what loads)
BYTES_PER_TRIANGLE, BYTES_PER_POINT = 40.0, 16.0
POINT_KINDS = ("point_cloud", "pointcloud")


class TileCache:
    """Loaded tile contents by tile index, least recently used evicted first above ``cap`` bytes.

    Tiles in ``pinned`` (what views draw now) are never evicted, even above the cap.
    ``on_loaded`` is called from the pool thread after each load (wake the app's loop with it).
    """

    def __init__(
        self,
        tileset: Tileset,
        cap: int = MEMORY_CAP,
        workers: int = 2,
        on_loaded: Callable[[int], None] | None = None,
    ) -> None:
        self.tileset, self.cap, self.on_loaded = tileset, cap, on_loaded
        self._items: OrderedDict[int, list[TileContent]] = OrderedDict()
        self._pending: set[int] = set()  # queued or loading (marked before the pool sees them)
        self._futures: list[Future[None]] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tiles")
        self.failed: dict[int, str] = {}
        self.pinned: set[int] = set()
        self.nbytes = 0
        self.loads = 0
        self.evictions = 0
        self._costs: dict[int, tuple[int, int]] = {}
        self._sizes: dict[int, int] = {}
        self._ratio = [BYTES_PER_TRIANGLE, BYTES_PER_POINT]

    # -- what the selection asks --------------------------------------------------------------
    def loaded(self, tile: int) -> bool:
        """In memory (or failed: a failed tile counts as ready and draws nothing)."""
        return tile in self._items or tile in self.failed

    def cost(self, tile: int) -> tuple[int, int]:
        """(triangles, points) of a tile: measured once loaded, else estimated from its file size."""
        known = self._costs.get(tile)
        if known is not None:
            return known
        size = self._file_size(tile)
        if self._point_tile(tile):
            return 0, int(size / self._ratio[1])
        return int(size / self._ratio[0]), 0

    def _point_tile(self, tile: int) -> bool:
        layers = self.tileset.layers
        return all(
            layers[c.layer].get("kind") in POINT_KINDS for c in self.tileset.contents[tile] if c.layer < len(layers)
        )

    def _file_size(self, tile: int) -> int:
        if tile not in self._sizes:
            total = 0
            for content in self.tileset.contents[tile]:
                try:
                    total += content.path.stat().st_size
                except OSError:
                    pass
            self._sizes[tile] = total
        return self._sizes[tile]

    def get(self, tile: int) -> list[TileContent]:
        """A loaded tile's contents (one per content file and primitive kind), marked as recently used."""
        with self._lock:
            items = self._items.get(tile)
            if items is None:
                return []
            self._items.move_to_end(tile)
            return items

    # -- loading --------------------------------------------------------------------------------
    def request(self, tiles: Iterable[int]) -> int:
        """Queue the given tiles (most urgent first) that are neither loaded, loading nor failed."""
        queued = 0
        for tile in tiles:
            if tile in self._items or tile in self._pending or tile in self.failed:
                continue
            self._pending.add(tile)
            self._futures.append(self._pool.submit(self._load, tile))
            queued += 1
        self._futures = [f for f in self._futures if not f.done()]
        return queued

    def load_now(self, tiles: Iterable[int]) -> None:
        """Load tiles on the calling thread (the coarse tiles before the first frame)."""
        for tile in tiles:
            if not self.loaded(tile):
                self._load(tile)

    @property
    def busy(self) -> int:
        """Tiles queued or loading."""
        return len(self._pending)

    def wait(self, timeout: float | None = None) -> None:
        """Wait until every queued tile is in (tests and benches)."""
        for future in list(self._futures):
            future.result(timeout)

    def _load(self, tile: int) -> None:
        try:
            contents: list[TileContent] = []
            for content in self.tileset.contents[tile]:
                for part in read_content(content.path, self.tileset.content_matrix[tile]):
                    part.layer, part.uri = content.layer, content.path.name
                    contents.append(part)
            self._store(tile, contents)
        except InputError as exc:
            log.warning("tile %d skipped: %s", tile, exc)
            self.failed[tile] = str(exc)
        except MemoryError:
            self.failed[tile] = "out of memory"
        finally:
            self._pending.discard(tile)
        if self.on_loaded is not None:
            self.on_loaded(tile)

    def _store(self, tile: int, contents: list[TileContent]) -> None:
        triangles = sum(c.n_triangles for c in contents)
        points = sum(c.n_points for c in contents)
        self._costs[tile] = (triangles, points)
        size = self._file_size(tile)
        if size and triangles and not points:
            self._ratio[0] = 0.8 * self._ratio[0] + 0.2 * size / triangles
        elif size and points and not triangles:
            self._ratio[1] = 0.8 * self._ratio[1] + 0.2 * size / points
        with self._lock:
            self._items[tile] = contents
            self.nbytes += sum(c.nbytes for c in contents)
            self.loads += 1
            self._evict()

    def _evict(self) -> None:
        """Drop the least recently used tiles nobody draws until the cache is under its cap."""
        if self.nbytes <= self.cap:
            return
        for tile in list(self._items):
            if self.nbytes <= self.cap:
                break
            if tile in self.pinned:
                continue
            self.nbytes -= sum(c.nbytes for c in self._items.pop(tile))
            self.evictions += 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
