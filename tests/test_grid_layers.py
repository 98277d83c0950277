"""Overlaid grid systems: each layer's roll-up, the cells an incident touches in every layer and
the grid workers on duty there."""

from __future__ import annotations

import json

import numpy as np
import pytest
from incident_support import DEMO, T0, demo_scene, play

from twin.errors import InputError
from twin.risk.gridlayers import on_duty, read_grid_layers

WORKERS = [{"name": "A", "phone": "1", "duty": "day"}, {"name": "B", "phone": "2", "duty": "night"}]


def test_duty_by_china_time():
    noon_china = 4 * 3600.0  # 04:00 UTC is 12:00 in China
    assert [w["name"] for w in on_duty(WORKERS, noon_china)] == ["A"]
    assert [w["name"] for w in on_duty(WORKERS, noon_china + 12 * 3600)] == ["B"]


def test_bad_grid_layers(tmp_path):
    (tmp_path / "g.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": "c", "workers": [{"name": "X", "duty": "weekends"}]},
                        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
                    }
                ],
            }
        )
    )
    toml = tmp_path / "layers.toml"
    toml.write_text('[[layer]]\nname = "x"\npath = "g.geojson"\n')
    with pytest.raises(InputError, match="feature 0"):
        read_grid_layers(toml, np.zeros((1, 3)))
    toml.write_text('[[layer]]\nname = "x"\n')
    with pytest.raises(InputError, match=r"layer\[0\]\.path"):
        read_grid_layers(toml, np.zeros((1, 3)))


def test_incident_names_its_grids_in_every_layer(tmp_path):
    svc = play(demo_scene(), tmp_path / "s.duckdb", ("gas_leak",), until=T0 + 200)
    try:
        inc = next(i for i in svc.incidents() if i["hazard"] == "gas")
        layers = {c["layer"] for c in inc["grid_layers"]}
        assert layers == {"comprehensive", "emergency", "supervision"}
        assert all(c["on_duty"] and all(w["phone"] for w in c["on_duty"]) for c in inc["grid_layers"])
        roll = {r["layer"]: r for r in svc.grid_layer_levels()}
        assert set(roll) == layers and len(roll["comprehensive"]["cells"]) == 9
        assert roll["emergency"]["counts"]["red"] >= 1  # the leak's cell is red
        assert sum(roll["supervision"]["counts"].values()) == 4
    finally:
        svc.close()


def test_sample_layers():
    layers = read_grid_layers(DEMO / "grid_layers.toml", np.array([[385100.0, 3548100.0, 0.0]]))
    assert [layer.name for layer in layers] == ["comprehensive", "emergency", "supervision"]
    assert all(all(len(w) == 2 for w in layer.workers) for layer in layers)
