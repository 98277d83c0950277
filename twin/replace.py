"""IFC buildings replace their context twins in the city model, so nothing is drawn twice.

A detailed IFC building usually stands where the city model (CityJSON, CityGML) already has a
block model of it.  :func:`hide_replaced` removes those city cells from their layers and marks
the asset rows ``replaced_by`` (the row stays, so the inventory still lists the building).
Which city objects are replaced: the ids named by the IFC source's manifest option
``replaces = ["bldg-012", ...]`` (with their parts), or else, for an IFC source that holds an ``IfcBuilding``,
every city building whose footprint (x-y bounding box) overlaps the IFC model's by at least
``overlap`` of the smaller of the two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from twin.scene import Twin

CITY_BUILDING_KINDS = ("Building", "BuildingPart")


def hide_replaced(
    twin: Twin, replaces: Mapping[str, Sequence[str]] | None = None, overlap: float = 0.5
) -> dict[str, str]:
    """Hide the city cells of buildings replaced by IFC sources; returns ``{city id: IFC source}``.

    Parameters
    ----------
    replaces
        Per IFC source name, the city object ids it replaces (the manifest option ``replaces``);
        a source named here is not matched by footprint.
    overlap
        Share of the smaller footprint two boxes must have in common to count as the same building.
    """
    replaces = dict(replaces or {})
    models = [record for record in twin.sources if record.kind == "ifc" and not record.error]
    claims = [
        (r.name, replaces.get(r.name), None if r.name in replaces else model_footprint(twin, r.layers)) for r in models
    ]
    return hide_claimed(twin, claims, overlap)


Claim = tuple[str, Sequence[str] | None, Sequence[float] | np.ndarray | None]


def hide_claimed(twin: Twin, claims: Sequence[Claim], overlap: float = 0.5) -> dict[str, str]:
    """:func:`hide_replaced` for models known only by their claims ``(IFC source, named ids or
    None, footprint [xmin, xmax, ymin, ymax] or None)``: a tiler cuts the city apart from its
    IFC models, so it passes what each model claims instead of the models."""
    city = _city_rows(twin) if claims else np.empty(0, dtype=np.int64)  # most scenes have no IFC model
    if not len(city):
        return {}
    ids = twin.assets["id"][city].astype(object)  # numpy 2.4 StringDType sorts fail on long ids
    parents = twin.assets["parent"][city].astype(object) if "parent" in twin.assets else np.full(len(city), "")
    replaced: dict[int, str] = {}
    for name, named_ids, footprint in claims:
        if named_ids is not None:
            named = np.asarray([str(i) for i in named_ids], dtype=object)
            wanted = np.isin(ids, named) | np.isin(parents, named)  # a building's parts go with it
            hits = city[wanted]
        elif footprint is not None:
            hits = _overlapping(twin, np.asarray(footprint, dtype=np.float64), city, overlap)
        else:
            continue
        replaced.update({int(row): name for row in hits if int(row) not in replaced})
    if replaced:
        _apply(twin, replaced)
    return {str(twin.assets["id"][row]): name for row, name in replaced.items()}


def _city_rows(twin: Twin) -> np.ndarray:
    """Rows of city-model buildings (in city or citygml layers)."""
    ranges = [np.arange(layer.asset_start, layer.asset_stop) for layer in twin.layers if layer.kind == "city"]
    if not ranges:
        return np.empty(0, dtype=np.int64)
    rows = np.concatenate(ranges)
    return rows[np.isin(twin.assets["kind"][rows].astype(object), CITY_BUILDING_KINDS)]


def _is_building(twin: Twin, rows: np.ndarray) -> bool:
    kinds = twin.assets["kind"][rows]
    classes = twin.assets["ifc_class"][rows] if "ifc_class" in twin.assets else kinds
    return bool(np.any(kinds == "IfcBuilding") or np.any(classes == "IfcBuilding"))


def model_footprint(twin: Twin, layer_names: list[str]) -> np.ndarray | None:
    """The x-y box ``[xmin, xmax, ymin, ymax]`` of an IFC model that holds an ``IfcBuilding``, else None."""
    layers = [twin.layer(name) for name in layer_names]
    rows = (
        np.concatenate([np.arange(layer.asset_start, layer.asset_stop) for layer in layers])
        if layers
        else np.empty(0, int)
    )
    if not len(rows) or not _is_building(twin, rows):
        return None
    bounds = twin.assets.bounds[rows]
    bounds = bounds[np.isfinite(bounds).all(axis=1)]
    if not len(bounds):
        return None
    return np.array([bounds[:, 0].min(), bounds[:, 1].max(), bounds[:, 2].min(), bounds[:, 3].max()])


def _overlapping(twin: Twin, ifc: np.ndarray, city: np.ndarray, overlap: float) -> np.ndarray:
    """City rows whose footprint shares at least ``overlap`` of the smaller box with the IFC model's."""
    box = twin.assets.bounds[city]
    dx = np.minimum(box[:, 1], ifc[1]) - np.maximum(box[:, 0], ifc[0])
    dy = np.minimum(box[:, 3], ifc[3]) - np.maximum(box[:, 2], ifc[2])
    shared = np.clip(dx, 0, None) * np.clip(dy, 0, None)
    area_city = (box[:, 1] - box[:, 0]) * (box[:, 3] - box[:, 2])
    area_ifc = (ifc[1] - ifc[0]) * (ifc[3] - ifc[2])
    smaller = np.minimum(area_city, area_ifc)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(smaller > 0, shared / smaller, 0.0)
    return city[np.nan_to_num(share) >= overlap]


def _apply(twin: Twin, replaced: dict[int, str]) -> None:
    """Mark the rows and cut their cells out of the city layers."""
    column = twin.assets["replaced_by"] if "replaced_by" in twin.assets else np.full(len(twin.assets), "")
    column = np.asarray(column).astype(np.dtypes.StringDType())
    rows = np.fromiter(replaced, dtype=np.int64, count=len(replaced))
    column[rows] = np.asarray(list(replaced.values()), dtype=np.dtypes.StringDType())
    twin.assets.set_column("replaced_by", column)
    for layer in twin.layers:
        if layer.kind != "city" or layer.association != "cell":
            continue
        hidden = np.isin(layer.asset_index, rows)
        if hidden.any():
            layer.dataset = layer.dataset.remove_cells(np.flatnonzero(hidden).tolist(), inplace=False)
    names = sorted(set(replaced.values()))
    twin.warnings.append(f"{len(replaced)} city buildings replaced by IFC ({', '.join(names)}): not drawn")
