"""The four-colour risk view: colour arrays on the shared layer meshes, the red markers, the risk areas.

Recolouring is an array write: each layer mesh carries a uint8 RGB array per cell (``risk_rgb``,
and ``risk_rgb_ge<N>`` for a view that shows only assets at or above level N) filled from the
per-asset level array through the layer's ``asset_index`` with one ``numpy.take``.  The meshes are
shared by every browser's render window, so one write recolours every view; each view only
switches its mappers to the array (direct RGB, no lookup table).  Geometry is never rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyvista as pv

from twin.faces.app.asset_details import reading_text
from twin.faces.rendering import DEFAULT_COLORS
from twin.risk.colours import LEVEL_RGB, level_colors
from twin.risk.interface import RiskView
from twin.risk.levels import CODES, NAMES, NONE, RED
from twin.scene import Twin

#: colour of what the level filter leaves out (dark, so the risky assets stand out)
FILTERED_RGB = np.array([58, 64, 74], dtype=np.uint8)
#: grid cells and risk sources without a level: a faint slate wash
AREA_NONE_RGB = np.array([110, 120, 135], dtype=np.uint8)
MARKER_PX = 22
AREA_OPACITY = 0.4
CIRCLE_SIDES = 48


def array_name(minimum: int) -> str:
    return "risk_rgb" if minimum <= NONE else f"risk_rgb_ge{int(minimum)}"


def _base_colours(layer) -> np.ndarray:
    """The layer's own colour per element (its RGB array when it has one), uint8."""
    data = layer.dataset.cell_data if layer.association == "cell" else layer.dataset.point_data
    rgb = layer.style.rgb_array
    if rgb and rgb in data.keys() and np.asarray(data[rgb]).shape[-1:] == (3,):
        return np.asarray(data[rgb], dtype=np.uint8).copy()
    colour = pv.Color(layer.style.color or DEFAULT_COLORS.get(layer.kind, "#cccccc")).int_rgb
    return np.asarray(colour, dtype=np.uint8)


def _ring(feature) -> np.ndarray:
    if feature.kind == "point":
        angles = np.linspace(0, 2 * np.pi, CIRCLE_SIDES, endpoint=False)
        return feature.coords[0] + feature.radius_m * np.c_[np.cos(angles), np.sin(angles)]
    ring = feature.coords
    return ring[:-1] if len(ring) > 3 and np.allclose(ring[0], ring[-1]) else ring


