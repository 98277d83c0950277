"""What the inspector shows for one asset: identity, every attribute, and the sections its data has.

Generic on purpose: every attribute column of the asset row is listed, whatever the loader put
there; pipe, IFC and point sections appear only when their columns (or the picked point's
arrays) exist.  Output is plain JSON for the browser.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from twin import networks
from twin.colours.point_classes import class_name
from twin.faces.app.ifc_properties import PropertyReader, property_sections
from twin.scene import Twin

IDENTITY = ("id", "name", "kind", "layer", "network", "address")
IFC = (
    ("id", "GlobalId"),
    ("ifc_class", "Class"),
    ("name", "Name"),
    ("building", "Building"),
    ("storey", "Storey"),
    ("type_name", "Type"),
    ("object_type", "Object type"),
    ("material", "Materials"),
    ("system_type", "System"),
)
PIPE = (
    ("network", "Network"),
    ("diameter_m", "Diameter"),
    ("material", "Material"),
    ("age_years", "Age"),
    ("install_year", "Installed"),
    ("depth_start_m", "Depth at start"),
    ("depth_end_m", "Depth at end"),
    ("slope", "Slope"),
    ("length_m", "Length"),
    ("from_node", "From node"),
    ("to_node", "To node"),
    ("pressure_class", "Pressure class"),
)
#: property sets and quantities of IFC elements, read on demand in a worker process
PROPERTIES = PropertyReader()
POINT_ARRAYS = (("classification", "Class"), ("intensity", "Intensity"), ("rgb", "RGB"))


def fmt(name: str, value: Any) -> str | None:
    """A cell for people: units from the column name, no NaN, no empty strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if name == "diameter_m":
            return f"{value * 1000:.0f} mm"
        if name == "slope":
            return f"{value * 100:.2f} %"
        if name.endswith("_years"):
            return f"{value:.0f} years"
        if name.endswith("_m"):
            return f"{value:,.2f} m"
        if name.endswith("year") or name.endswith("Year") or value.is_integer():
            return f"{value:.0f}"
        return f"{value:,.4g}"
    return str(value)


def _rows(row: dict, fields) -> list[list[str]]:
    return [[label, text] for key, label in fields if key in row and (text := fmt(key, row[key])) is not None]


def describe(twin: Twin, index: int, point: dict | None = None) -> dict[str, Any]:
    """The inspector's content for asset row ``index`` (and the picked point's values, if any)."""
    row = twin.assets.row(index)
    graph = network_graph(twin, row) if _present(row, "diameter_m") else None
    sections = []
    if point:
        sections.append({"title": "Point", "icon": "mdi-dots-hexagon", "rows": point_rows(point)})
    if _present(row, "diameter_m"):
        sections.append(
            {
                "title": "Pipe segment",
                "icon": "mdi-pipe",
                "rows": _rows(row, PIPE) + [["Valves on it", ", ".join(valves_of(graph, row)) or "none recorded"]],
            }
        )
    if _present(row, "ifc_class"):
        sections.append({"title": "IFC element", "icon": "mdi-office-building-cog", "rows": _rows(row, IFC)})
        sections += property_sections(PROPERTIES.read(twin.layer(row["layer"]).source, row["id"]))
    sections.append(
        {
            "title": "Identity",
            "icon": "mdi-card-account-details-outline",
            "rows": _rows(row, [(k, k.capitalize()) for k in IDENTITY]),
        }
    )
    # merged tables fill other kinds' columns with NaN, '' or False: those are left out
    shown = {key for key, _ in (*PIPE, *IFC)} | set(IDENTITY)
    sections.append(
        {
            "title": "Attributes",
            "icon": "mdi-format-list-bulleted",
            "rows": [
                [k, text]
                for k in twin.assets.attribute_columns
                if k not in shown and row[k] is not False and (text := fmt(k, row[k])) is not None
            ],
        }
    )
    x, y, z = row["x"], row["y"], row["z"]
    sections.append(
        {
            "title": "Location",
            "icon": "mdi-map-marker",
            "rows": [
                ["Centre (E, N)", f"{x:,.2f}, {y:,.2f}" if math.isfinite(x) else "no geometry"],
                ["Elevation", f"{z:,.2f} m" if math.isfinite(z) else "—"],
                ["CRS", twin.crs or "unknown"],
            ],
        }
    )
    return {
        "index": index,
        "id": row["id"],
        "title": row["name"] or row["id"],
        "kind": row["kind"],
        "layer": row["layer"],
        "sections": sections,
        "actions": actions(row, graph),
    }


def _present(row: dict, key: str) -> bool:
    """Whether the asset has a value in a column (merged tables fill other kinds' columns with NaN / '')."""
    return key in row and fmt(key, row[key]) is not None


def point_rows(point: dict) -> list[list[str]]:
    rows = [[label, str(point[key])] for key, label in POINT_ARRAYS if key in point]
    rows.append(["Elevation", f"{point['elevation']:,.2f} m"])
    return rows


def point_values(layer, point_id: int, origin_z: float) -> dict:
    """The picked point's own values (class, intensity, colour, elevation) from the layer arrays."""
    data = layer.dataset.point_data
    out: dict[str, Any] = {"elevation": float(layer.dataset.points[point_id][2]) + origin_z}
    for key, _ in POINT_ARRAYS:
        if key in data.keys():
            value = np.asarray(data[key][point_id])
            out[key] = ", ".join(str(int(v)) for v in value.ravel()) if value.size > 1 else value.item()
    if "classification" in out:
        out["classification"] = f"{out['classification']} {class_name(int(out['classification']))}"
    return out


def actions(row: dict, graph) -> list[str]:
    """The inspector's buttons that make sense for this asset (``graph``: its pipe network, if any)."""
    out = ["fly_to"] if math.isfinite(row["x"]) else []
    if graph is not None:
        out.append("isolate")
    return [*out, "nearby"]


def valves_of(graph, row: dict) -> list[str]:
    if graph is None:
        return []
    try:
        strategy = networks.default_strategy(graph)
        return [
            f"{v.id}{' (assumed)' if v.assumed else ''}"
            for v in networks.valve_layer(graph, strategy)
            if v.link == row["id"]
        ]
    except Exception:  # a network without valves data still shows the segment
        return []


def network_graph(twin: Twin, row: dict):
    """The pipe network an asset row is a segment of (``None`` for anything else)."""
    for ref in networks.networks_of(twin):
        if ref.name == row["network"] and row["id"] in networks.segment_index(ref.graph):
            return ref.graph
    return None
