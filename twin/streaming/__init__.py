"""Stream a city-scale 3D Tiles tileset by view: the core half (no screen, no server).

* :mod:`~twin.streaming.tileset` reads ``tileset.json`` into flat arrays in one local frame;
* :mod:`~twin.streaming.content` reads GLB and b3dm content into numpy arrays;
* :mod:`~twin.streaming.select` picks tiles for a camera by screen-space error within a budget;
* :mod:`~twin.streaming.cache` loads tiles on a thread pool into an LRU cache with a memory cap;
* :mod:`~twin.streaming.merge` joins what is drawn into one mesh per layer (``asset_index`` per cell);
* :mod:`~twin.streaming.city` ties them together for the app (:class:`CityStream`).

The tileset contract (folder layout, frame, layers, feature metadata, ``assets.parquet``) is the
one ``twin tile`` writes; foreign tilesets with glb or b3dm content read too.
"""

from twin.streaming.cache import TileCache
from twin.streaming.city import CityStream, Status, read_assets
from twin.streaming.content import TileContent, read_content
from twin.streaming.merge import merge
from twin.streaming.select import Budget, Camera, Selection, select
from twin.streaming.tileset import Tileset, read_tileset

__all__ = [
    "Budget",
    "Camera",
    "CityStream",
    "Selection",
    "Status",
    "TileCache",
    "TileContent",
    "Tileset",
    "merge",
    "read_assets",
    "read_content",
    "read_tileset",
    "select",
]
