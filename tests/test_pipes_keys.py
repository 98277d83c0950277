"""The packed-key lookup and gathers behind the pipe builder answer exactly as a Python dict
(the first row of each key), whatever the keys: short, long, repeated, empty, not ASCII, with
NUL characters; and the closed-form tube frames equal the cross products they replace."""

from __future__ import annotations

import numpy as np
import pytest

from loaders.pipes.keys import Index, as_bytes, lookup, take
from loaders.pipes.tubes import ring_frames

STR = np.dtypes.StringDType()


def dict_rows(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The reference: a dict of each key's first row."""
    first: dict[str, int] = {}
    for row, key in enumerate(keys.tolist()):
        first.setdefault(key, row)
    return np.array([first.get(q, -1) for q in queries.tolist()], dtype=np.int64)


def random_text(rng: np.random.Generator, count: int, alphabet: str, longest: int) -> np.ndarray:
    letters = list(alphabet)
    return np.array(["".join(rng.choice(letters, size=rng.integers(0, longest + 1))) for _ in range(count)], dtype=STR)


@pytest.mark.parametrize("alphabet", ["ab1", "ab1 -", "ab\x00", "abé"])
def test_index_answers_as_a_dict(alphabet):
    rng = np.random.default_rng(len(alphabet))
    for _ in range(300):
        longest = int(rng.integers(0, 20))  # one word, or several hashed into one code
        keys = random_text(rng, int(rng.integers(0, 60)), alphabet, longest)
        queries = np.concatenate([random_text(rng, 20, alphabet, longest + 3), keys[rng.permutation(len(keys))]])
        index = Index(keys)
        assert (index.find(queries) == dict_rows(keys, queries)).all()
        first = dict_rows(keys, keys)
        again = np.flatnonzero(first != np.arange(len(keys)))
        rows, earlier = index.repeats(keys)
        assert (rows == again).all() and (earlier == first[again]).all()
        as_list = np.array(keys.tolist(), dtype=object)
        assert (lookup(as_list, queries) == dict_rows(keys, queries)).all()  # objects: the dict path


def test_index_at_city_scale_with_repeats():
    rng = np.random.default_rng(1)
    keys = np.strings.add("J", rng.integers(0, 30_000, 100_000).astype(STR))
    queries = np.strings.add("J", rng.integers(0, 50_000, 100_000).astype(STR))
    assert (Index(keys).find(queries) == dict_rows(keys, queries)).all()
    long_keys = np.strings.add("PIPE-NETWORK-NORTH-", np.arange(50_000).astype(STR))
    index = Index(long_keys)
    assert index.unique and (index.find(long_keys[::-1]) == np.arange(50_000)[::-1]).all()


def test_trailing_nul_is_not_padding():
    keys = np.array(["a", "a\x00", "b"], dtype=STR)
    assert as_bytes(keys) is None
    assert Index(keys).find(np.array(["a\x00", "a", "b\x00"], dtype=STR)).tolist() == [1, 0, -1]


def test_take_equals_indexing():
    rng = np.random.default_rng(2)
    for alphabet in ("ab1", "abé", "a\x00"):
        column = random_text(rng, 50, alphabet, 30)
        rows = rng.integers(0, 50, 80), np.array([], dtype=np.int64)
        for got, r in zip(take(column, *rows), rows):
            assert got.dtype == column.dtype and got.tolist() == column[r].tolist()
    numbers = np.arange(5.0)
    assert take(numbers, np.array([4, 0]))[0].tolist() == [4.0, 0.0]


def test_ring_frames_are_the_cross_products():
    rng = np.random.default_rng(3)
    tangent = rng.normal(size=(2_000, 3))
    tangent[:10] = (0, 0, 1)  # vertical: the steep frame
    tangent[10:20, :2] *= 1e-3
    tangent /= np.linalg.norm(tangent, axis=1)[:, None]
    radius = rng.uniform(0.05, 2.0, len(tangent))
    steep = np.abs(tangent[:, 2]) > 0.99
    reference = np.where(steep[:, None], (1.0, 0.0, 0.0), (0.0, 0.0, 1.0))
    u = np.cross(tangent, reference)
    u /= np.linalg.norm(u, axis=1)[:, None]
    v = np.cross(tangent, u)
    got_u, got_v = ring_frames(tangent, radius)
    assert np.allclose(got_u, u * radius[:, None], atol=1e-12)
    assert np.allclose(got_v, v * radius[:, None], atol=1e-12)
    unit_u, _ = ring_frames(tangent)
    assert np.allclose(np.linalg.norm(unit_u, axis=1), 1.0)
