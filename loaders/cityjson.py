"""CityJSON 1.0-2.0 city models and CityJSONSeq streams: every city object an asset.

Vertices are integers with a ``transform`` (scale, translate) applied in float64 (1.0 files
may have plain coordinates instead).  Each object contributes its geometry at one LoD (the
highest, or the one closest to ``options["lod"]``), with its semantic surfaces (roof, wall,
ground, ...) as a per-cell ``surface`` code; the codes' names are ``details["surface_types"]``.
Objects become one merged triangle mesh per type (:mod:`loaders.city_mesh`), parts
(``BuildingPart`` ...) in their parent's layer, with asset columns ``parent``, ``children``
(count), ``height_m``, ``lod`` and the object's scalar attributes.

A CityJSONSeq (``.city.jsonl``) stream is a ``CityJSON`` header line followed by one
``CityJSONFeature`` per line, each with its own vertex list; it loads the same way.
"""

from __future__ import annotations

import gc
import json
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from loaders.city_mesh import CityObjects, build_parts, flatten
from twin.errors import InputError
from twin.geo import MAX_COORDINATE
from twin.source import LoadedSource

#: how many levels of lists lie between a geometry's boundaries and its surfaces
SURFACE_DEPTH = {"MultiSurface": 0, "CompositeSurface": 0, "Solid": 1, "MultiSolid": 2, "CompositeSolid": 2}
NON_SURFACE = {"MultiPoint", "MultiLineString"}
#: the versions this loader was written against (1.0.x files carry a patch number)
KNOWN_VERSIONS = ("1.0", "1.1", "2.0")


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    with _gc_paused():
        return _load(Path(path), options)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of JSON lists are made and walked.

    They hold no cycles, yet each generation-2 pass traverses them all: measured, ``json.load``
    of a 7 MB tile took 1.1-1.3 s with the collector on and 0.5-0.6 s with it paused.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    lod = options.get("lod")
    if lod is not None and not isinstance(lod, (int, float)) and not str(lod).replace(".", "", 1).isdigit():
        raise InputError(path, f"lod must be a number such as 1, 2 or 2.2, not {lod!r}", where="options.lod")
    header, features = _read(path)
    transform = _transform(path, header)
    objects = CityObjects()
    skipped: list[dict[str, str]] = []
    ignored: Counter[str] = Counter()
    store = _VertexStore()
    templates = _templates(path, header)
    for where, feature in features:
        raw = _raw_vertices(path, feature, where)
        world = raw if transform is None else raw * transform[0] + transform[1]
        _check_vertices(path, world, where)
        block = store.add(world)
        _add_objects(objects, feature, (block, world), store, templates, options.get("lod"), skipped, ignored)
    points = np.concatenate(store.blocks) if store.blocks else np.empty((0, 3))
    flat, bad = flatten(objects)
    skipped += [{"id": objects.ids[i], "reason": reason} for i, reason in sorted(bad.items())]
    if skipped and len(bad) == len(objects.ids):
        first = skipped[0]  # nothing at all could be read: the file is broken, not one object
        raise InputError(path, first["reason"], where=f'CityObjects["{first["id"]}"]')
    parts = build_parts(points, objects, flat, exclude=set(bad))
    return LoadedSource(
        path=path,
        kind="city",
        parts=parts,
        crs=_crs(header),
        warnings=_version_warnings(header) + _warnings(skipped, ignored),
        skipped=skipped,
        details=_details(header, objects, bad, features_read=store.features),
    )


def _read(path: Path) -> tuple[dict[str, Any], Iterator[tuple[str, dict[str, Any]]]]:
    """The header document and its features (the document itself for plain CityJSON)."""
    try:
        raw = path.read_bytes()  # once: a minified CityJSON is one long line
        end = raw.find(b"\n")
        first_line, after = (raw, b"") if end < 0 else (raw[: end + 1], raw[end + 1 : end + 65].lstrip())
        if first_line.rstrip().endswith(b"}") and after.startswith(b"{"):
            lines = raw.decode("utf-8").splitlines()
            header = _json(path, lines[0], "line 1")
            _expect(path, header, "CityJSON", "line 1")
            return header, _sequence(path, header, lines)
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", where=f"line {exc.lineno}") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, "not UTF-8 text", where=f"byte {exc.start}") from None
    except (RecursionError, ValueError) as exc:
        raise _limit_error(path, exc, None) from None
    _expect(path, document, "CityJSON", None)
    return document, iter([("vertices", document)])


