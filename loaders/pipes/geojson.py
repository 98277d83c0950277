"""GeoJSON utility layers: LineString/MultiLineString segments, Point nodes (valves, manholes...).

Attributes are mapped with :mod:`loaders.pipes.fields`.  Segments are joined into a network by
their ``from_node``/``to_node`` fields when present, else by snapping their end points to
Point features (or to each other) within ``snap`` (CRS units, default 0.001).  Point nodes may
come from the same file or from a sibling layer named by the option ``nodes``.  A bad feature
is skipped with a warning naming ``feature N`` (0-based index in ``features``); ``strict = true``
makes it an error.  The CRS comes from the legacy ``crs`` member, or is WGS 84 when the
coordinates look like degrees, unless the option ``crs`` says otherwise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loaders.pipes.build import build
from loaders.pipes.fields import FieldMap
from loaders.pipes.model import MAX_COORDINATE, NetworkData, Problems
from loaders.pipes.text import read_text
from twin.errors import InputError
from twin.source import LoadedSource

#: deeper than this, a document is refused before Python's parser recurses into it
MAX_DEPTH = 64
#: longer integers are kept as text (see :func:`_integer`)
MAX_INTEGER_DIGITS = 30


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    data = NetworkData(path=path, format="geojson", network=str(options.get("network", "unknown")))
    problems = Problems(data, options, strict_default=False)
    features = _features(path, options, data)
    node_features: list[tuple[str, dict[str, Any]]] = []
    if options.get("nodes"):
        nodes_path = (path.parent / str(options["nodes"])).resolve()
        node_features = [
            (f"{nodes_path.name} feature {i}", f) for i, f in enumerate(_features(nodes_path, options, data))
        ]
    node_features += [(f"feature {i}", f) for i, f in enumerate(features) if _type(f) == "Point"]
    keys = [k for _, f in node_features for k in _props(f)] + [k for f in features for k in _props(f)]
    try:
        fields = FieldMap(path, options, keys)
    except ValueError as exc:
        raise InputError(path, str(exc)) from None
    data.units = fields.units
    snap = float(options.get("snap", 0.001))
    joiner = _Joiner(data, snap)
    for where, feature in node_features:
        _add_node(data, fields, joiner, feature, where, problems)
    for i, feature in enumerate(features):
        if _type(feature) in ("LineString", "MultiLineString"):
            _add_links(data, fields, joiner, feature, f"feature {i}", problems)
        elif _type(feature) != "Point":
            problems(
                str(i), f"feature {i}", f"geometry {_type(feature)!r} is not a pipe (LineString) or a node (Point)"
            )
    if not data.links and not data.nodes:
        raise InputError(path, "no LineString or Point features", hint="is this a pipe layer?")
    return build(data, options, problems)


def _features(path: Path, options: Mapping[str, Any], data: NetworkData) -> list[dict[str, Any]]:
    text = read_text(path, options, data.warnings)
    _check_depth(path, text)
    try:
        document = json.loads(text, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg}", where=f"line {exc.lineno}") from None
    except RecursionError:
        raise InputError(path, "JSON nested too deeply") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise InputError(path, "not a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise InputError(path, '"features" is not a list')
    if data.crs is None:
        data.crs = _crs(document, features)
    return features


def _integer(digits: str) -> int | str:
    """A JSON integer; one longer than any measurement or id number stays text.

    Python refuses to convert integers of more than 4,300 digits (a guard against slow
    conversions) with a bare ValueError; kept as text, such a value is an id that still reads,
    or a coordinate or size that the checks reject as not finite, naming its feature.
    """
    return int(digits) if len(digits) <= MAX_INTEGER_DIGITS else digits


def _check_depth(path: Path, text: str) -> None:
    """Refuse absurd nesting before json recurses (brackets inside strings may overcount: harmless)."""
    raw = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    step = ((raw == ord("[")) | (raw == ord("{"))).astype(np.int8) - ((raw == ord("]")) | (raw == ord("}")))
    depth = np.cumsum(step, dtype=np.int32)
    too_deep = np.flatnonzero(depth > MAX_DEPTH)
    if len(too_deep):
        line = int(np.count_nonzero(raw[: too_deep[0]] == ord("\n"))) + 1
        raise InputError(path, f"JSON nested more than {MAX_DEPTH} levels deep", where=f"line {line}")


def _crs(document: dict[str, Any], features: list[Any]) -> str | None:
    named = (
        (document.get("crs") or {}).get("properties", {}).get("name") if isinstance(document.get("crs"), dict) else None
    )
    if named:
        text = str(named)
        if "EPSG" in text.upper():
            return "EPSG:" + text.replace("::", ":").split(":")[-1]
        return text
    sample = []
    for position in (c for f in features[:50] for c in _positions(f)[:2]):
        try:
            sample.append(_xy(position))
        except (ValueError, TypeError):
            continue
    if sample and all(abs(x) <= 180 and abs(y) <= 90 for x, y in sample):
        return "EPSG:4326"
    return None


def _type(feature: Any) -> str | None:
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    return geometry.get("type") if isinstance(geometry, dict) else None


def _props(feature: Any) -> dict[str, Any]:
    props = feature.get("properties") if isinstance(feature, dict) else None
    return props if isinstance(props, dict) else {}


def _positions(feature: Any) -> list[Any]:
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if not isinstance(coords, list):
        return []
    if coords and isinstance(coords[0], (int, float)):
        return [coords]
    if coords and coords and isinstance(coords[0], list) and coords[0] and isinstance(coords[0][0], list):
        return [p for part in coords for p in part]
    return coords


def _xy(position: Any) -> tuple[float, float]:
    """A position's x, y: finite and on Earth (anything else is the feature's problem)."""
    if not isinstance(position, list) or len(position) < 2 or isinstance(position[0], list):
        raise ValueError(f"bad position {_short(position)}")
    x, y = float(position[0]), float(position[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"non-finite position {_short(position)}")
    if abs(x) > MAX_COORDINATE or abs(y) > MAX_COORDINATE:
        raise ValueError(f"position out of range ({x:g}, {y:g}): beyond +-{MAX_COORDINATE:g}")
    return x, y


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


class _Joiner:
    """Finds or makes the node at a segment's end point (snapped to a grid of ``snap``)."""

    def __init__(self, data: NetworkData, snap: float) -> None:
        self.data, self.snap = data, snap
        self.at: dict[tuple[int, int], str] = {}

    def key(self, x: float, y: float) -> tuple[int, int]:
        return round(x / self.snap), round(y / self.snap)

    def remember(self, node_id: str, x: float, y: float) -> None:
        self.at.setdefault(self.key(x, y), node_id)

    def node_at(self, x: float, y: float, wanted: str, network: str) -> str:
        from loaders.pipes.model import Node

        if wanted:
            if wanted not in self.data.nodes:
                self.data.nodes[wanted] = Node(wanted, x, y, network=network)
                self.remember(wanted, x, y)
            return wanted
        key = self.key(x, y)
        if key not in self.at:
            node_id = f"n{len(self.data.nodes) + 1}"
            while node_id in self.data.nodes:
                node_id += "'"
            self.data.nodes[node_id] = Node(node_id, x, y, network=network)
            self.at[key] = node_id
        return self.at[key]


