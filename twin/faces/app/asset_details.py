"""What the inspector shows for one asset: identity, every attribute, and the sections its data has.

Generic on purpose: every attribute column of the asset row is listed, whatever the loader put
there; pipe, IFC and point sections appear only when their columns (or the picked point's
arrays) exist, and come first: the asset's own data before its identity and the rest.  Numbers
are written for people (rounded to what they can mean, with units and the language's grouping),
as are readings (to their sensor's precision), durations (in words) and alert histories (one row
per alert).  Output is plain JSON for the browser.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from babel.numbers import format_decimal
from babel.units import format_unit

from twin import networks
from twin.colours.point_classes import class_name
from twin.errors import TwinError
from twin.faces.app.ifc_properties import PropertyReader, property_sections
from twin.faces.i18n import LANGUAGES, _, current, normalise
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
#: decimals of a reading by unit, where its sensor states no precision (what such sensors resolve)
UNIT_DECIMALS = {
    "kPa": 1, "MPa": 3, "bar": 2, "Pa": 0, "%LEL": 0, "%": 0, "ppm": 0, "mg/L": 2, "NTU": 1, "pH": 1,
    "m": 2, "cm": 1, "mm": 0, "mm/h": 1, "m/s": 2, "m3/h": 1, "m³/h": 1, "L/s": 1, "°C": 1, "g": 3, "Hz": 1,
}  # fmt: skip
#: the units of a duration in words, largest first (CLDR unit names, seconds in each)
DURATION_UNITS = (("duration-day", 86400), ("duration-hour", 3600), ("duration-minute", 60), ("duration-second", 1))


def fmt(name: str, value: Any) -> str | None:
    """A cell for people: units from the column name, no NaN, no empty strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, float):
        if name == "diameter_m":
            return f"{value * 1000:.0f} mm"
        if name == "slope":
            return f"{value * 100:.2f} %"
        if name.endswith("_years"):
            return _("{n} years", n=format(value, ".0f"))
        if name.endswith("_m"):
            return f"{value:,.2f} m"
        if name.endswith("year") or name.endswith("Year") or value.is_integer():
            return f"{value:.0f}"
        return number(value)
    return str(value)


def number(value: float, decimals: int | None = None, lang: str | None = None) -> str:
    """``value`` with ``decimals`` places (default: four significant digits, at most four places),
    grouped as the language writes numbers: ``268.6`` for 268.61879028642267, ``12,346`` for 12345.6."""
    if decimals is None:
        magnitude = math.floor(math.log10(abs(value))) if value else 0
        decimals = min(max(3 - magnitude, 0), 4)
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return str(format_decimal(round(value, decimals), format=pattern, locale=_locale(lang)))


def reading_text(value: float | None, unit: str, precision: float | None = None, lang: str | None = None) -> str:
    """A reading as its sensor can resolve it, with its unit: to ``precision`` (a step such as
    0.1 or 5) when the sensor states one, else to the usual resolution of its unit."""
    if value is None or not math.isfinite(value):
        return "—"
    if precision and precision > 0:
        value = round(value / precision) * precision
        decimals: int | None = max(0, -math.floor(math.log10(precision) + 1e-9))
    else:
        decimals = UNIT_DECIMALS.get(unit)
    return f"{number(value, decimals, lang)} {unit}".strip()


def duration_words(seconds: float, lang: str | None = None) -> str:
    """A duration as people say it, in its two largest units: ``2 hours 5 minutes``, ``2小时5分钟``."""
    left = max(int(round(seconds)), 0)
    parts: list[tuple[int, str]] = []
    for unit, size in DURATION_UNITS:
        count, left = divmod(left, size)
        if count or (parts and len(parts) < 2):
            parts.append((count, unit))
        if len(parts) == 2:
            break
    shown = [(n, u) for n, u in parts if n] or [(0, "duration-second")]
    locale = _locale(lang)
    words = [format_unit(n, u, length="long", locale=locale) for n, u in shown]
    return ("" if locale.startswith("zh") else " ").join(words)


