"""Duplicates without an index: the store tells new readings from repeats by each sensor's newest
stored reading (its high-water mark) and looks stragglers up; quiet sensors are not graded again.

Both are checked against a plain model (Hypothesis): a dict of the first value of every
(sensor, ts) for the store, a channel graded in full on every evaluation for the engine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.risk.archive import DAY_S
from twin.risk.engine import Channel
from twin.risk.ingest import SensorNames
from twin.risk.rules import parse_rules
from twin.risk.sensors import SensorTable
from twin.risk.store import Store

PROPERTIES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
T0_MS = 1_700_006_400_000  # a UTC midnight (2023-11-15)
reading = st.tuples(st.integers(0, 3), st.integers(0, 12), st.sampled_from([0.0, 1.0, 2.0, float("nan")]))
#: batches of readings; after each, maybe reopen the store (the marks are read again from the table)
batches = st.lists(st.tuples(st.lists(reading, max_size=12), st.booleans()), min_size=1, max_size=8)


def stored(store: Store) -> dict[tuple[int, int], float]:
    rows = store.query("SELECT sensor, epoch_ms(ts), value FROM readings")
    assert len(rows) == len({(s, t) for s, t, _ in rows}), "a (sensor, ts) stored twice"
    return {(s, t): v for s, t, v in rows}


def same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)  # NaN equals NaN, as DuckDB compares


@PROPERTIES
@given(batches)
def test_each_reading_is_stored_once_and_the_first_value_wins(script):
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s.duckdb").open()
        model: dict[tuple[int, int], float] = {}
        for rows, reopen in script:
            sensor = np.array([r[0] for r in rows], np.int32)
            ts = np.array([T0_MS + 1000 * r[1] for r in rows], np.int64)
            value = np.array([r[2] for r in rows])
            new, conflicts, seen = {}, 0, set()
            for s, t, v in zip(sensor.tolist(), ts.tolist(), value.tolist(), strict=True):
                if (s, t) in seen:
                    continue  # a repeat inside the batch is dropped (the first of them counts)
                seen.add((s, t))
                if (s, t) in model:
                    conflicts += not same(model[(s, t)], v)
                else:
                    new[(s, t)] = v
            assert store.insert_readings(sensor, ts, value) == (len(new), conflicts)
            model.update(new)
            if reopen:
                store.close()
                store = Store(Path(tmp) / "s.duckdb").open()
        got = stored(store)
        assert got.keys() == model.keys() and all(same(got[k], model[k]) for k in model)
        store.close()


def test_a_store_written_with_a_primary_key_is_rebuilt_without_it(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE readings (sensor INTEGER NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE, PRIMARY KEY (sensor, ts))"
    )
    con.execute("INSERT INTO readings VALUES (0, make_timestamp(1700006400000000), 1.5)")
    con.close()
    store = Store(path).open()
    constraints = store.query("SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'readings'")
    assert ("PRIMARY KEY",) not in constraints
    again = store.insert_readings(np.array([0, 0]), np.array([T0_MS, T0_MS + 1000]), np.array([2.0, 3.0]))
    assert again == (1, 1)  # the stored reading is still known: a conflicting duplicate
    assert stored(store) == {(0, T0_MS): 1.5, (0, T0_MS + 1000): 3.0}
    store.close()


def test_a_late_repeat_of_an_archived_reading_is_a_duplicate_after_a_restart(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb").open()
    store.sensor_keys(["a", "b"])
    ts = T0_MS + np.arange(0, int(2 * DAY_S * 1000), 3_600_000)
    store.insert_readings(np.zeros(len(ts), np.int32), ts, np.arange(len(ts), dtype=float))
    store.attach_archive()
    assert store.move_to_archive(T0_MS / 1000 + DAY_S) == 24  # sensor 0's first day
    store.close()
    store = Store(tmp_path / "s.duckdb").open()
    store.attach_archive()
    # sensor 0's mark is now its newest raw reading; the first day is only in the archive
    assert store.insert_readings(np.array([0, 0]), ts[:2], np.array([0.0, 9.0])) == (0, 1)
    assert store.insert_readings(np.array([0]), np.array([ts[0] + 1]), np.array([5.0])) == (1, 0)  # new, archived day
    store.close()


def quiet_rules():
    return parse_rules(
        {
            "threshold": [
                {
                    "name": "gas",
                    "quantity": "gas",
                    "blue": 5,
                    "yellow": 10,
                    "orange": 20,
                    "red": 25,
                    "hysteresis": 2,
                    "for_s": 3,
                    "clear_s": 4,
                }
            ]
        }  # fmt: skip
    ).rules


steps = st.lists(
    st.tuples(
        st.lists(st.sampled_from([0.0, 2.0, 3.5, 4.0, 6.0, 11.0, 30.0, float("nan")]), min_size=6, max_size=6),
        st.lists(st.booleans(), min_size=6, max_size=6),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=25,
)


@PROPERTIES
@given(steps)
def test_skipping_resting_sensors_grades_as_grading_every_one(script):
    rules = quiet_rules()
    index = np.array([0, 0, 0, 0, 0, -1])  # the last sensor has no rule
    fast, full = Channel.build("value", rules, index), Channel.build("value", rules, index)
    now = 1_700_000_000.0
    for values, touched, dt in script:
        now += dt
        idx = np.flatnonzero(touched)
        signal = np.array(values)[idx]
        fast.evaluate(idx, signal, now)
        full.resting[:] = False  # nothing known quiet: every sensor touched is graded
        full.evaluate(idx, signal, now)
        assert np.array_equal(fast.level, full.level)
        assert np.array_equal(fast.pending, full.pending)
        assert np.array_equal(fast.up_since, full.up_since, equal_nan=True)
        assert np.array_equal(fast.down_since, full.down_since, equal_nan=True)


def test_sensor_names_are_looked_up_once_per_gateway_layout() -> None:
    sensors = SensorTable.from_rows(
        [{"id": f"s{i}", "asset": "a", "quantity": "gas", "unit": "%LEL", "period_s": 1.0} for i in range(50)]
    )
    names = SensorNames(sensors, max_chunks=3, max_names=20)
    gateway = pa.array([f"s{i}" for i in range(10)] + ["nobody"])
    column = pa.chunked_array([gateway, gateway.slice(3, 5), pa.array([f"s{i}" for i in range(49, 10, -1)])])
    expected = sensors.lookup_arrow(column)
    for _ in range(3):  # the first time looked up, then remembered (the long chunk never is)
        assert np.array_equal(names.rows(column), expected)
    assert np.array_equal(names.rows(pa.chunked_array([gateway.slice(1)])), expected[1:11])
    for i in range(5):  # more layouts than are kept: forgotten, still right
        other = pa.chunked_array([pa.array([f"s{i}", f"s{i + 1}"])])
        assert names.rows(other).tolist() == [i, i + 1]
    assert names.rows(pa.chunked_array([], pa.string())).tolist() == []