def _sequence(path: Path, header: dict[str, Any], lines: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "line 1", header
    for number, line in enumerate(lines[1:], start=2):
        if line.strip():
            feature = _json(path, line, f"line {number}")
            _expect(path, feature, "CityJSONFeature", f"line {number}")
            yield f"line {number}", feature


def _json(path: Path, text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", where=where) from None
    except (RecursionError, ValueError) as exc:
        raise _limit_error(path, exc, where) from None


def _limit_error(path: Path, exc: Exception, where: str | None) -> InputError:
    """The reader's own limits, named: nesting (Python's recursion limit) and integer length."""
    if isinstance(exc, RecursionError):
        return InputError(
            path, f"JSON nested deeper than the reader's limit (about {sys.getrecursionlimit()} levels)", where
        )
    digits = sys.get_int_max_str_digits()
    return InputError(path, f"a number longer than the limit of {digits:,} digits ({exc})", where)


def _expect(path: Path, document: Any, kind: str, where: str | None) -> None:
    if not isinstance(document, dict) or document.get("type") != kind:
        raise InputError(path, f'not a {kind} object (no "type": "{kind}")', where=where)
    if not isinstance(document.get("CityObjects", {}), dict):
        raise InputError(path, '"CityObjects" must be an object', where=where)


def _transform(path: Path, header: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    transform = header.get("transform")
    if transform is None:
        if not str(header.get("version", "")).startswith("1.0"):
            raise InputError(path, 'missing "transform" (required since CityJSON 1.1)', where="transform")
        return None
    try:
        scale = np.asarray(transform["scale"], dtype=np.float64).reshape(3)
        translate = np.asarray(transform["translate"], dtype=np.float64).reshape(3)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise InputError(path, '"transform" needs "scale" and "translate" of 3 numbers', where="transform") from None
    if not (np.isfinite(scale).all() and np.isfinite(translate).all()) or not scale.all():
        raise InputError(
            path, '"scale" must be non-zero and finite, "translate" finite (not NaN or infinity)', where="transform"
        )
    return scale, translate


def _check_vertices(path: Path, world: np.ndarray, where: str) -> None:
    """Refuse NaN, infinite or absurd world coordinates, naming the first such vertex."""
    if not len(world):
        return
    bad = ~(np.abs(world) <= MAX_COORDINATE).all(axis=1)  # NaN compares false: caught too
    if bad.any():
        first = int(np.argmax(bad))
        place = f"vertices[{first}]" if where == "vertices" else f"{where}: vertices[{first}]"
        raise InputError(
            path,
            f"{int(bad.sum()):,} vertices are NaN, infinite or beyond +-{MAX_COORDINATE:g} once transformed "
            f"(first: {world[first].tolist()})",
            where=place,
        )


def _raw_vertices(path: Path, document: dict[str, Any], where: str) -> np.ndarray:
    vertices = document.get("vertices") or []
    try:
        if not isinstance(vertices, list) or set(map(len, vertices)) - {3}:
            raise ValueError("not [x, y, z]")
        flat = np.fromiter(chain.from_iterable(vertices), dtype=np.float64, count=3 * len(vertices))
        return flat.reshape(-1, 3)
    except (TypeError, ValueError, OverflowError):
        raise InputError(path, '"vertices" must be a list of [x, y, z] numbers', where=where) from None


def _crs(header: dict[str, Any]) -> str | None:
    reference = (header.get("metadata") or {}).get("referenceSystem")
    if not reference:
        return None
    # "https://www.opengis.net/def/crs/EPSG/0/7415" or "urn:ogc:def:crs:EPSG::7415"
    code = str(reference).rstrip("/").replace("::", "/").split("/")[-1].split(":")[-1]
    return f"EPSG:{code}" if code.isdigit() else str(reference)


class _VertexStore:
    """World vertices in blocks: one per document or feature, one per geometry instance."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.size = 0
        self.features = 0

    def add(self, world: np.ndarray, feature: bool = True) -> tuple[int, int]:
        self.blocks.append(world)
        self.size += len(world)
        self.features += feature
        return self.size - len(world), self.size


def _templates(path: Path, header: dict[str, Any]) -> tuple[list[Any], np.ndarray]:
    """Geometry templates and their vertices (real coordinates, not transformed)."""
    section = header.get("geometry-templates") or {}
    return section.get("templates") or [], _raw_vertices(
        path, {"vertices": section.get("vertices-templates")}, "geometry-templates"
    )


def _add_objects(
    objects: CityObjects,
    document: dict[str, Any],
    block: tuple[tuple[int, int], np.ndarray],
    store: _VertexStore,
    templates: tuple[list[Any], np.ndarray],
    lod_wanted: Any,
    skipped: list[dict[str, str]],
    ignored: Counter[str],
) -> None:
    for object_id, city_object in document.get("CityObjects", {}).items():
        if not isinstance(city_object, dict):
            skipped.append({"id": object_id, "reason": "not a JSON object"})
            continue
        vertices = block[0]
        try:
            geometry = _choose(city_object.get("geometry") or [], lod_wanted, ignored, templates[0])
            if geometry is not None and "_instance" in geometry:
                vertices = store.add(_instance_vertices(geometry["_instance"], templates[1], block[1]), False)
            surfaces, types, values = _surfaces(geometry) if geometry else ([], [], None)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            skipped.append(
                {
                    "id": object_id,
                    "reason": str(exc)
                    if isinstance(exc, ValueError)
                    else f"malformed geometry ({type(exc).__name__}: {exc})",
                }
            )
            continue
        parents = city_object.get("parents") or []
        objects.add(
            object_id,
            str(city_object.get("type", "GenericCityObject")),
            attributes=city_object.get("attributes") or {},
            parent=str(parents[0]) if parents else "",
            children=len(city_object.get("children") or []),
            address=_address(city_object),
            lod=str(geometry.get("lod", "")) if geometry else "",
            surfaces=surfaces,
            semantic_types=types,
            semantic_values=values,
            vertices=vertices,
        )


def _instance_vertices(instance: dict[str, Any], template_vertices: np.ndarray, world: np.ndarray) -> np.ndarray:
    """A template's vertices placed by the instance: matrix, then its reference point (of ``world``)."""
    reference = int(instance["boundaries"][0])
    if not 0 <= reference < len(world):
        raise ValueError(f"vertex index {reference} out of range (reference point of a GeometryInstance)")
    matrix = np.asarray(instance.get("transformationMatrix", np.eye(4).ravel()), dtype=np.float64).reshape(4, 4)
    result: np.ndarray = template_vertices @ matrix[:3, :3].T + matrix[:3, 3] + world[reference]
    return result


def _lod(geometry: dict[str, Any]) -> float:
    try:
        return float(geometry.get("lod", 0))
    except (TypeError, ValueError):
        return 0.0


def _choose(
    geometries: list[Any], lod_wanted: Any, ignored: Counter[str], templates: list[Any]
) -> dict[str, Any] | None:
    """The geometry at the wanted LoD (else the highest below it, else the lowest above), or the highest.

    A GeometryInstance stands for its template (with ``_instance`` pointing back at it).
    """
    if len(geometries) == 1 and geometries[0].get("type") in SURFACE_DEPTH:
        first: dict[str, Any] = geometries[0]  # the common case, whatever LoD was wanted
        return first
    usable: list[dict[str, Any]] = []
    for geometry in geometries:
        kind = geometry.get("type")
        if kind in SURFACE_DEPTH:
            usable.append(geometry)
        elif (
            kind == "GeometryInstance"
            and isinstance(geometry.get("template"), int)
            and 0 <= geometry["template"] < len(templates)
            and templates[geometry["template"]].get("type") in SURFACE_DEPTH
        ):
            usable.append({**templates[geometry["template"]], "_instance": geometry})
        elif kind == "GeometryInstance" or kind in NON_SURFACE:
            ignored[kind] += 1
        else:
            raise ValueError(f"unknown geometry type {kind!r}")
    if not usable:
        return None
    if lod_wanted is None:
        return max(usable, key=_lod)
    wanted = float(lod_wanted)
    return min(usable, key=lambda g: (_lod(g) > wanted, abs(_lod(g) - wanted)))


def _surfaces(geometry: dict[str, Any]) -> tuple[list[Any], list[str], list[Any] | None]:
    """The geometry's surfaces (lists of rings), its semantic surface types and their index per surface."""
    depth = SURFACE_DEPTH[geometry["type"]]
    surfaces = geometry.get("boundaries") or []
    for _ in range(depth):
        surfaces = list(chain.from_iterable(surfaces))
    semantics = geometry.get("semantics")
    if not semantics or not semantics.get("values"):
        return surfaces, [], None
    types = [s.get("type") for s in semantics.get("surfaces") or []]
    values = semantics["values"]
    for _ in range(depth):
        values = list(chain.from_iterable(v or [] for v in values))
    return surfaces, types, values


def _address(city_object: dict[str, Any]) -> str:
    """A one-line address: the attribute ``address`` or CityJSON 2.0's structured ``address``."""
    attributes = city_object.get("attributes") or {}
    if isinstance(attributes.get("address"), (str, int)):
        return str(attributes["address"])
    addresses = city_object.get("address")
    if not isinstance(addresses, list) or not addresses or not isinstance(addresses[0], dict):
        return ""
    a = addresses[0]
    street = " ".join(str(a[k]) for k in ("ThoroughfareName", "ThoroughfareNumber") if a.get(k))
    town = " ".join(str(a[k]) for k in ("PostalCode", "LocalityName") if a.get(k))
    return ", ".join(x for x in (street, town, str(a.get("CountryName") or "")) if x)


def _version_warnings(header: dict[str, Any]) -> list[str]:
    """A version this loader was not written for is read as the nearest it knows, and said so.

    Refusing it would lose a file that is most likely still readable (CityJSON changes little
    between versions); reading it silently would hide why a newer construct went missing.
    """
    version = header.get("version")
    if version is None:
        return [f'no "version" (required by CityJSON): read as CityJSON {KNOWN_VERSIONS[-1]}']
    if not any(str(version) == known or str(version).startswith(known + ".") for known in KNOWN_VERSIONS):
        return [
            f"version: CityJSON {str(version)[:20]!r} is not one this loader knows "
            f"({', '.join(KNOWN_VERSIONS)}): read as CityJSON {KNOWN_VERSIONS[-1]}"
        ]
    return []


def _warnings(skipped: list[dict[str, str]], ignored: Counter[str]) -> list[str]:
    warnings = (
        [f"{len(skipped)} city objects skipped (see skipped): first {skipped[0]['id']}: {skipped[0]['reason']}"]
        if skipped
        else []
    )
    warnings += [f"{n} {kind} geometries not drawn (not supported)" for kind, n in sorted(ignored.items())]
    return warnings


def _details(header: dict[str, Any], objects: CityObjects, bad: dict[int, str], features_read: int) -> dict[str, Any]:
    loaded = [k for i, k in enumerate(objects.kinds) if i not in bad]
    details = {
        "version": header.get("version"),
        "objects": dict(sorted(Counter(loaded).items())),
        "lods": dict(sorted(Counter(lod for lod in objects.lods if lod).items())),
        "surface_types": list(objects.surface_types),
        "reference_system": (header.get("metadata") or {}).get("referenceSystem"),
    }
    if header.get("type") == "CityJSON" and features_read > 1:
        details["features"] = features_read - 1
    return details
