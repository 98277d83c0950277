"""Property-based tests (Hypothesis) of the scene manifest reader.

Whatever a manifest holds -- any bytes, or any TOML made of the manifest's own keys and of
hostile values (NaN, infinities, 5,000-digit integers, NUL bytes, deep nesting, wrong types)
-- ``read_manifest`` either returns a manifest whose every number is finite and in range and
whose every path is a regular file, or raises one :class:`ManifestError` of one line naming the
file.  Runs are derandomised and keep no example database, so the suite is the same everywhere.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.errors import ManifestError
from twin.geo import MAX_COORDINATE
from twin.manifest import BOOKMARK_KEYS, PLACEMENT_KEYS, SOURCE_KEYS, STYLE_KEYS, TOP_KEYS, Manifest, read_manifest

SAMPLE = DATA / "city" / "DH_01_subs.city.json"
SETTINGS = settings(
    max_examples=150,
    deadline=None,  # a verdict never depends on wall-clock time
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
KEYS = sorted(TOP_KEYS | SOURCE_KEYS | PLACEMENT_KEYS | BOOKMARK_KEYS | STYLE_KEYS | {"lod", "x"})

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**4000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 1e-12, 1e9, 1e308, -1e308]),
)
texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "EPSG:4549", "EPSG:999999", "+proj=nonsense", str(SAMPLE), "a\0b", "#ff0000"]),
)
scalars = st.one_of(numbers, texts, st.booleans())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=12,
)


def _string(text: str) -> str:
    """A TOML basic string: control characters, DEL, quotes and backslashes escaped, the rest as is."""
    escaped = "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F or c in '"\\' else c for c in text)
    return f'"{escaped}"'


def _toml(value: Any) -> str:
    """``value`` as an inline TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{_string(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _document(table: dict[str, Any]) -> str:
    return "".join(f"{_string(key)} = {_toml(value)}\n" for key, value in table.items())


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "scene.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def _outcome(path: Path) -> Manifest | ManifestError:
    try:
        return read_manifest(path)
    except ManifestError as exc:
        return exc


def _assert_sound(result: Manifest | ManifestError, path: Path) -> None:
    """A clean error naming the file in one line, or a manifest with nothing absurd in it."""
    if isinstance(result, ManifestError):
        assert result.path == path.resolve() or result.path == path
        assert "\n" not in result.problem and "\n" not in (result.where or "")
        return
    numbers = [*(result.origin or ()), *(v for b in result.bookmarks for v in (*b.position, *b.focal_point))]
    for source in result.sources:
        numbers += [*source.placement.offset, source.placement.rotation_deg, source.placement.scale]
        assert source.path.is_file()
    assert all(math.isfinite(v) and abs(v) <= MAX_COORDINATE for v in numbers)


@SETTINGS
@given(data=st.binary(max_size=400))
def test_any_bytes_give_a_manifest_or_one_manifest_error(tmp_path, data) -> None:
    path = _write(tmp_path, data)
    _assert_sound(_outcome(path), path)


@SETTINGS
@given(table=st.dictionaries(st.sampled_from(sorted(TOP_KEYS | {"x"})), values, max_size=6))
def test_any_table_of_hostile_values_gives_a_sound_manifest_or_an_error(tmp_path, table) -> None:
    path = _write(tmp_path, _document(table))
    _assert_sound(_outcome(path), path)


@SETTINGS
@given(
    source=st.dictionaries(st.sampled_from(sorted(SOURCE_KEYS)), values, max_size=4),
    placement=st.dictionaries(st.sampled_from(sorted(PLACEMENT_KEYS)), values, max_size=3),
)
def test_a_source_with_hostile_keys_gives_a_sound_manifest_or_an_error(tmp_path, source, placement) -> None:
    entry = {"path": str(SAMPLE), **source, "placement": placement}
    path = _write(tmp_path, _document({"name": "x", "sources": [entry]}))
    _assert_sound(_outcome(path), path)


coordinate = st.floats(min_value=-MAX_COORDINATE, max_value=MAX_COORDINATE, allow_nan=False)


@SETTINGS
@given(
    origin=st.tuples(coordinate, coordinate, coordinate),
    offset=st.tuples(coordinate, coordinate, coordinate),
    rotation=st.floats(min_value=-360, max_value=360),
    scale=st.floats(min_value=1e-9, max_value=1e6),
    name=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30).filter(str.strip),
)
def test_a_valid_manifest_reads_back_exactly(tmp_path, origin, offset, rotation, scale, name) -> None:
    entry = {"path": str(SAMPLE), "placement": {"offset": list(offset), "rotation": rotation, "scale": scale}}
    path = _write(tmp_path, _document({"name": name, "origin": list(origin), "sources": [entry]}))
    manifest = read_manifest(path)
    assert manifest.name == name and manifest.origin == origin
    placement = manifest.sources[0].placement
    assert (placement.offset, placement.rotation_deg, placement.scale) == (offset, rotation, scale)
