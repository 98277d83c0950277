"""Scene manifests (``scenes/*.toml``): which sources make a scene, where they go, how they look.

The manifest is validated in full before anything loads; a mistake is reported with the
file, the key (``sources[2].placement.offset``) and the problem.  The keys are documented
in the README; unknown keys are errors, so a typo never silently does nothing.
"""

from __future__ import annotations

import math
import re
import stat
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.errors import ManifestError
from twin.geo import MAX_COORDINATE, Placement, UnknownCRS, normalise_crs
from twin.tomltables import TableReader

STYLE_KEYS = {"color", "opacity", "visible"}
SOURCE_KEYS = {"path", "kind", "name", "crs", "placement", "style", "options"}
PLACEMENT_KEYS = {"offset", "rotation", "scale"}
BOOKMARK_KEYS = {"name", "position", "focal_point", "view_up"}
LIVE_KEYS = {"sensors", "rules", "store", "risk_sources", "grids", "plans", "resources", "streets", "grid_layers"}
TOP_KEYS = {"name", "description", "crs", "origin", "sources", "styles", "bookmarks", "live", "palette", "hydraulics"}
#: ``[hydraulics]``: the what-if settings (twin.hydraulics.settings), with the range of each number
HYDRAULIC_NUMBERS = {
    "service_pressure_mpa": (0.0, 2.0),
    "minimum_pressure_mpa": (0.0, 2.0),
    "velocity_factor": (1.0, 1000.0),
    "noise_velocity_m_s": (0.0, 10.0),
    "reach_m": (0.0, 10000.0),
    "at_s": (0.0, 1e7),
    "timeout_s": (0.001, 3600.0),
    "memory_mb": (64.0, 1 << 20),
}
HYDRAULIC_KEYS = {
    *HYDRAULIC_NUMBERS,
    *("service_node_attribute", "service_nodes", "inoperable_valves", "models", "nowcast"),
}
NOWCAST_KEYS = {"model", "rain_gauge", "horizon_s", "step_s", "every_s"}
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$|^[a-z]+$")
#: a manifest is a page of text: anything larger is not one (and is not read into memory)
MAX_MANIFEST_BYTES = 4 << 20
#: tables and arrays nest a few levels in a manifest; deeper is a broken or hostile file
MAX_DEPTH = 32
_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"))


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a data file, or ``None`` when it can.

    Checked before any loader opens it, so that a FIFO never blocks a read and a directory or a
    device never reaches a parser; ``stat`` follows symbolic links, so a link to a file is fine.
    """
    if "\0" in str(path):
        return "the path contains a NUL byte"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "a device")
        return f"is not a regular file but {kind}"
    return None


def _depth(value: Any) -> int:
    """How deeply tables and arrays nest in ``value`` (without recursion, whatever the depth)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


@dataclass
class SourceEntry:
    """One ``[[sources]]`` table."""

    path: Path
    kind: str | None = None
    name: str | None = None
    crs: str | None = None
    placement: Placement = field(default_factory=Placement)
    style: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Bookmark:
    """A named camera, in world coordinates."""

    name: str
    position: tuple[float, float, float]
    focal_point: tuple[float, float, float]
    view_up: tuple[float, float, float] = (0.0, 0.0, 1.0)


@dataclass
class Manifest:
    path: Path
    name: str
    sources: list[SourceEntry]
    description: str = ""
    crs: str | None = None
    origin: tuple[float, float, float] | None = None
    styles: dict[str, dict[str, Any]] = field(default_factory=dict)
    bookmarks: list[Bookmark] = field(default_factory=list)
    live: dict[str, Path] = field(default_factory=dict)
    palette: str = "china"
    hydraulics: dict[str, Any] = field(default_factory=dict)  #: ``[hydraulics]``, checked (:func:`_hydraulics`)