def alert_history(alerts: Iterable[dict], now: float, lang: str | None = None) -> list[dict]:
    """One row per alert (a reopened alert is listed once, as it stands now), newest first, each
    saying its level, its state, when it opened and how long it has lasted (or lasted), in words."""
    latest: dict[Any, dict] = {}
    for alert in alerts:
        kept = latest.get(alert["id"])
        if kept is None or alert.get("updated", 0) >= kept.get("updated", 0):
            latest[alert["id"]] = alert
    rows = []
    for alert in sorted(latest.values(), key=lambda a: -a["opened"]):
        end = alert.get("resolved") or now
        rows.append({**alert, "lasted": duration_words(end - alert["opened"], lang)})
    return rows


def _locale(lang: str | None) -> str:
    return LANGUAGES[normalise(lang) or current()]


def _rows(row: dict, fields) -> list[list[str]]:
    return [[_(label), text] for key, label in fields if key in row and (text := fmt(key, row[key])) is not None]


def describe(twin: Twin, index: int, point: dict | None = None) -> dict[str, Any]:
    """The inspector's content for asset row ``index`` (and the picked point's values, if any)."""
    row = twin.assets.row(index)
    graph = network_graph(twin, row) if _present(row, "diameter_m") else None
    sections = []
    if point:
        sections.append({"title": _("Point"), "icon": "mdi-dots-hexagon", "rows": point_rows(point)})
    if _present(row, "diameter_m"):
        sections.append(
            {
                "title": _("Pipe segment"),
                "icon": "mdi-pipe",
                "rows": _rows(row, PIPE)
                + [[_("Valves on it"), ", ".join(valves_of(graph, row)) or _("none recorded")]],
            }
        )
    if _present(row, "ifc_class"):
        sections.append({"title": _("IFC element"), "icon": "mdi-office-building-cog", "rows": _rows(row, IFC)})
        sections += property_sections(PROPERTIES.read(twin.layer(row["layer"]).source, row["id"]))
    # the asset's own data, shown open and before its live risk: its kind's sections, or (a city
    # object, a sensor) its identity and attributes
    own = len(sections) or 2
    sections.append(
        {
            "title": _("Identity"),
            "icon": "mdi-card-account-details-outline",
            "rows": _rows(row, [(k, k.capitalize()) for k in IDENTITY]),
        }
    )
    # merged tables fill other kinds' columns with NaN, '' or False: those are left out
    shown = {key for key, _label in (*PIPE, *IFC)} | set(IDENTITY)
    sections.append(
        {
            "title": _("Attributes"),
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
            "title": _("Location"),
            "icon": "mdi-map-marker",
            "rows": [
                [_("Centre (E, N)"), f"{x:,.2f}, {y:,.2f}" if math.isfinite(x) else _("no geometry")],
                [_("Elevation"), f"{z:,.2f} m" if math.isfinite(z) else "—"],
                [_("CRS"), twin.crs or _("unknown")],
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
        "own": own,
        "actions": actions(row, graph),
    }


def _present(row: dict, key: str) -> bool:
    """Whether the asset has a value in a column (merged tables fill other kinds' columns with NaN / '')."""
    return key in row and fmt(key, row[key]) is not None


def point_rows(point: dict) -> list[list[str]]:
    rows = [[_(label), str(point[key])] for key, label in POINT_ARRAYS if key in point]
    rows.append([_("Elevation"), f"{point['elevation']:,.2f} m"])
    return rows


def point_values(layer, point_id: int, origin_z: float) -> dict:
    """The picked point's own values (class, intensity, colour, elevation) from the layer arrays."""
    data = layer.dataset.point_data
    out: dict[str, Any] = {"elevation": float(layer.dataset.points[point_id][2]) + origin_z}
    for key, _label in POINT_ARRAYS:
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


def valves_of(graph: networks.PipeNetwork | None, row: dict) -> list[str]:
    """The isolation valves on one segment, by the network's default strategy.

    Asks for this segment's valves only (:func:`twin.networks.valves_on`): the whole valve layer
    costs 0.3 s per click on a network of 300,000 segments.
    """
    if graph is None:
        return []
    try:
        found = networks.valves_on(graph, row["id"], networks.default_strategy(graph))
    except (KeyError, TwinError):  # a network without valves data still shows the segment
        return []
    return [f"{v.id} ({_('assumed')})" if v.assumed else v.id for v in found]


def network_graph(twin: Twin, row: dict) -> networks.PipeNetwork | None:
    """The pipe network an asset row is a segment of (``None`` for anything else)."""
    for ref in networks.networks_of(twin):
        if ref.name == row["network"] and ref.graph.has_segment(row["id"]):
            return ref.graph
    return None
