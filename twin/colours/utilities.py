"""Utility colour codes: which colour a network of each kind is drawn in.

Two conventions are in wide use and the scene picks one (``palette = "china"|"apwa"``):

* ``china`` -- urban underground pipeline survey maps (CJJ 61): water supply sky-blue, drainage
  brown, gas pink, heat orange, power red, telecom green, industrial and long-distance lines black,
  unknown grey.
* ``apwa`` -- the APWA uniform colour code (US): power red, gas/oil/steam yellow, telecom orange,
  potable water blue, reclaimed water purple, sewer and drains green.

Network kinds are normalised by :func:`network_kind`, which also understands the Chinese names
found in city data (给水, 排水, 燃气, ...).
"""

from __future__ import annotations

#: canonical network kinds, in legend order
KINDS: tuple[str, ...] = (
    "water",
    "reclaimed",
    "drainage",
    "sewer",
    "storm",
    "gas",
    "heat",
    "power",
    "telecom",
    "oil_gas",
    "industrial",
    "unknown",
)

LABELS = {
    "water": "Water supply",
    "reclaimed": "Reclaimed water",
    "drainage": "Drainage",
    "sewer": "Sewer",
    "storm": "Stormwater",
    "gas": "Gas",
    "heat": "Heat",
    "power": "Power",
    "telecom": "Telecom",
    "oil_gas": "Oil and gas (long-distance)",
    "industrial": "Industrial",
    "unknown": "Unknown",
}

PALETTES: dict[str, dict[str, str]] = {
    "china": {
        "water": "#00bfff",
        "reclaimed": "#00bfff",
        "drainage": "#8b4513",
        "sewer": "#8b4513",
        "storm": "#8b4513",
        "gas": "#ff69b4",
        "heat": "#ff8c00",
        "power": "#ff0000",
        "telecom": "#00a000",
        "oil_gas": "#303030",
        "industrial": "#303030",
        "unknown": "#808080",
    },
    "apwa": {
        "water": "#0000ff",
        "reclaimed": "#800080",
        "drainage": "#00c000",
        "sewer": "#00c000",
        "storm": "#00c000",
        "gas": "#ffff00",
        "heat": "#ffff00",
        "power": "#ff0000",
        "telecom": "#ff8000",
        "oil_gas": "#ffff00",
        "industrial": "#ffff00",
        "unknown": "#808080",
    },
}

_ALIASES = {
    "water": ("water", "water_supply", "supply", "potable", "drinking", "给水", "供水", "自来水"),
    "reclaimed": ("reclaimed", "recycled", "中水", "再生水"),
    "drainage": ("drainage", "drain", "combined", "排水", "合流"),
    "sewer": ("sewer", "sewage", "sanitary", "wastewater", "waste_water", "foul", "污水"),
    "storm": ("storm", "stormwater", "storm_water", "rain", "rainwater", "rain_water", "surface_water", "雨水"),
    "gas": ("gas", "natural_gas", "燃气", "天然气", "煤气"),
    "heat": ("heat", "heating", "district_heating", "steam", "热力", "供热"),
    "power": ("power", "electric", "electricity", "电力", "供电"),
    "telecom": ("telecom", "telecommunication", "communication", "fibre", "fiber", "通信", "电信"),
    "oil_gas": ("oil_gas", "oil", "long_distance", "pipeline", "长输", "输油", "输气"),
    "industrial": ("industrial", "工业"),
}
_LOOKUP = {alias: kind for kind, aliases in _ALIASES.items() for alias in aliases}
#: for names that merely contain an alias ("storm_water_main"), the longest alias wins
_BY_LENGTH = sorted(_LOOKUP.items(), key=lambda item: -len(item[0]))


def network_kind(name: str | None) -> str:
    """The canonical kind of a network name (``"Sewer"`` -> ``sewer``, ``"燃气"`` -> ``gas``)."""
    if not name:
        return "unknown"
    text = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if text in _LOOKUP:
        return _LOOKUP[text]
    for alias, kind in _BY_LENGTH:
        if alias in text:
            return kind
    return "unknown"


def palette(name: str | None = None) -> dict[str, str]:
    """The colours of a palette by kind; an unknown name is an error, the default is China's."""
    key = (name or "china").lower()
    if key not in PALETTES:
        raise ValueError(f"unknown palette {name!r} (known: {', '.join(PALETTES)})")
    return PALETTES[key]


def network_color(kind_or_name: str | None, palette_name: str | None = None) -> str:
    """Colour (``#rrggbb``) of a network kind or name in the chosen palette."""
    return palette(palette_name)[network_kind(kind_or_name)]


def legend(palette_name: str | None = None, kinds: list[str] | None = None) -> list[dict[str, str]]:
    """Legend rows ``{kind, label, color}`` -- colour always paired with a label."""
    colours = palette(palette_name)
    wanted = KINDS if kinds is None else [network_kind(k) for k in kinds]
    seen: list[str] = []
    for kind in wanted:
        if kind not in seen:
            seen.append(kind)
    return [{"kind": k, "label": LABELS[k], "color": colours[k]} for k in seen]