def _add_node(
    data: NetworkData, fields: FieldMap, joiner: _Joiner, feature: dict[str, Any], where: str, problems: Problems
) -> None:
    props = _props(feature)
    node_id = fields.text(props, "id") or where.replace(" ", "")
    try:
        x, y = _xy(feature["geometry"]["coordinates"])
        node = fields.node(props, node_id, x, y, where)
    except (ValueError, TypeError, KeyError) as exc:
        problems(node_id, where, f"node {_short(node_id)[1:-1]}: {exc}")
        return
    if node_id in data.nodes:
        problems(node_id, where, f"duplicate node id {node_id!r}")
        return
    data.nodes[node_id] = node
    joiner.remember(node_id, x, y)


def _add_links(
    data: NetworkData, fields: FieldMap, joiner: _Joiner, feature: dict[str, Any], where: str, problems: Problems
) -> None:
    props = _props(feature)
    geometry = feature["geometry"]
    link_id = fields.text(props, "id") or where.replace(" ", "")
    coords = geometry.get("coordinates")
    parts = [coords] if geometry["type"] == "LineString" else coords
    if not isinstance(parts, list) or not parts:
        problems(link_id, where, f"segment {_short(link_id)[1:-1]}: no coordinates")
        return
    for k, part in enumerate(parts):
        part_id = link_id if len(parts) == 1 else f"{link_id}#{k + 1}"
        try:
            if not isinstance(part, list) or len(part) < 2:
                raise ValueError("a line needs at least two positions")
            xy = [_xy(p) for p in part]
            network = fields.text(props, "network")
            start = joiner.node_at(*xy[0], fields.text(props, "from_node") if k == 0 else "", network)
            end = joiner.node_at(*xy[-1], fields.text(props, "to_node") if k == len(parts) - 1 else "", network)
            link = fields.link(props, part_id, start, end, where)
        except (ValueError, TypeError) as exc:
            problems(part_id, where, f"segment {_short(part_id)[1:-1]}: {exc}")
            continue
        link.vertices = xy[1:-1]
        if len(parts) > 1:
            link.length = math.nan  # the stated length is the whole feature's
        data.links.append(link)