class RiskPaint:
    """Risk colour arrays, red-asset markers and the risk-area mesh of one twin, shared by all views.

    Parameters
    ----------
    twin
        The loaded twin (layers, assets with world bounds).
    grids, sources
        The service's grid cells and static risk sources (features in world coordinates).
    """

    def __init__(self, twin: Twin, grids: Sequence = (), sources: Sequence = ()) -> None:
        self.twin = twin
        self.layers = [layer for layer in twin.layers if layer.geometry != "points"]
        self.base = {layer.name: _base_colours(layer) for layer in self.layers}
        self.minimums: set[int] = {NONE}
        self.levels = np.zeros(len(twin.assets), dtype=np.int8)
        bounds = twin.assets.bounds
        tops = np.c_[(bounds[:, 0] + bounds[:, 1]) / 2, (bounds[:, 2] + bounds[:, 3]) / 2, bounds[:, 5]]
        self.marker_at = twin.to_local(tops) + np.array([0.0, 0.0, 3.0])
        self.marker = pv.PolyData(np.zeros((1, 3), dtype=np.float32))
        self.red_count = 0
        self.grid_features, self.source_features = list(grids), list(sources)
        self.areas = self._area_mesh()
        self.area_levels = np.zeros(self.areas.n_cells if self.areas is not None else 0, dtype=np.int8)
        self.grid_levels: np.ndarray | None = None
        self.painted = False
        self.paint(self.levels)

    # -- the shared arrays ---------------------------------------------------------------
    def paint(self, levels: np.ndarray, grid_levels: np.ndarray | None = None) -> bool:
        """Write every colour array in use from ``levels`` (one int8 per asset row) and mark them modified.

        Returns whether any colour changed: a feed that only confirms the levels needs no new picture.
        """
        levels = np.asarray(levels, dtype=np.int8)
        changed = not np.array_equal(levels, self.levels) or not self.painted
        if changed:
            self.levels = levels
            for minimum in sorted(self.minimums):
                self._write(minimum)
            self._mark_reds()
            self.painted = True
        if self.areas is not None and grid_levels is not None:
            grid_levels = np.asarray(grid_levels, dtype=np.int8)
            if self.grid_levels is None or not np.array_equal(grid_levels, self.grid_levels):
                self._paint_areas(self.areas, grid_levels)
                changed = True
        return changed

    def use(self, minimum: int) -> str:
        """The array a view with level filter ``minimum`` shows (written now if it is new)."""
        minimum = int(minimum)
        if minimum not in self.minimums:
            self.minimums.add(minimum)
            self._write(minimum)
        return array_name(minimum)

    def _write(self, minimum: int) -> None:
        self.write(array_name(minimum), self.levels, minimum)

    def write(self, name: str, levels: np.ndarray, minimum: int = NONE) -> None:
        """Fill the colour array ``name`` of every layer from ``levels`` (a playback writes its own)."""
        for layer in self.layers:
            data = layer.dataset.cell_data if layer.association == "cell" else layer.dataset.point_data
            if name not in data.keys():
                data[name] = np.zeros((len(layer.asset_index), 3), dtype=np.uint8)
            out: np.ndarray = data[name]
            level = np.take(levels, layer.asset_index)
            level_colors(level, self.base[layer.name], out=out)
            if minimum > NONE:
                out[level < minimum] = FILTERED_RGB
            data.GetArray(name).Modified()

    def _mark_reds(self) -> None:
        reds = np.flatnonzero(self.levels == RED)
        at = self.marker_at[reds]
        at = at[np.isfinite(at).all(axis=1)]
        self.red_count = len(at)
        self.marker.ShallowCopy(pv.PolyData(at.astype(np.float32) if len(at) else np.zeros((1, 3), np.float32)))

    # -- risk areas -------------------------------------------------------------------------
    def _area_mesh(self) -> pv.PolyData | None:
        """Grid cells and risk sources as flat polygons just above the ground, one cell each."""
        features = [*self.grid_features, *self.source_features]
        if not features:
            return None
        ground = float(np.nanmin(self.twin.assets.bounds[:, 4])) if len(self.twin.assets) else 0.0
        points: list[np.ndarray] = []
        faces: list[np.ndarray] = []
        for i, feature in enumerate(features):
            ring = _ring(feature)
            z = np.full((len(ring), 1), ground + (0.3 if i < len(self.grid_features) else 0.6))
            faces.append(np.r_[len(ring), np.arange(len(ring)) + sum(len(p) for p in points)])
            points.append(np.c_[ring, z])
        mesh = pv.PolyData(self.twin.to_local(np.vstack(points)).astype(np.float32), np.concatenate(faces))
        mesh.cell_data["feature"] = np.arange(len(features))
        mesh = mesh.triangulate()
        mesh.cell_data["risk_area_rgb"] = np.zeros((mesh.n_cells, 3), dtype=np.uint8)
        self.source_levels = np.array([f.level for f in self.source_features], dtype=np.int8)
        return mesh

    def _paint_areas(self, areas: pv.PolyData, grid_levels: np.ndarray) -> None:
        self.grid_levels = grid_levels
        per_feature = np.r_[grid_levels, self.source_levels].astype(np.int8)
        level = per_feature[np.asarray(areas.cell_data["feature"])]
        self.area_levels = level
        out = areas.cell_data["risk_area_rgb"]
        level_colors(level, AREA_NONE_RGB, out=out)
        areas.cell_data.GetArray("risk_area_rgb").Modified()


class ViewRisk:
    """Switches one browser's render window between the layers' own colours and the risk colours."""

    def __init__(self, paint: RiskPaint) -> None:
        self.paint = paint
        self.saved: dict[tuple[str, int], tuple] = {}  # (layer, view) -> the mapper's own colouring
        self.extras: dict[int, tuple] = {}  # view -> (marker actor, area actor)
        self.mode: dict[int, tuple[bool, int]] = {}
        self.override: dict[int, str] = {}  # view -> colour array shown instead (a playback's)
        self.painted: set[int] = set()  # views whose mappers show a risk array now

    def __call__(self, view) -> None:
        """Hook run after every :meth:`ClientView.apply`: follow ``config["risk"]``."""
        risk = view.config.get("risk") or {}
        wanted = risk.get("min")  # a level name or its code
        on, minimum = bool(risk.get("on")), int(CODES.get(str(wanted), wanted or 0) or 0)
        key = id(view)
        was_on = key in self.painted
        self.mode[key] = (on, minimum)
        name = self.paint.use(minimum) if on else None
        if key in self.override:
            on, name = True, self.override[key]
        for layer in self.paint.layers:
            mapper = view.scene.actors[layer.name].GetMapper()
            if (layer.name, key) not in self.saved:
                self.saved[(layer.name, key)] = (
                    mapper.GetScalarVisibility(),
                    mapper.GetScalarMode(),
                    mapper.GetArrayName(),
                    mapper.GetColorMode(),
                )
            if on and name is not None:  # on: a risk array is named
                _direct(mapper, name, layer.association)
            elif was_on and layer.kind != "pipes":  # pipes: apply() has just set their own colouring
                visible, mode, array, colour_mode = self.saved[(layer.name, key)]
                mapper.SetScalarVisibility(visible)
                mapper.SetScalarMode(mode)
                mapper.SelectColorArray(array)
                mapper.SetColorMode(colour_mode)
        (self.painted.add if on else self.painted.discard)(key)
        self._extras(view, on and key not in self.override)

    def show(self, view, name: str | None) -> None:
        """Show the colour array ``name`` in this view (None: back to its own setting)."""
        if name is None:
            self.override.pop(id(view), None)
        else:
            self.override[id(view)] = name
        view.apply(view.config)  # runs this hook after the view's own settings

    def _extras(self, view, on: bool) -> None:
        key = id(view)
        if key not in self.extras:
            if not on:  # a view that never shows risk carries no extra actors
                return
            self.extras[key] = add_extras(view.plotter, self.paint)
        marker, area = self.extras[key]
        marker.SetVisibility(on and self.paint.red_count > 0)
        if area is not None:
            area.SetVisibility(on)

    def refresh(self, view) -> None:
        """After a new paint: show or hide the markers (the arrays themselves are shared)."""
        if id(view) in self.extras:
            self._extras(view, self.mode.get(id(view), (False, 0))[0] and id(view) not in self.override)

    def shows_risk(self, view) -> bool:
        """Whether the view draws risk colours now (live or a playback)."""
        return id(view) in self.painted


