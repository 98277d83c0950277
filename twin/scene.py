"""The Twin: layers, the asset table, and the scene origin and CRS that tie them to the world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.assets import AssetTable
from twin.errors import InputError
from twin.geo import MAX_COORDINATE, Placement, UnknownCRS, choose_origin, normalise_crs, reproject, same_crs
from twin.layer import Layer, LayerPart, LayerStyle, part_asset_bounds
from twin.source import LoadedSource

if TYPE_CHECKING:
    from twin.manifest import Bookmark


@dataclass
class SourceRecord:
    """What the twin remembers of one source: for ``twin info`` and the app's layer tree."""

    path: Path
    kind: str
    name: str
    seconds: float = 0.0
    crs: str | None = None
    layers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class Twin:
    """A scene: merged layers, one asset table, one origin and CRS.

    Coordinates in layers are ``world - origin`` as float32; the asset table's bounds are world
    float64.  Add sources with :meth:`add_source`; the first one fixes the origin unless the
    scene set it.
    """

    def __init__(
        self, name: str = "", crs: str | None = None, origin: Sequence[float] | np.ndarray | None = None
    ) -> None:
        self.name = name
        self.crs = normalise_crs(crs)
        self.origin: np.ndarray | None = None if origin is None else np.asarray(origin, dtype=np.float64)
        self.layers: list[Layer] = []
        self._assets = AssetTable.empty()
        self._pending: list[AssetTable] = []  # parts' rows not yet stacked onto ``_assets``
        self._n_assets = 0
        self.sources: list[SourceRecord] = []
        self.warnings: list[str] = []
        self.path: Path | None = None
        self.kind = "scene"
        self.bookmarks: list[Bookmark] = []
        self.live: dict[str, Path] = {}
        self.palette = "china"

    @property
    def assets(self) -> AssetTable:
        """The asset table, every source's rows stacked once when first asked for.

        Stacking per part re-copied every earlier row each time, so a scene's build grew with
        the square of its number of sources; the parts wait here and are stacked in one pass.
        """
        if self._pending:
            self._assets = AssetTable.concat([self._assets, *self._pending])
            self._pending = []
        return self._assets

    @assets.setter
    def assets(self, table: AssetTable) -> None:
        self._assets, self._pending, self._n_assets = table, [], len(table)

    # -- building -----------------------------------------------------------------------
    def add_source(
        self,
        loaded: LoadedSource,
        *,
        name: str | None = None,
        crs: str | None = None,
        placement: Placement | None = None,
        styles: dict[str, dict[str, Any]] | None = None,
        seconds: float = 0.0,
    ) -> SourceRecord:
        """Place a loader's output in the scene: placement, reprojection, origin shift, float32.

        Raises :class:`InputError` for a CRS pyproj cannot read or coordinates that are not
        finite or lie beyond +-MAX_COORDINATE; nothing of such a source is added.
        """
        try:
            source_crs = normalise_crs(crs or loaded.crs)
        except UnknownCRS as exc:
            raise InputError(loaded.path, str(exc), where="crs") from None
        record = SourceRecord(
            path=loaded.path,
            kind=loaded.kind,
            name=name or loaded.path.stem,
            seconds=seconds,
            crs=source_crs,
            warnings=list(loaded.warnings),
            skipped=list(loaded.skipped),
            details=dict(loaded.details),
            extras=dict(loaded.extras),
        )
        if self.crs is None and source_crs is not None:
            self.crs = source_crs
        target_crs = self.crs
        reprojecting = source_crs is not None and target_crs is not None and not same_crs(source_crs, target_crs)
        if source_crs is None and self.crs is not None and (placement is None or placement.is_identity):
            record.warnings.append(f"{loaded.path.name} declares no CRS: taken as the scene's ({self.crs})")
        moving = reprojecting or (placement is not None and not placement.is_identity)
        for part in loaded.parts:
            if moving:
                points = part.world_points()
                if placement is not None and not placement.is_identity:
                    points = placement.apply(points)
                if reprojecting and source_crs is not None and target_crs is not None:
                    points = reproject(points, source_crs, target_crs)
                part.dataset.points = points
                part.bounds, part.origin = None, None  # measured before the move: measure again
            _check_coordinates(part, loaded.path)
        taken = {layer.name for layer in self.layers}
        for part in loaded.parts:
            layer_name = _unique_name(f"{record.name}/{part.name}", taken)
            style = part.style.merged((styles or {}).get(layer_name, {}))
            self._add_part(part, layer_name, loaded.kind, style, str(loaded.path))
            record.layers.append(layer_name)
        self.sources.append(record)
        return record

    def add_failed_source(self, path: Path, kind: str, name: str, error: str) -> None:
        """Remember a source that failed, so the app lists it with its error; the rest still loads."""
        self.sources.append(SourceRecord(path=path, kind=kind, name=name, error=error))
        self.warnings.append(error)

    def _add_part(self, part: LayerPart, name: str, kind: str, style: LayerStyle, source: str) -> None:
        assets = part.assets
        assets.bounds = part_asset_bounds(part)
        assets.set_column("layer", name)
        if self.origin is None:  # the first source fixes the origin (the loader's, if it chose one)
            self.origin = (
                np.array(part.origin, dtype=np.float64)
                if part.origin is not None
                else choose_origin(_nan_bounds(assets.bounds, part.dataset.points))
            )
        start = self._n_assets
        dataset = part.dataset
        self._localise(part, self.origin)
        # one pass from the loader's integer type (a cloud's uint8) straight to the offset index
        index = np.add(part.asset_index, start, dtype=np.int32 if start + len(assets) < 2**31 else np.int64)
        target = dataset.cell_data if part.association == "cell" else dataset.point_data
        target["asset_index"] = index
        self._pending.append(assets)
        self._n_assets += len(assets)
        self.layers.append(
            Layer(
                name=name,
                kind=kind,
                geometry=part.geometry,
                dataset=dataset,
                association=part.association,
                style=style,
                source=source,
                asset_start=start,
                asset_stop=start + len(assets),
            )
        )

    @staticmethod
    def _localise(part: LayerPart, origin: np.ndarray) -> None:
        """Points of a part as float32 relative to the scene origin, in at most one pass.

        A part already local to the scene origin (a loader fused the shift into its read) is
        taken as it is; one local to another origin is shifted by the difference of the two
        (computed in float64, so no precision is lost).
        """
        dataset = part.dataset
        points = np.asarray(dataset.points)
        if part.origin is not None and np.array_equal(part.origin, origin) and points.dtype == np.float32:
            return
        shift = origin if part.origin is None else origin - np.asarray(part.origin, dtype=np.float64)
        local = np.empty(points.shape, dtype=np.float32)
        np.subtract(points, shift, out=local, dtype=np.float64, casting="same_kind")  # no float64 temporary
        dataset.points = local
        part.origin = None

    # -- queries ------------------------------------------------------------------------
    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def layer_of_asset(self, index: int) -> Layer:
        for layer in self.layers:
            if layer.asset_start <= index < layer.asset_stop:
                return layer
        raise IndexError(index)

    @property
    def bounds(self) -> list[float]:
        """World bounds ``[xmin, xmax, ymin, ymax, zmin, zmax]`` of every layer's geometry."""
        if not self.layers:
            return [float("nan")] * 6
        local = np.array([layer.dataset.bounds for layer in self.layers if layer.dataset.n_points])
        if not len(local):
            return [float("nan")] * 6
        out = np.empty(6)
        out[0::2] = local[:, 0::2].min(axis=0) + self.origin
        out[1::2] = local[:, 1::2].max(axis=0) + self.origin
        return out.tolist()

    def to_local(self, world: np.ndarray) -> np.ndarray:
        return np.asarray(world, dtype=np.float64) - (self.origin if self.origin is not None else 0.0)

    def to_world(self, local: np.ndarray) -> np.ndarray:
        return np.asarray(local, dtype=np.float64) + (self.origin if self.origin is not None else 0.0)


