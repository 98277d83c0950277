"""A deterministic corpus of malformed inputs, made from the real samples in ``data_samples/``.

Every case is a :class:`Case`: a class of damage (``truncate``, ``flip``, ``nesting``, ``number``,
``non_finite``, ``wrong_type``, ``header_lie``, ``huge_size``, ``not_regular``, ``manifest``), the
loader kind it aims at, and a ``build(folder) -> Path`` that writes the input.  The same seed
gives the same bytes on every machine, so a failure found once is found again; a new loader
joins the net by adding its sample to :data:`SAMPLES`.

``cases(sweep=False)`` is the standing set the suite runs; ``sweep=True`` adds more seeds and
positions (the slow sweep).
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data_samples"

#: one or two real samples per loader kind and format (small, so a case loads in a second)
SAMPLES: dict[str, tuple[str, Path]] = {
    "cityjson": ("city", DATA / "city" / "DH_01_subs.city.json"),
    "citygml": ("city", DATA / "city" / "Building_LOD2-EPSG25832.gml"),
    "terrain": ("terrain", DATA / "terrain" / "coastal_ky4_storm_surge.tif"),
    "las": ("pointcloud", DATA / "pointcloud" / "simple1_3.las"),
    "laz": ("pointcloud", DATA / "pointcloud" / "simple.laz"),
    "epanet": ("pipes", DATA / "pipes" / "Net1.inp"),
    "swmm": ("pipes", DATA / "pipes" / "site_drainage_model.inp"),
    "landxml": ("pipes", DATA / "pipes" / "DrainageSystem-1-1.xml"),
    "geojson": ("pipes", DATA / "demo" / "pipes_power.geojson"),
    "ifc": ("ifc", DATA / "ifc" / "basic.ifc"),
}
TEXT = {"cityjson", "citygml", "epanet", "swmm", "landxml", "geojson", "ifc"}
JSON = {"cityjson", "geojson"}
XML = {"citygml", "landxml"}
NUMBER = re.compile(rb"(?<![\w.#'])-?\d+\.\d*(?:[eE][+-]?\d+)?(?![\w.])")
ANY_NUMBER = re.compile(rb"(?<![\w.#'])-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?(?![\w.])")
#: where each text format keeps its coordinates: numbers just after these are the ones to spoil
COORDINATES = {
    "cityjson": b'"vertices":',
    "geojson": b'"coordinates":',
    "citygml": b"posList",
    "landxml": b"<Center>",
    "epanet": b"[COORDINATES]",
    "swmm": b"[COORDINATES]",
    "ifc": b"IFCCARTESIANPOINT((",
}
#: spellings of the non-finite numbers each text format's parser is most likely to accept
NON_FINITE = {"json": (b"NaN", b"Infinity", b"-Infinity"), "text": (b"nan", b"inf", b"-inf")}
HUGE = (b"1e308", b"-1e308", b"1e400", b"9" * 5000)
DEEP = 100_000


@dataclass(frozen=True)
class Case:
    """One malformed input: its class, the kind it targets, an id, and how to write it."""

    klass: str
    kind: str
    name: str
    build: Callable[[Path], Path]

    @property
    def id(self) -> str:
        return f"{self.klass}-{self.name}"


def _writer(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return build


def _file_name(sample: Path, tag: str) -> str:
    """A file name with the sample's full suffix (``.city.json``), so the same loader is picked."""
    stem, _, suffix = sample.name.partition(".")
    return f"{stem}-{tag}.{suffix}"


# -- damage that fits every format ---------------------------------------------------------------
def truncations(fractions: tuple[float, ...]) -> Iterator[Case]:
    for label, (kind, sample) in SAMPLES.items():
        raw = sample.read_bytes()
        for fraction in fractions:
            tag = f"{label}-{fraction:g}"
            yield Case("truncate", kind, tag, _writer(_file_name(sample, tag), raw[: int(len(raw) * fraction)]))


def byte_flips(seeds: range, flips: int = 16) -> Iterator[Case]:
    """``flips`` bytes inverted at seeded positions (the first 512 bytes always get some: headers)."""
    for label, (kind, sample) in SAMPLES.items():
        raw = sample.read_bytes()
        for seed in seeds:
            rng = random.Random(f"{label}-{seed}")
            data = bytearray(raw)
            for i in range(flips):
                top = min(len(data), 512) if i % 2 else len(data)
                data[rng.randrange(top)] ^= 0xFF
            tag = f"{label}-{seed}"
            yield Case("flip", kind, tag, _writer(_file_name(sample, tag), bytes(data)))