def add_extras(plotter, paint: RiskPaint) -> tuple:
    """The red markers (screen-sized points, visible at any zoom) and the risk areas of one plotter."""
    marker = plotter.add_mesh(
        paint.marker,
        color=LEVEL_RGB[RED].tolist(),
        name="risk-markers",
        style="points",
        point_size=MARKER_PX,
        render_points_as_spheres=True,
        pickable=False,
        reset_camera=False,
        show_scalar_bar=False,
        lighting=False,
    )
    area = None
    if paint.areas is not None:
        area = plotter.add_mesh(
            paint.areas,
            scalars="risk_area_rgb",
            rgb=True,
            name="risk-areas",
            opacity=AREA_OPACITY,
            pickable=False,
            reset_camera=False,
            show_scalar_bar=False,
            lighting=False,
        )
    return marker, area


def show_risk(scene, paint: RiskPaint, minimum: int = NONE) -> None:
    """Colour a whole :class:`~twin.faces.rendering.SceneView` by risk (``twin render --risk``)."""
    name = paint.use(minimum)
    for layer in paint.layers:
        _direct(scene.actors[layer.name].GetMapper(), name, layer.association)
    marker, _ = add_extras(scene.plotter, paint)
    marker.SetVisibility(paint.red_count > 0)


def _direct(mapper, name: str, association: str) -> None:
    if association == "cell":
        mapper.SetScalarModeToUseCellFieldData()
    else:
        mapper.SetScalarModeToUsePointFieldData()
    mapper.SelectColorArray(name)
    mapper.SetColorModeToDirectScalars()
    mapper.ScalarVisibilityOn()


def alert_rows(twin: Twin, service: RiskView, alerts: list[dict], limit: int = 50) -> list[dict]:
    """Alerts for people: most severe then oldest first, with the asset's row, name, the reading that
    fired each (``trigger``, ``trigger_ts``) and its sensors' latest values, apart."""
    order = {name: code for code, name in enumerate(NAMES)}
    alerts = sorted(alerts, key=lambda a: (-order.get(a["level"], 0), a["opened"]))[:limit]
    sensors, last = service.sensors, service.last_values()
    rows = []
    for alert in alerts:
        index = twin.assets.index_of(alert["asset"]) if alert["asset"] else None
        name = str(twin.assets["name"][index]) if index is not None else alert["asset"]
        mine = np.flatnonzero(sensors.asset == alert["asset"])
        values = ", ".join(
            f"{sensors.ids[s]} {reading_text(float(last[s]), str(sensors.unit[s]))}"
            for s in mine
            if np.isfinite(last[s])
        )
        fired = alert.get("trigger_sensor")  # the reading that fired the alert or raised its peak
        trigger = (
            f"{fired} {reading_text(alert.get('trigger_value'), alert.get('trigger_unit') or '')}" if fired else ""
        )
        rows.append(
            {
                "id": alert["id"],
                "asset": alert["asset"],
                "name": name or alert["asset"],
                "index": -1 if index is None else int(index),
                "level": alert["level"],
                "code": order.get(alert["level"], 0),
                "state": alert["state"],
                "rule": alert["rule"],
                "reason": alert["message"],
                "values": values,
                "trigger": trigger,
                "trigger_ts": alert.get("trigger_ts") if fired else None,
                "opened": alert["opened"],
                "acked": alert["acked"] is not None,
                "acked_by": alert["acked_by"],
            }
        )
    return rows
