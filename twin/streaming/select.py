"""Which tiles a camera needs: screen-space error refinement within a triangle and point budget.

A tile is refined while its screen-space error (its geometric error projected at its distance,
in pixels) exceeds ``Budget.max_error_px``, biggest error first, as long as the budget still
holds the children (``REPLACE``: children instead of the tile; ``ADD``: children on top).
Tiles outside the view frustum are dropped.  What is *drawn* then depends on what has loaded:
a ``REPLACE`` tile stays on screen until all its wanted children are in (coarse tiles at once,
finer ones as they load, never a hole); an ``ADD`` tile's children show one by one.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from twin.streaming.tileset import Tileset


@dataclass(frozen=True)
class Budget:
    """What the views may draw.  Defaults suit software rendering (Mesa llvmpipe, 2 shared cores):
    frame time follows what is drawn, so the defaults are what the demo district draws (~91,000
    triangles and ~284,000 points), which keeps a city's frame near the demo's at the same window size."""

    triangles: int = 100_000
    points: int = 300_000
    max_error_px: float = 16.0


@dataclass(frozen=True)
class Camera:
    """A perspective camera in the scene frame: position, focal point, up, vertical view angle, window size."""

    position: tuple[float, float, float]
    focal_point: tuple[float, float, float]
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    view_angle: float = 30.0
    width: int = 1280
    height: int = 800

    def planes(self) -> np.ndarray:
        """The four side planes of the view frustum, ``(4, 4)`` as ``n . x + d >= 0`` inside."""
        eye = np.asarray(self.position, dtype=np.float64)
        forward = np.asarray(self.focal_point, dtype=np.float64) - eye
        forward /= np.linalg.norm(forward) or 1.0
        right = np.cross(forward, np.asarray(self.up, dtype=np.float64))
        right /= np.linalg.norm(right) or 1.0
        up = np.cross(right, forward)
        half_v = np.radians(self.view_angle) / 2
        half_h = np.arctan(np.tan(half_v) * self.width / max(self.height, 1))
        normals = [
            np.cos(half_h) * right + np.sin(half_h) * forward,
            -np.cos(half_h) * right + np.sin(half_h) * forward,
            np.cos(half_v) * up + np.sin(half_v) * forward,
            -np.cos(half_v) * up + np.sin(half_v) * forward,
        ]
        return np.array([[*n, -float(n @ eye)] for n in normals])

    def key(self, grid: float = 0.5) -> tuple[float, ...]:
        """A coarse fingerprint: a camera that moved less than ``grid`` metres selects the same tiles."""
        values = np.r_[self.position, self.focal_point] / grid
        return (*np.round(values).astype(int).tolist(), round(self.view_angle, 1), self.width, self.height)


@dataclass
class Selection:
    """What a view wants (``wanted``), what it can draw now (``drawn``) and what to load, most urgent first."""

    wanted: list[int]
    drawn: list[int]
    missing: list[int]
    triangles: int = 0
    points: int = 0
    skipped: list[int] = field(default_factory=list)


def screen_error(tileset: Tileset, camera: Camera) -> np.ndarray:
    """Each tile's screen-space error in pixels (inf for a tile the camera is inside)."""
    eye = np.asarray(camera.position, dtype=np.float64)
    distance = np.linalg.norm(tileset.centre - eye, axis=1) - tileset.radius
    scale = camera.height / (2 * np.tan(np.radians(camera.view_angle) / 2))
    with np.errstate(divide="ignore"):
        return np.where(distance > 1e-6, tileset.error * scale / np.maximum(distance, 1e-6), np.inf)


def visible(tileset: Tileset, camera: Camera) -> np.ndarray:
    """Tiles whose bounding sphere touches the view frustum (the four side planes; no far plane)."""
    planes = camera.planes()
    signed = tileset.centre @ planes[:, :3].T + planes[:, 3]
    inside: np.ndarray = np.all(signed >= -tileset.radius[:, None], axis=1)
    return inside


