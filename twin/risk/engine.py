"""The per-sensor rule engine: latest values, graded levels with hysteresis and durations, staleness.

Everything is a numpy array over sensors.  An ingest batch is reduced to the newest reading per
sensor (a late reading is stored but never replaces a newer current value), and only the
touched sensors are re-evaluated; a clock tick re-evaluates all of them, which is what enters a
level after its minimum duration and turns a silent sensor grey.

Silence is measured on the server's clock: a sensor was last *heard* at the earlier of a
reading's own time and its arrival, so a reading stamped in the future (accepted up to
``max_future_s`` ahead, for clock skew) never keeps a dead sensor looking alive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from twin.risk.levels import LEVEL_DTYPE, NODATA, NONE, highest_crossed
from twin.risk.rules import LevelRule, RuleSet
from twin.risk.sensors import SensorTable

Index = np.ndarray | slice


@dataclass
class Channel:
    """One graded signal (``value`` or ``rate``) of every sensor, with its rule and state.

    Each level has its own clocks: ``up_since[:, k]`` is when the signal last rose past level
    ``k``'s entry value (NaN while below it) and ``down_since[:, k]`` when it last fell below the
    value that holds ``k`` (entry minus hysteresis).  A level is entered once its signal has
    stayed past it for ``for_s`` and left once it has stayed below the holding value for
    ``clear_s``, so a slow rise walks through blue, yellow, orange and red in turn.

    Most sensors of a city are quiet most of the time, and grading a quiet one changes nothing:
    a sensor is *resting* once graded at no level, with nothing pending, while its signal was
    below ``floor`` (the lowest value any of its levels reacts to, entry or holding).  Grading a
    resting sensor whose signal is still below its floor (or unknown) is skipped: its state is
    already what grading would give, so the work follows the sensors that are not quiet.
    """

    signal: str
    rule: np.ndarray  # rule index per sensor, -1 where no rule applies
    sign: np.ndarray  # +1 for "above" rules, -1 for "below", NaN where no rule applies
    enter: np.ndarray  # (n, 4) thresholds in "above" form (negated for "below" rules)
    hysteresis: np.ndarray
    for_s: np.ndarray
    clear_s: np.ndarray
    level: np.ndarray  # committed level per sensor (NONE or BLUE..RED)
    pending: np.ndarray  # higher level waiting for its minimum duration, -1 when none
    up_since: np.ndarray  # (n, 4)
    down_since: np.ndarray  # (n, 4)
    floor: np.ndarray  # the lowest signal any level reacts to; +inf where no level is defined
    resting: np.ndarray  # bool: graded quiet (see the class doc); grading it again changes nothing

    @classmethod
    def build(cls, signal: str, rules: list[LevelRule], rule_index: np.ndarray) -> Channel:
        n = len(rule_index)
        enter = np.full((n, 4), np.nan)
        hyst, for_s, clear_s, signs = np.zeros(n), np.zeros(n), np.zeros(n), np.full(n, np.nan)
        for r, rule in enumerate(rules):
            rows = rule_index == r
            sign = 1.0 if rule.direction == "above" else -1.0
            enter[rows], signs[rows] = sign * rule.enter, sign
            hyst[rows], for_s[rows], clear_s[rows] = rule.hysteresis, rule.for_s, rule.clear_s
        reacts = np.fmin(enter, enter - hyst[:, None])  # NaN where a level is not defined
        floor = np.where(np.isnan(reacts), np.inf, reacts).min(axis=1)
        return cls(
            signal=signal,
            rule=rule_index,
            sign=signs,
            enter=enter,
            hysteresis=hyst,
            for_s=for_s,
            clear_s=clear_s,
            level=np.zeros(n, LEVEL_DTYPE),
            pending=np.full(n, -1, LEVEL_DTYPE),
            up_since=np.full((n, 4), np.nan),
            down_since=np.full((n, 4), np.nan),
            floor=floor,
            resting=np.isinf(floor),  # no level: the initial state is already final
        )

    def evaluate(self, idx: Index, signed: np.ndarray, now: float) -> None:
        """Move the sensors ``idx`` towards the level their current signal calls for (skipping the
        resting ones still below their floor)."""
        with np.errstate(invalid="ignore"):
            busy = ~self.resting[idx] | (signed >= self.floor[idx])
        if busy.all():
            self._grade(idx, signed, now)
        elif busy.any():
            rows = np.arange(len(self.level))[idx] if isinstance(idx, slice) else idx
            self._grade(rows[busy], signed[busy], now)

    def _grade(self, idx: Index, signed: np.ndarray, now: float) -> None:
        enter, level = self.enter[idx], self.level[idx]
        known = ~np.isnan(signed)
        defined = ~np.isnan(enter)
        with np.errstate(invalid="ignore"):
            above = signed[:, None] >= enter
            held = signed[:, None] >= enter - self.hysteresis[idx, None]
        up, down = self.up_since[idx], self.down_since[idx]
        up = np.where(above, np.where(np.isnan(up), now, up), np.nan)
        down = np.where(defined & ~held, np.where(np.isnan(down), now, down), np.nan)
        entered = above & (now - up >= self.for_s[idx, None])
        cleared = defined & ~held & (now - down >= self.clear_s[idx, None])
        target = np.maximum(highest_crossed(entered), np.minimum(level, highest_crossed(defined & ~cleared)))
        target = np.where(known, target, level).astype(LEVEL_DTYPE)
        raw = highest_crossed(above)
        pending = np.where(known & (raw > target), raw, -1)
        self.pending[idx] = pending
        self.up_since[idx] = np.where(known[:, None], up, self.up_since[idx])
        self.down_since[idx] = np.where(known[:, None], down, self.down_since[idx])
        self.level[idx] = target
        with np.errstate(invalid="ignore"):
            quiet = (signed < self.floor[idx]) & (target == NONE) & (pending < 0)
        self.resting[idx] = np.where(known, quiet, self.resting[idx])

    def settle(self, signed: np.ndarray) -> None:
        """Take the level the signal calls for at once, as if held long enough (after a restart)."""
        with np.errstate(invalid="ignore"):
            above = signed[:, None] >= self.enter
        known = ~np.isnan(signed)
        self.level[:] = np.where(known, highest_crossed(above), self.level)
        self.up_since[:] = np.where(above, -np.inf, np.nan)
        self.resting[:] = np.isinf(self.floor)  # the holding clocks are not set: grade every one again


class SensorEngine:
    """Latest state and graded levels of every sensor, updated a batch at a time."""

    def __init__(self, sensors: SensorTable, rules: RuleSet, kinds: np.ndarray, clock: Callable[[], float]) -> None:
        self.sensors, self.rules, self.clock = sensors, rules, clock
        n = len(sensors)
        self.last_ts = np.full(n, -np.inf)
        self.heard = np.full(n, -np.inf)  # server time each sensor was last heard (see the module doc)
        self.last_value = np.full(n, np.nan)
        self.rate = np.full(n, np.nan)  # units per minute
        self.ref0_ts, self.ref1_ts = np.full(n, -np.inf), np.full(n, -np.inf)
        self.ref0_value, self.ref1_value = np.full(n, np.nan), np.full(n, np.nan)
        self.stale = np.ones(n, dtype=bool)
        self.stale_after = rules.stale_factor * sensors.period_s
        #: each signal's rules, in file order: a channel's rule index points into its list
        self.signal_rules = {s: [r for r in rules.rules if r.signal == s] for s in ("value", "rate")}
        self.channels = {s: Channel.build(s, own, self._match(s, kinds)) for s, own in self.signal_rules.items()}
        self.window_s = np.full(n, 60.0)
        for r, rule in enumerate(self.signal_rules["rate"]):
            self.window_s[self.channels["rate"].rule == r] = rule.window_s

    def _match(self, signal: str, kinds: np.ndarray) -> np.ndarray:
        """Rule index within the channel's own rules, per sensor (cached per quantity and kind)."""
        sub = type(self.rules)(rules=self.signal_rules[signal])
        cache: dict[tuple[str, str], int] = {}
        out = np.empty(len(self.sensors), dtype=np.int64)
        for i, (q, k) in enumerate(zip(self.sensors.quantity.tolist(), kinds.tolist())):
            key = (q, k)
            if key not in cache:
                cache[key] = sub.match(signal, q, k)
            out[i] = cache[key]
        return out

    def rule_of(self, signal: str, sensor: int) -> LevelRule | None:
        r = int(self.channels[signal].rule[sensor])
        return None if r < 0 else self.signal_rules[signal][r]

    # -- updates ------------------------------------------------------------------------
    def apply(self, sensor: np.ndarray, ts: np.ndarray, value: np.ndarray, arrival: float) -> np.ndarray:
        """Take a batch of accepted readings that reached the server at ``arrival``; return the
        sensors whose current value changed.

        Readings are grouped per sensor with one sort; the newest per sensor replaces the current
        value only if it is newer than what we hold.  Every reading counts as hearing from its
        sensor, at its own time or its arrival, whichever is earlier.
        """
        if not len(sensor):
            return np.empty(0, dtype=np.int64)
        np.maximum.at(self.heard, sensor, np.minimum(ts, arrival))
        order = np.lexsort((ts, sensor))
        s, t, v = sensor[order], ts[order], value[order]
        last = np.r_[s[1:] != s[:-1], True]
        s, t, v = s[last], t[last], v[last]
        newer = t > self.last_ts[s]
        s, t, v = s[newer], t[newer], v[newer]
        self._update_rate(s, t, v)
        self.last_ts[s], self.last_value[s] = t, v
        return s

    def _update_rate(self, s: np.ndarray, t: np.ndarray, v: np.ndarray) -> None:
        """Rate in units per minute over the last ``window_s / 2`` to ``window_s`` of readings.

        Two reference readings per sensor leapfrog each other every half window, so the rate
        always spans at least half a window (never the jitter between two consecutive readings).
        """
        first = ~np.isfinite(self.ref1_ts[s])
        self.ref0_ts[s[first]], self.ref0_value[s[first]] = t[first], v[first]
        self.ref1_ts[s[first]], self.ref1_value[s[first]] = t[first], v[first]
        dt = t - self.ref0_ts[s]
        with np.errstate(invalid="ignore", divide="ignore"):
            self.rate[s] = np.where(dt > 0, (v - self.ref0_value[s]) / dt * 60.0, np.nan)
        roll = (t - self.ref1_ts[s]) >= self.window_s[s] / 2
        r = s[roll]
        self.ref0_ts[r], self.ref0_value[r] = self.ref1_ts[r], self.ref1_value[r]
        self.ref1_ts[r], self.ref1_value[r] = t[roll], v[roll]

    def evaluate(self, idx: Index = slice(None), now: float | None = None) -> None:
        """Re-grade the sensors ``idx`` (all by default) at time ``now``."""
        now = self.clock() if now is None else now
        self.stale[idx] = (now - self.heard[idx]) > self.stale_after[idx]
        for channel in self.channels.values():
            signal = self.last_value if channel.signal == "value" else self.rate
            channel.evaluate(idx, signal[idx] * channel.sign[idx], now)

    def settle(self, now: float) -> None:
        """After seeding from the store: every sensor at the level its latest reading calls for.

        A restart must not show a red asset as "none" while its minimum duration runs again.
        """
        self.stale[:] = (now - self.heard) > self.stale_after
        for channel in self.channels.values():
            signal = self.last_value if channel.signal == "value" else self.rate
            channel.settle(signal * channel.sign)

    # -- views ----------------------------------------------------------------------------
    def levels(self) -> np.ndarray:
        """Effective level per sensor: the graded level, or "no data" when silent and not at risk.

        A silent sensor keeps a level it had entered (a firing alert is never auto-resolved by
        silence), but never reads as "none".
        """
        graded = np.maximum(self.channels["value"].level, self.channels["rate"].level)
        return np.where(self.stale, np.maximum(graded, NODATA), graded).astype(LEVEL_DTYPE)