def non_regular(folder_kinds: tuple[str, ...] = ("cityjson", "las", "terrain", "epanet", "ifc")) -> Iterator[Case]:
    """Directories, FIFOs, devices and links named like data files: refused at once, never opened."""
    for label in folder_kinds:
        kind, sample = SAMPLES[label]
        name = _file_name(sample, "special")
        yield Case("not_regular", kind, f"{label}-directory", lambda f, n=name: _made(f / n, os.mkdir))
        yield Case("not_regular", kind, f"{label}-fifo", lambda f, n=name: _made(f / n, os.mkfifo))
        yield Case("not_regular", kind, f"{label}-dev-zero", lambda f, n=name: _link(f / n, Path("/dev/zero")))
        yield Case("not_regular", kind, f"{label}-dangling-link", lambda f, n=name: _link(f / n, f / "nowhere"))
        yield Case("not_regular", kind, f"{label}-link-to-dir", lambda f, n=name: _link(f / n, f))
        yield Case("not_regular", kind, f"{label}-empty", _writer(name, b""))


def _made(path: Path, make: Callable[[Path], None]) -> Path:
    make(path)
    return path


def _link(path: Path, target: Path) -> Path:
    path.symlink_to(target)
    return path


# -- damage to text formats ----------------------------------------------------------------------
def _numbers(raw: bytes) -> list[re.Match[bytes]]:
    return list(NUMBER.finditer(raw))


def _replace_number(raw: bytes, rng: random.Random, value: bytes, near: bytes | None = None) -> bytes:
    """The text with one seeded decimal number (a coordinate, a scale, a length) replaced.

    With ``near``, one of the first numbers after that marker (a coordinate) instead.
    """
    at = raw.find(near) if near else -1
    found = list(ANY_NUMBER.finditer(raw, at, at + 400)) if at >= 0 else _numbers(raw)
    if not found:
        return raw + b" " + value
    match = found[rng.randrange(len(found))]
    return raw[: match.start()] + value + raw[match.end() :]


def number_cases(seeds: range) -> Iterator[Case]:
    """NaN, infinities, 1e308, 1e400 and a 5,000-digit integer where the file has a number."""
    for label in sorted(TEXT):
        kind, sample = SAMPLES[label]
        raw = sample.read_bytes()
        non_finite = NON_FINITE["json" if label in JSON else "text"]
        for seed in seeds:
            for klass, values in (("non_finite", non_finite), ("number", HUGE)):
                for i, value in enumerate(values):
                    for where, near in (("any", None), ("xyz", COORDINATES[label])):
                        rng = random.Random(f"{label}-{seed}-{i}")
                        tag = f"{label}-{seed}-{where}-{value[:8].decode()}"
                        data = _replace_number(raw, rng, value, near)
                        yield Case(klass, kind, tag, _writer(_file_name(sample, tag), data))


def nesting_cases() -> Iterator[Case]:
    """Arrays or elements nested 100,000 deep where the format nests (JSON, XML, STEP lists)."""
    deep_json = b"[" * DEEP + b"]" * DEEP
    for label in sorted(JSON):
        kind, sample = SAMPLES[label]
        raw = sample.read_bytes()
        key = b'"vertices":' if label == "cityjson" else b'"coordinates":'
        at = raw.find(key) + len(key)
        end = raw.find(b"]]", at) + 2
        data = raw[:at] + deep_json + raw[end:]
        yield Case("nesting", kind, f"{label}-array", _writer(_file_name(sample, "deep"), data))
    for label in sorted(XML):
        kind, sample = SAMPLES[label]
        raw = sample.read_bytes()
        close = raw.find(b">", raw.find(b"<", raw.find(b"?>") + 2)) + 1  # inside the root element
        data = raw[:close] + b"<a>" * DEEP + b"</a>" * DEEP + raw[close:]
        yield Case("nesting", kind, f"{label}-elements", _writer(_file_name(sample, "deep"), data))
    kind, sample = SAMPLES["ifc"]
    raw = sample.read_bytes()
    at = raw.find(b"=IFCCARTESIANPOINT(") + len(b"=IFCCARTESIANPOINT(")
    data = raw[:at] + b"(" * DEEP + b")" * DEEP + b"," + raw[at:]
    yield Case("nesting", kind, "ifc-lists", _writer(_file_name(sample, "deep"), data))


