"""``twin replay`` into a live API server, and the simulator's incidents escalating and recovering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import twin
from twin.faces.api import api_in_thread
from twin.faces.cli import main
from twin.risk import NAMES
from twin.risk.service import RiskService
from twin.risk.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent


def test_replay_csv_into_a_running_server(tmp_path, capsys):
    svc = RiskService.from_twin(twin.load(ROOT / "scenes" / "demo.toml"), store_path=tmp_path / "s.duckdb").open()
    csv = tmp_path / "readings.csv"
    rows = ["sensor,ts,value"] + [f"GAS-B006,{1_700_000_000_000 + i * 1000},{i / 10}" for i in range(50)]
    rows += ["NOPE,1700000000000,1", "GAS-B006,2023-11-14T22:13:20Z,1"]
    csv.write_text("\n".join(rows) + "\n")
    with api_in_thread(svc) as port:
        code = main(["replay", str(csv), "--speed", "0", "--url", f"http://127.0.0.1:{port}"])
    out = capsys.readouterr().out
    assert code == 0
    assert "50 accepted, 1 duplicate, 1 rejected" in out and "unknown sensor" in out  # ISO == epoch ms
    assert svc.history.store.count() == 50


def test_replay_unreachable_server_is_one_line_error(tmp_path, capsys):
    csv = tmp_path / "r.csv"
    csv.write_text("sensor,ts,value\nS,1700000000000,1\n")
    assert main(["replay", str(csv), "--speed", "0", "--url", "http://127.0.0.1:9"]) == 2
    assert "cannot reach" in capsys.readouterr().err


@pytest.mark.parametrize("rate", [None, 100.0])
def test_simulator_incidents_escalate_and_recover(tmp_path, rate):
    """As in the field (each sensor once per period) and as a load test (100 readings/s in all)."""

    class Clock:
        t = 1_800_000_000.0 - 1_800_000_000.0 % 600

        def __call__(self) -> float:
            return self.t

    clock = Clock()
    svc = RiskService.from_twin(
        twin.load(ROOT / "scenes" / "demo.toml"), clock=clock, store_path=tmp_path / "s.duckdb"
    ).open()
    sim = Simulator(svc, clock=clock, rate=rate)
    bridge, gas = svc.assets.index_of("road-x3"), svc.assets.index_of("bldg-013")
    seen = {bridge: [], gas: []}
    for _ in range(600 // 5):
        clock.t += 5
        sim.step()
        levels = svc.levels()
        for asset, history in seen.items():
            history.append(NAMES[levels[asset]])
    for history in seen.values():
        assert {"yellow", "orange", "red"} <= set(history), history
        assert history[-1] == history[0] != "red", history  # back where it started by the end of the cycle
    assert np.isin(["red"], [a["peak"] for a in svc.alerts(include_resolved=True)]).all()
    if rate is not None:  # whole rounds of every sensor, so within one round of the rate
        assert abs(svc.accepted_total - rate * (600 - 5)) <= len(svc.sensors)  # from the first step on


def test_replay_reads_parquet_with_timestamps(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from twin.faces.commands.replay_readings import read_readings

    path = tmp_path / "r.parquet"
    pq.write_table(
        pa.table({"sensor": ["b", "a"], "ts": pa.array([2000, 1000], pa.timestamp("ms", tz="UTC")), "value": [2, 1]}),
        path,
    )
    sensors, ms, values = read_readings(path)
    assert sensors == ["a", "b"] and ms.tolist() == [1000, 2000] and values.tolist() == [1.0, 2.0]