class _Checker(TableReader):
    """Reads values out of the parsed TOML, raising ManifestError with the key path."""

    error = ManifestError

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.manifest = path  # relative source paths resolve against the manifest's folder

    def text(self, value: Any, key: str, empty: bool = False) -> str:
        if not isinstance(value, str) or not (empty or value.strip()):
            raise self.fail(key, "must be a string" if empty else "must be a non-empty string")
        return value

    def number(self, value: Any, key: str, low: float | None = None, high: float | None = None) -> float:
        """A finite number within ``[low, high]``; ``nan``, ``inf`` and 400-digit integers are refused."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, not {_short(value)}")
        number = float(value) if not isinstance(value, int) or abs(value) < 10**300 else math.inf
        if not math.isfinite(number):
            raise self.fail(key, f"must be a finite number, not {_short(value)}")
        if low is not None and number < low:
            raise self.fail(key, f"must be at least {low:g}, not {_short(value)}")
        if high is not None and number > high:
            raise self.fail(key, f"must be at most {high:g}, not {_short(value)}")
        return number

    def vector(self, value: Any, key: str) -> tuple[float, float, float]:
        """World coordinates ``[x, y, z]``, each within +-MAX_COORDINATE."""
        if not isinstance(value, list) or len(value) != 3:
            raise self.fail(key, f"must be a list of 3 numbers, not {_short(value)}")
        x, y, z = (self.number(v, f"{key}[{i}]", -MAX_COORDINATE, MAX_COORDINATE) for i, v in enumerate(value))
        return (x, y, z)

    def file(self, value: Any, key: str, must_exist: bool = True) -> Path:
        """A path relative to the manifest's folder; one to read must be a regular file."""
        path = self.manifest.parent / self.text(value, key)
        problem = file_problem(path) if must_exist else "the path contains a NUL byte" if "\0" in str(path) else None
        if problem:
            shown = str(path).replace("\0", "\\0")  # a NUL byte shown, not printed
            raise self.fail(key, f"{problem}: {shown}")
        return path.resolve()

    def crs(self, value: Any, key: str) -> str:
        """A CRS text pyproj can read (``EPSG:4549``, WKT, a PROJ string), as given."""
        text = self.text(value, key)
        try:
            normalise_crs(text)
        except UnknownCRS as exc:
            raise self.fail(key, str(exc)) from None
        return text

    def tables(self, value: Any, key: str) -> list[Any]:
        """An array of tables (``[[bookmarks]]``): a list, each item checked by the caller."""
        if not isinstance(value, list):
            raise self.fail(key, f"must be an array of tables ([[{key}]]), not {type(value).__name__}")
        return value

    def style(self, value: Any, key: str) -> dict[str, Any]:
        style = dict(self.table(value, key, STYLE_KEYS))
        if "color" in style and not (isinstance(style["color"], str) and _COLOR.match(style["color"])):
            raise self.fail(f"{key}.color", f"must be '#rrggbb' or a colour name, not {style['color']!r}")
        if "opacity" in style:
            style["opacity"] = self.number(style["opacity"], f"{key}.opacity", 0.0, 1.0)
        if "visible" in style and not isinstance(style["visible"], bool):
            raise self.fail(f"{key}.visible", "must be true or false")
        return style


def _short(value: Any) -> str:
    """A value for an error message, cut short (a 5,000-digit number or a huge table stays one line)."""
    text = (
        repr(value)
        if not isinstance(value, int) or abs(value) < 10**40
        else f"a number of some {int(value.bit_length() * math.log10(2)) + 1} digits"
    )
    return text if len(text) <= 60 else f"{text[:57]}..."


def _parse(path: Path) -> dict[str, Any]:
    """The manifest's TOML, refused early if it is not a regular file, too large or nested too deep."""
    problem = file_problem(path)
    if problem:
        raise ManifestError(path, problem)
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ManifestError(path, f"larger than {MAX_MANIFEST_BYTES >> 20} MiB: not a scene manifest")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ManifestError(path, f"not valid TOML ({exc})", where=f"line {line.group(1)}" if line else None) from None
    except UnicodeDecodeError as exc:
        raise ManifestError(path, "not UTF-8 text", where=f"byte {exc.start}") from None
    except RecursionError:  # tomllib reads nested arrays and tables by recursion
        data = None
    except ValueError:  # int() past Python's limit on digits
        digits = sys.get_int_max_str_digits()
        raise ManifestError(path, f"an integer longer than the limit of {digits:,} digits") from None
    if data is None or _depth(data) > MAX_DEPTH:
        raise ManifestError(path, f"tables or arrays nested deeper than the limit of {MAX_DEPTH} levels")
    return data


def read_manifest(path: Path) -> Manifest:
    """Parse and validate a scene manifest."""
    data = _parse(Path(path))  # its errors name the file as given
    path = Path(path).resolve()
    check = _Checker(path)
    check.table(data, "", TOP_KEYS)
    if "name" not in data:
        raise check.fail("name", "missing: every scene needs a name")
    sources = data.get("sources")
    if not isinstance(sources, list) or not sources:
        raise check.fail("sources", "missing: add at least one [[sources]] table with a path")
    palette = data.get("palette", "china")
    if palette not in ("china", "apwa"):
        raise check.fail("palette", f"must be 'china' or 'apwa', not {palette!r}")
    return Manifest(
        path=path,
        name=check.text(data["name"], "name"),
        description=check.text(data["description"], "description", empty=True) if "description" in data else "",
        crs=check.crs(data["crs"], "crs") if "crs" in data else None,
        origin=check.vector(data["origin"], "origin") if "origin" in data else None,
        sources=[_source(check, s, f"sources[{i}]") for i, s in enumerate(sources)],
        styles={name: check.style(s, f"styles.{name}") for name, s in _any_table(check, data, "styles").items()},
        bookmarks=[
            _bookmark(check, b, f"bookmarks[{i}]")
            for i, b in enumerate(check.tables(data.get("bookmarks", []), "bookmarks"))
        ],
        live={
            k: check.file(v, f"live.{k}", must_exist=k != "store")
            for k, v in check.table(data.get("live", {}), "live", LIVE_KEYS).items()
        },
        palette=palette,
        hydraulics=_hydraulics(check, data.get("hydraulics", {})),
    )


