"""The history of one twin's live risk: its readings, alerts and levels in the store, by row.

The store (:mod:`twin.risk.store`) knows sensors and assets by stable integer keys, which outlive
a scene's row order; this wraps it with the keys of this twin's sensor and asset rows, so the
service, the playback and the screens speak rows and never keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from twin.risk.alerts import Alert, Event
from twin.risk.levels import NODATA
from twin.risk.store import Store


class History:
    """The store of a live service with this twin's sensor and asset keys; :meth:`open` connects."""

    def __init__(self, store: Store, sensor_ids: list[str], asset_ids: list[str]) -> None:
        self.store, self._sensor_ids, self._asset_ids = store, sensor_ids, asset_ids
        self.sensor_keys = np.zeros(0, np.int32)
        self.asset_keys = np.zeros(0, np.int32)
        self._row_of_key = np.zeros(0, np.int64)

    def open(self) -> None:
        """Connect the store and register the twin's sensors and assets (new ids get new keys)."""
        self.store.open()
        self.sensor_keys = self.store.sensor_keys(self._sensor_ids)
        self.asset_keys = self.store.asset_keys(self._asset_ids)
        keys = np.asarray(self.asset_keys, dtype=np.int64)
        self._row_of_key = np.full(int(keys.max(initial=-1)) + 1, -1, dtype=np.int64)
        self._row_of_key[keys] = np.arange(len(keys))

    def close(self) -> None:
        self.store.close()

    @property
    def path(self) -> Path | None:
        return self.store.path

    @property
    def set_aside(self) -> list[Path]:
        """Files set aside because the store could not be opened (empty when it opened cleanly)."""
        return self.store.set_aside

    # -- writes ---------------------------------------------------------------------------
    def commit(self, sensor: np.ndarray, ts: np.ndarray, value: np.ndarray) -> tuple[int, int]:
        """Commit readings (sensor rows, epoch s); return (inserted, conflicting duplicates)."""
        if not len(sensor):
            return 0, 0
        return self.store.insert_readings(self.sensor_keys[sensor], np.round(ts * 1000.0).astype(np.int64), value)

    def record(self, alerts: list[Alert], events: list[Event], rows: np.ndarray, ts: float, levels: np.ndarray) -> None:
        """One evaluation's changed alerts and events, and the new levels of some asset ``rows``."""
        self.store.save_evaluation(alerts, events, self.asset_keys[rows], ts, levels)

    def save_alerts(self, alerts: list[Alert], events: list[Event]) -> None:
        self.store.save_alerts(alerts, events)

    def roll_up(self, before: float) -> int:
        return self.store.roll_up(before)

    # -- reads ------------------------------------------------------------------------------
    def latest(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        return self.store.latest()

    def open_alerts(self) -> list[Alert]:
        return self.store.open_alerts()

    def next_alert_id(self) -> int:
        return self.store.max_alert_id() + 1

    def readings(
        self, sensors: list[str], since: float | None = None, until: float | None = None, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        return self.store.readings(sensors, since, until, limit)

    def alert_history(self, alert_id: int) -> list[dict[str, Any]]:
        return self.store.alert_history(alert_id)

    def level_range(self) -> tuple[float, float] | None:
        """Epoch seconds of the first and last recorded level change (None before any)."""
        return self.store.level_range()

    def levels_at(self, t: float) -> np.ndarray:
        """The level of every asset row at ``t``; "no data" where none was recorded yet."""
        keys, levels = self.store.levels_at(t)
        known = keys < len(self._row_of_key)
        rows = np.full(len(keys), -1, dtype=np.int64)
        rows[known] = self._row_of_key[keys[known]]
        mine = rows >= 0  # keys of assets this scene no longer has are left out
        out = np.full(len(self.asset_keys), NODATA, dtype=np.int8)
        out[rows[mine]] = levels[mine]
        return out

    def alerts_at(self, t: float) -> list[dict[str, Any]]:
        return self.store.alerts_at(t)

    def check(self) -> None:
        """A real query; raises if the store is broken."""
        self.store.check()