def select(
    tileset: Tileset,
    camera: Camera,
    budget: Budget,
    cost: Callable[[int], tuple[int, int]],
    loaded: Callable[[int], bool],
) -> Selection:
    """The tiles for ``camera`` within ``budget``.

    ``cost(tile)`` gives a tile's (triangles, points), measured or estimated; ``loaded(tile)``
    whether its content is in memory.  The root is always wanted, whatever it costs.
    """
    sse = screen_error(tileset, camera)
    seen = visible(tileset, camera)
    seen[0] = True
    tops = top_tiles(tileset, seen)
    blocked = set(tops) - set(admitted(tileset, tops, cost, budget, sse))
    tris, pts = cost(0)
    wanted = {0}
    skipped: list[int] = sorted(blocked)
    heap = [(-sse[0], 0)]
    while heap:
        _, tile = heapq.heappop(heap)
        kids = [c for c in tileset.children[tile] if seen[c] and c not in blocked]
        if sse[tile] <= budget.max_error_px and tileset.contents[tile] or not kids:
            continue
        extra = np.sum([cost(c) for c in kids], axis=0)
        own = np.asarray(cost(tile)) if tileset.replace[tile] else np.zeros(2, dtype=np.int64)
        new_tris, new_pts = tris + int(extra[0] - own[0]), pts + int(extra[1] - own[1])
        # over the budget only if it grows past it: an overview that alone exceeds the budget may still
        # be refined into the (fewer, culled) children a close view sees
        over = (new_tris > max(budget.triangles, tris) and extra[0]) or (new_pts > max(budget.points, pts) and extra[1])
        if over and tileset.contents[tile]:  # a tile without content is always refined: it draws nothing
            skipped.append(tile)
            continue
        tris, pts = new_tris, new_pts
        if tileset.replace[tile]:
            wanted.discard(tile)
        wanted.update(kids)
        for c in kids:
            heapq.heappush(heap, (-sse[c], c))
    refined = _refined(tileset, wanted)
    drawn = _drawable(tileset, 0, wanted, refined, loaded) or []
    missing = sorted((t for t in wanted | refined if tileset.contents[t] and not loaded(t)), key=lambda t: -sse[t])
    return Selection(sorted(wanted), sorted(set(drawn)), missing, tris, pts, skipped)


def top_tiles(tileset: Tileset, seen: np.ndarray | None = None) -> list[int]:
    """The coarsest tiles with content (every ancestor without), of those ``seen`` (default: all).

    A city tileset's root holds no content: these are the overview of each layer.
    """
    tops: list[int] = []
    frontier = [0]
    while frontier:
        tile = frontier.pop()
        if seen is not None and not seen[tile]:
            continue
        if tileset.contents[tile]:
            tops.append(tile)
        else:
            frontier.extend(tileset.children[tile])
    return sorted(tops)


def admitted(
    tileset: Tileset,
    tops: list[int],
    cost: Callable[[int], tuple[int, int]],
    budget: Budget,
    urgency: np.ndarray | None = None,
) -> list[int]:
    """The top tiles that fit the budget together, coarsest first (then most ``urgency``: screen error).

    The first tile with triangles and the first with points are always in (something shows, and a
    close view refines it into cheaper children); every further one only while the budget holds.
    Without this a tileset whose overview is heavy (a quadrant with no coarse level, or pipes at
    full detail at every level) was drawn whatever the budget said.
    """
    depth = tileset.depth
    score = np.zeros(len(tileset)) if urgency is None else np.nan_to_num(urgency, posinf=1e30)
    used = np.zeros(2, dtype=np.int64)
    limit = np.array([budget.triangles, budget.points], dtype=np.int64)
    out: list[int] = []
    for tile in sorted(tops, key=lambda t: (depth[t], -score[t], t)):
        need = np.asarray(cost(tile), dtype=np.int64)
        first = (need > 0) & (used == 0)
        if np.all((used + need <= limit) | first | (need == 0)):
            used += need
            out.append(tile)
    return sorted(out)


def _refined(tileset: Tileset, wanted: set[int]) -> set[int]:
    """Every ancestor of a wanted tile: the tiles refined to reach the wanted ones."""
    refined: set[int] = set()
    for tile in wanted:
        parent = int(tileset.parent[tile])
        while parent >= 0 and parent not in refined:
            refined.add(parent)
            parent = int(tileset.parent[parent])
    return refined


def _drawable(
    tileset: Tileset, tile: int, wanted: set[int], refined: set[int], loaded: Callable[[int], bool]
) -> list[int] | None:
    """What to draw for the subtree of ``tile`` now, or None when nothing of it is ready.

    A wanted tile draws itself once loaded.  A refined ``REPLACE`` tile draws its children only
    when every one of them is ready, else itself (if loaded): no holes, no overlap.  A refined
    ``ADD`` tile draws itself and whichever children are ready.
    """
    has_content = bool(tileset.contents[tile])
    ready = not has_content or loaded(tile)
    if tile in wanted and tile not in refined:
        return [tile] if ready and has_content else ([] if ready else None)
    parts = [
        _drawable(tileset, c, wanted, refined, loaded) for c in tileset.children[tile] if c in wanted or c in refined
    ]
    if tileset.replace[tile]:
        if all(p is not None for p in parts):
            return [t for p in parts if p is not None for t in p]
        return [tile] if has_content and ready else None
    own = [tile] if has_content and ready else []
    return own + [t for p in parts if p is not None for t in p]