def _json_slots(document: object, limit: int = 400) -> list[tuple[object, object]]:
    """(container, key) of the first values of a JSON document, breadth first."""
    slots: list[tuple[object, object]] = []
    queue = [document]
    while queue and len(slots) < limit:
        node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in list(items)[:8]:
            slots.append((node, key))
            queue.append(value)
    return slots


WRONG = (5, "text", None, [], {}, True, -1)


def wrong_type_cases(seeds: range) -> Iterator[Case]:
    """A seeded JSON value (a key's or a list item's) given another type; numbers in text made words."""
    for label in sorted(JSON):
        kind, sample = SAMPLES[label]
        for seed in seeds:
            rng = random.Random(f"{label}-{seed}")
            document = json.loads(sample.read_bytes())
            slots = _json_slots(document)
            for _ in range(3):
                container, key = slots[rng.randrange(len(slots))]
                container[key] = WRONG[rng.randrange(len(WRONG))]  # type: ignore[index]
            tag = f"{label}-{seed}"
            yield Case("wrong_type", kind, tag, _writer(_file_name(sample, tag), json.dumps(document).encode()))
    for label in sorted(TEXT - JSON):
        kind, sample = SAMPLES[label]
        raw = sample.read_bytes()
        for seed in seeds:
            rng = random.Random(f"{label}-{seed}")
            data = _replace_number(_replace_number(raw, rng, b"abc"), rng, b"'x'")
            tag = f"{label}-{seed}"
            yield Case("wrong_type", kind, tag, _writer(_file_name(sample, tag), data))


# -- header lies and huge declared sizes ---------------------------------------------------------
def _patch(raw: bytes, offset: int, fmt: str, value: float | int) -> bytes:
    data = bytearray(raw)
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


#: LAS header fields (offset, struct format, lie) from the LAS 1.0-1.4 public header block
LAS_LIES = {
    "point-count-x1000": (107, "<I", None),
    "point-count-max": (107, "<I", 2**32 - 1),
    "offset-to-points-past-end": (96, "<I", 2**31),
    "header-size-0": (94, "<H", 0),
    "vlr-count-max": (100, "<I", 2**32 - 1),
    "point-format-99": (104, "<B", 99),
    "record-length-0": (105, "<H", 0),
    "record-length-max": (105, "<H", 65535),
    "scale-x-nan": (131, "<d", float("nan")),
    "scale-x-0": (131, "<d", 0.0),
    "scale-x-1e308": (131, "<d", 1e308),
    "offset-x-inf": (155, "<d", float("inf")),
    "offset-y-1e308": (163, "<d", 1e308),
    "max-x-nan": (179, "<d", float("nan")),
}


def las_lies() -> Iterator[Case]:
    for label in ("las", "laz"):
        kind, sample = SAMPLES[label]
        raw = sample.read_bytes()
        for lie, (offset, fmt, value) in LAS_LIES.items():
            if value is None:
                value = struct.unpack_from(fmt, raw, offset)[0] * 1000
            klass = "huge_size" if "count" in lie or "max" in lie and "nan" not in lie else "header_lie"
            tag = f"{label}-{lie}"
            yield Case(klass, kind, tag, _writer(_file_name(sample, tag), _patch(raw, offset, fmt, value)))


def _tiff_tag(raw: bytes, tag: int, value: int) -> bytes:
    """A little-endian TIFF with one tag of its first IFD rewritten as a LONG ``value``."""
    data = bytearray(raw)
    first = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, first)[0]):
        entry = first + 2 + 12 * i
        if struct.unpack_from("<H", data, entry)[0] == tag:
            struct.pack_into("<HI", data, entry + 2, 4, 1)
            struct.pack_into("<I", data, entry + 8, value)
    return bytes(data)


#: TIFF tags: 256 ImageWidth, 257 ImageLength, 258 BitsPerSample, 273 StripOffsets, 279 StripByteCounts
TIFF_LIES = {
    "width-2e9": (256, 2_000_000_000, "huge_size"),
    "height-2e9": (257, 2_000_000_000, "huge_size"),
    "width-900000": (256, 900_000, "huge_size"),
    "bits-0": (258, 0, "header_lie"),
    "bits-7": (258, 7, "header_lie"),
    "strip-offset-past-end": (273, 2**31, "header_lie"),
    "strip-bytes-4e9": (279, 4_000_000_000, "huge_size"),
    "tile-offset-past-end": (324, 2**31, "header_lie"),
    "tile-bytes-4e9": (325, 4_000_000_000, "huge_size"),
    "tile-width-0": (322, 0, "header_lie"),
    "samples-per-pixel-9999": (277, 9999, "huge_size"),
}