def _unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)``... if taken; the name chosen is added to ``taken``."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    taken.add(candidate)
    return candidate


def _check_coordinates(part: LayerPart, path: Path) -> None:
    """Refuse a part whose points are NaN, infinite or beyond +-MAX_COORDINATE (world).

    Such points would give null or 1e38 bounds and an origin nowhere.  Checked by the extremes
    alone (NaN propagates through min and max), so a cloud of millions costs two passes and no copy.
    """
    points = np.asarray(part.dataset.points)
    if not points.size:
        return
    shift = 0.0 if part.origin is None else float(np.abs(part.origin).max())
    low, high = float(points.min()), float(points.max())
    if np.isfinite(low) and np.isfinite(high) and max(-low, high) + shift <= MAX_COORDINATE:
        return
    finite = np.isfinite(points).all(axis=1)
    if not finite.all():
        problem = f"{int((~finite).sum()):,} of {len(points):,} points have NaN or infinite coordinates"
    else:
        problem = f"coordinates reach {max(-low, high) + shift:.3g}, beyond the limit of +-{MAX_COORDINATE:g}"
    raise InputError(path, problem, where=f"layer {part.name}", hint="check the file's scale, offset and transform")


def _nan_bounds(bounds: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Overall bounds from asset bounds, or from the raw points when no asset has geometry."""
    if len(bounds) and np.isfinite(bounds).any():
        return np.array(
            [
                np.nanmin(bounds[:, 0]),
                np.nanmax(bounds[:, 1]),
                np.nanmin(bounds[:, 2]),
                np.nanmax(bounds[:, 3]),
                np.nanmin(bounds[:, 4]),
                np.nanmax(bounds[:, 5]),
            ]
        )
    pts = np.asarray(points, dtype=np.float64)
    if not len(pts):
        return np.full(6, np.nan)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return np.array([lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]])
