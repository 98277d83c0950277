"""Scene manifests (``scenes/*.toml``): which sources make a scene, where they go, how they look.

The manifest is validated in full before anything loads; a mistake is reported with the
file, the key (``sources[2].placement.offset``) and the problem.  The keys are documented
in the README; unknown keys are errors, so a typo never silently does nothing.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.errors import ManifestError
from twin.geo import Placement
from twin.tomltables import TableReader

STYLE_KEYS = {"color", "opacity", "visible"}
SOURCE_KEYS = {"path", "kind", "name", "crs", "placement", "style", "options"}
PLACEMENT_KEYS = {"offset", "rotation", "scale"}
BOOKMARK_KEYS = {"name", "position", "focal_point", "view_up"}
LIVE_KEYS = {"sensors", "rules", "store", "risk_sources", "grids"}
TOP_KEYS = {"name", "description", "crs", "origin", "sources", "styles", "bookmarks", "live", "palette"}
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$|^[a-z]+$")


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


class _Checker(TableReader):
    """Reads values out of the parsed TOML, raising ManifestError with the key path."""

    error = ManifestError

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.manifest = path  # relative source paths resolve against the manifest's folder

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value

    def number(self, value: Any, key: str, low: float | None = None, high: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, not {value!r}")
        if low is not None and value < low:
            raise self.fail(key, f"must be at least {low}, not {value}")
        if high is not None and value > high:
            raise self.fail(key, f"must be at most {high}, not {value}")
        return float(value)

    def vector(self, value: Any, key: str) -> tuple[float, float, float]:
        if not isinstance(value, list) or len(value) != 3:
            raise self.fail(key, f"must be a list of 3 numbers, not {value!r}")
        x, y, z = (self.number(v, f"{key}[{i}]") for i, v in enumerate(value))
        return (x, y, z)

    def file(self, value: Any, key: str, must_exist: bool = True) -> Path:
        path = (self.manifest.parent / self.text(value, key)).resolve()
        if must_exist and not path.exists():
            raise self.fail(key, f"no such file: {path}")
        return path

    def style(self, value: Any, key: str) -> dict[str, Any]:
        style = dict(self.table(value, key, STYLE_KEYS))
        if "color" in style and not (isinstance(style["color"], str) and _COLOR.match(style["color"])):
            raise self.fail(f"{key}.color", f"must be '#rrggbb' or a colour name, not {style['color']!r}")
        if "opacity" in style:
            style["opacity"] = self.number(style["opacity"], f"{key}.opacity", 0.0, 1.0)
        if "visible" in style and not isinstance(style["visible"], bool):
            raise self.fail(f"{key}.visible", "must be true or false")
        return style


def read_manifest(path: Path) -> Manifest:
    """Parse and validate a scene manifest."""
    path = Path(path).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ManifestError(path, f"not valid TOML ({exc})", where=f"line {line.group(1)}" if line else None) from None
    except UnicodeDecodeError as exc:
        raise ManifestError(path, "not UTF-8 text", where=f"byte {exc.start}") from None
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
        description=str(data.get("description", "")),
        crs=check.text(data["crs"], "crs") if "crs" in data else None,
        origin=check.vector(data["origin"], "origin") if "origin" in data else None,
        sources=[_source(check, s, f"sources[{i}]") for i, s in enumerate(sources)],
        styles={
            name: check.style(s, f"styles.{name}")
            for name, s in check.table(data.get("styles", {}), "styles", set(data.get("styles", {}))).items()
        },
        bookmarks=[_bookmark(check, b, f"bookmarks[{i}]") for i, b in enumerate(data.get("bookmarks", []))],
        live={
            k: check.file(v, f"live.{k}", must_exist=k != "store")
            for k, v in check.table(data.get("live", {}), "live", LIVE_KEYS).items()
        },
        palette=palette,
    )


def _source(check: _Checker, value: Any, key: str) -> SourceEntry:
    table = check.table(value, key, SOURCE_KEYS)
    if "path" not in table:
        raise check.fail(f"{key}.path", "missing: every source needs a path")
    placement = check.table(table.get("placement", {}), f"{key}.placement", PLACEMENT_KEYS)
    options = table.get("options", {})
    check.table(options, f"{key}.options", set(options) if isinstance(options, dict) else set())
    return SourceEntry(
        path=check.file(table["path"], f"{key}.path"),
        kind=check.text(table["kind"], f"{key}.kind") if "kind" in table else None,
        name=check.text(table["name"], f"{key}.name") if "name" in table else None,
        crs=check.text(table["crs"], f"{key}.crs") if "crs" in table else None,
        placement=Placement(
            offset=check.vector(placement.get("offset", [0, 0, 0]), f"{key}.placement.offset"),
            rotation_deg=check.number(placement.get("rotation", 0), f"{key}.placement.rotation", -360, 360),
            scale=check.number(placement.get("scale", 1), f"{key}.placement.scale", 1e-9, None),
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