def tiff_lies() -> Iterator[Case]:
    kind, sample = SAMPLES["terrain"]
    raw = sample.read_bytes()
    for lie, (tag, value, klass) in TIFF_LIES.items():
        name = _file_name(sample, lie)
        yield Case(klass, kind, f"terrain-{lie}", _writer(name, _tiff_tag(raw, tag, value)))


def text_lies() -> Iterator[Case]:
    """Claims a text file makes about itself: a STEP schema, a CityJSON version, a CRS."""
    kind, sample = SAMPLES["ifc"]
    raw = sample.read_bytes()
    lies = {
        "ifc-schema-IFC9": re.sub(rb"FILE_SCHEMA\(\('[^']*'\)\)", b"FILE_SCHEMA(('IFC9'))", raw),
        "ifc-dangling-ref": re.sub(rb"#(\d+)\)", b"#9999999)", raw, count=3),
    }
    kind_city, city = SAMPLES["cityjson"]
    document = json.loads(city.read_bytes())
    for tag, change in {
        "cityjson-version-9": {"version": "9.9"},
        "cityjson-crs-unknown": {"metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/999999"}},
        "cityjson-scale-0": {"transform": {"scale": [0, 0, 0], "translate": [0, 0, 0]}},
    }.items():
        yield Case(
            "header_lie", kind_city, tag, _writer(_file_name(city, tag), json.dumps({**document, **change}).encode())
        )
    for tag, data in lies.items():
        yield Case("header_lie", kind, tag, _writer(_file_name(sample, tag), data))