def _hydraulics(check: _Checker, value: Any) -> dict[str, Any]:
    """``[hydraulics]`` checked: numbers in range, the service pressure above the minimum,
    building -> node and network -> model tables of strings and files, a list of valve ids."""
    table = dict(check.table(value, "hydraulics", HYDRAULIC_KEYS))
    for key, (low, high) in HYDRAULIC_NUMBERS.items():
        if key in table:
            number = check.number(table[key], f"hydraulics.{key}", low, high)
            table[key] = int(number) if key in ("at_s", "memory_mb") else number
    if table.get("minimum_pressure_mpa", 0.0) >= table.get("service_pressure_mpa", 0.14):
        raise check.fail("hydraulics.minimum_pressure_mpa", "must be below the service pressure")
    if "service_node_attribute" in table:
        key = "hydraulics.service_node_attribute"
        table["service_node_attribute"] = check.text(table["service_node_attribute"], key)
    nodes = _any_table(check, table, "service_nodes", "hydraulics.service_nodes")
    table["service_nodes"] = {b: check.text(n, f"hydraulics.service_nodes.{b}") for b, n in nodes.items()}
    valves = table.get("inoperable_valves", [])
    if not isinstance(valves, list):
        raise check.fail("hydraulics.inoperable_valves", f"must be a list of valve ids, not {_short(valves)}")
    table["inoperable_valves"] = [check.text(v, f"hydraulics.inoperable_valves[{i}]") for i, v in enumerate(valves)]
    models = _any_table(check, table, "models", "hydraulics.models")
    table["models"] = {name: check.file(path, f"hydraulics.models.{name}") for name, path in models.items()}
    if "nowcast" in table:
        nowcast = dict(check.table(table["nowcast"], "hydraulics.nowcast", NOWCAST_KEYS))
        if "model" not in nowcast:
            raise check.fail("hydraulics.nowcast.model", "missing: the SWMM model (.inp) the nowcast runs")
        nowcast["model"] = check.file(nowcast["model"], "hydraulics.nowcast.model")
        if "rain_gauge" in nowcast:
            nowcast["rain_gauge"] = check.text(nowcast["rain_gauge"], "hydraulics.nowcast.rain_gauge")
        for key, high in (("horizon_s", 86400.0), ("step_s", 3600.0), ("every_s", 86400.0)):
            if key in nowcast:
                nowcast[key] = check.number(nowcast[key], f"hydraulics.nowcast.{key}", 1.0, high)
        table["nowcast"] = nowcast
    return table


def _any_table(check: _Checker, data: dict[str, Any], name: str, key: str | None = None) -> dict[str, Any]:
    """A table whose keys are free (``[styles]``: layer names), but a table all the same."""
    value = data.get(name, {})
    return check.table(value, key or name, set(value) if isinstance(value, dict) else set())


def _source(check: _Checker, value: Any, key: str) -> SourceEntry:
    table = check.table(value, key, SOURCE_KEYS)
    if "path" not in table:
        raise check.fail(f"{key}.path", "missing: every source needs a path")
    placement = check.table(table.get("placement", {}), f"{key}.placement", PLACEMENT_KEYS)
    options = _any_table(check, table, "options", f"{key}.options")
    return SourceEntry(
        path=check.file(table["path"], f"{key}.path"),
        kind=check.text(table["kind"], f"{key}.kind") if "kind" in table else None,
        name=check.text(table["name"], f"{key}.name") if "name" in table else None,
        crs=check.crs(table["crs"], f"{key}.crs") if "crs" in table else None,
        placement=Placement(
            offset=check.vector(placement.get("offset", [0, 0, 0]), f"{key}.placement.offset"),
            rotation_deg=check.number(placement.get("rotation", 0), f"{key}.placement.rotation", -360, 360),
            scale=check.number(placement.get("scale", 1), f"{key}.placement.scale", 1e-9, 1e6),
        ),
        style=check.style(table.get("style", {}), f"{key}.style"),
        options=dict(options),
    )


def _bookmark(check: _Checker, value: Any, key: str) -> Bookmark:
    table = check.table(value, key, BOOKMARK_KEYS)
    for required in ("name", "position", "focal_point"):
        if required not in table:
            raise check.fail(f"{key}.{required}", "missing")
    return Bookmark(
        name=check.text(table["name"], f"{key}.name"),
        position=check.vector(table["position"], f"{key}.position"),
        focal_point=check.vector(table["focal_point"], f"{key}.focal_point"),
        view_up=check.vector(table.get("view_up", [0, 0, 1]), f"{key}.view_up"),
    )