# -- manifests -----------------------------------------------------------------------------------
def _manifest(body: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / "scene.toml"
        path.write_text(body.replace("{DIR}", str(folder)), encoding="utf-8")
        return path

    return build


BASE_SOURCE = f'[[sources]]\npath = "{SAMPLES["cityjson"][1]}"\n'
MANIFEST_BASE = f'name = "fuzz"\n{BASE_SOURCE}'


def manifest_cases() -> Iterator[Case]:
    """Manifests with each kind of mistake: types, numbers, CRSs, paths, nesting, the file itself."""
    bad_numbers = ("nan", "inf", "-inf", "1e308", "-1e308", "9" * 5000)
    top: dict[str, str] = {
        "name-int": "name = 5\n" + BASE_SOURCE,
        "name-missing": BASE_SOURCE,
        "sources-int": 'name = "x"\nsources = 5\n',
        "sources-of-ints": 'name = "x"\nsources = [5, 6]\n',
        "sources-empty": 'name = "x"\nsources = []\n',
        "bookmarks-int": "bookmarks = 5\n" + MANIFEST_BASE,
        "bookmarks-of-ints": "bookmarks = [5]\n" + MANIFEST_BASE,
        "styles-int": "styles = 5\n" + MANIFEST_BASE,
        "styles-of-ints": "styles = { a = 5 }\n" + MANIFEST_BASE,
        "live-int": "live = 5\n" + MANIFEST_BASE,
        "palette-int": "palette = 5\n" + MANIFEST_BASE,
        "origin-text": 'origin = "here"\n' + MANIFEST_BASE,
        "origin-two": "origin = [1, 2]\n" + MANIFEST_BASE,
        "description-table": "description = { a = 1 }\n" + MANIFEST_BASE,
        "unknown-key": "colour = 1\n" + MANIFEST_BASE,
        "deep-array": "x = " + "[" * DEEP + "]" * DEEP + "\n" + MANIFEST_BASE,
        "deep-inline-tables": "x = " + "{ a = " * 2000 + "1" + " }" * 2000 + "\n" + MANIFEST_BASE,
        "options-deep": MANIFEST_BASE + "options = { lod = " + "[" * 500 + "]" * 500 + " }\n",
        "options-unknown": MANIFEST_BASE + "options = { nonsense = 1 }\n",
        "options-int": MANIFEST_BASE + "options = 5\n",
        "placement-int": MANIFEST_BASE + "placement = 5\n",
        "style-opacity-text": MANIFEST_BASE + 'style = { opacity = "high" }\n',
        "style-color-int": MANIFEST_BASE + "style = { color = 5 }\n",
        "kind-unknown": MANIFEST_BASE + 'kind = "hologram"\n',
        "kind-int": MANIFEST_BASE + "kind = 5\n",
    }
    for value in bad_numbers:
        short = value[:6]
        top[f"origin-{short}"] = f"origin = [{value}, 0, 0]\n" + MANIFEST_BASE
        top[f"offset-{short}"] = MANIFEST_BASE + f"placement = {{ offset = [0, {value}, 0] }}\n"
        top[f"scale-{short}"] = MANIFEST_BASE + f"placement = {{ scale = {value} }}\n"
        top[f"rotation-{short}"] = MANIFEST_BASE + f"placement = {{ rotation = {value} }}\n"
        top[f"opacity-{short}"] = MANIFEST_BASE + f"style = {{ opacity = {value} }}\n"
        top[f"bookmark-{short}"] = MANIFEST_BASE + (
            f'[[bookmarks]]\nname = "b"\nposition = [{value}, 0, 0]\nfocal_point = [0, 0, 0]\n'
        )
    for label, crs in {
        "unknown-epsg": "EPSG:999999",
        "proj-string": "+proj=tmerc +lon_0=117 +x_0=500000 +ellps=GRS80 +units=m",
        "bad-proj": "+proj=nonsense",
        "garbage": "x" * 10_000,
        "empty": "",
        "wkt-broken": 'PROJCS["a", GEOGCS[',
    }.items():
        top[f"crs-{label}"] = f"crs = {json.dumps(crs)}\n" + MANIFEST_BASE
        top[f"source-crs-{label}"] = MANIFEST_BASE + f"crs = {json.dumps(crs)}\n"
    for label, path in {  # TOML values as written in the file
        "nul": '"a\\u0000b.city.json"',
        "missing": '"{DIR}/missing.city.json"',
        "directory": '"{DIR}"',
        "dev-zero": '"/dev/zero"',
        "too-long": '"' + "x" * 5000 + '.city.json"',
        "empty": '""',
        "int": "5",
    }.items():
        top[f"path-{label}"] = f'name = "x"\n[[sources]]\npath = {path}\n'
        top[f"live-sensors-{label}"] = MANIFEST_BASE + f"[live]\nsensors = {path}\n"
    for label, body in top.items():
        yield Case("manifest", "scene", label, _manifest(body))
    raw = (MANIFEST_BASE + '[[bookmarks]]\nname = "b"\nposition = [1, 2, 3]\nfocal_point = [0, 0, 0]\n').encode()
    for fraction in (0.0, 0.3, 0.6, 0.9):
        yield Case("manifest", "scene", f"truncate-{fraction:g}", _writer("cut.toml", raw[: int(len(raw) * fraction)]))
    for seed in range(6):
        rng = random.Random(f"manifest-{seed}")
        data = bytearray(raw)
        for _ in range(4):
            data[rng.randrange(len(data))] ^= 0xFF
        yield Case("manifest", "scene", f"flip-{seed}", _writer("flip.toml", bytes(data)))
    yield Case("manifest", "scene", "file-directory", lambda f: _made(f / "dir.toml", os.mkdir))
    yield Case("manifest", "scene", "file-fifo", lambda f: _made(f / "pipe.toml", os.mkfifo))
    yield Case("manifest", "scene", "file-dev-zero", lambda f: _link(f / "zero.toml", Path("/dev/zero")))
    yield Case("manifest", "scene", "file-5mb", _writer("big.toml", raw + b"#" * (5 << 20)))
    yield Case("manifest", "scene", "file-latin1", _writer("latin.toml", raw.replace(b'"fuzz"', b'"f\xfczz"')))


def cases(sweep: bool = False) -> list[Case]:
    """The corpus: the standing set, or (``sweep``) with more seeds and cut points."""
    seeds = range(6) if sweep else range(2)
    fractions = (0.0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99) if sweep else (0.0, 0.05, 0.5, 0.95)
    found = [
        *truncations(fractions),
        *byte_flips(seeds),
        *number_cases(range(3) if sweep else range(1)),
        *nesting_cases(),
        *wrong_type_cases(range(8) if sweep else range(2)),
        *las_lies(),
        *tiff_lies(),
        *text_lies(),
        *non_regular(),
        *manifest_cases(),
    ]
    ids = [c.id for c in found]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return found
