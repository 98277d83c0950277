"""Helpers for benchmarks: time ours and a raw baseline in the same run, print the ratio.

These machines are shared and noisy, so a benchmark reports ``ours / raw`` measured side by
side (best of a few repeats), never a bare time, and never decides a test.
"""

from __future__ import annotations

import gc
import resource
import time
from collections.abc import Callable
from typing import Any


def best_time(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def report(name: str, ours: float, raw: float, target: float | None = None, unit: str = "s") -> float:
    """Print one line ``name: ratio R (ours X vs raw Y) [target <= T]`` and return the ratio."""
    ratio = ours / raw if raw > 0 else float("inf")
    goal = f"  target <= {target:g}: {'met' if ratio <= target else 'NOT met'}" if target is not None else ""
    print(f"{name}: ratio {ratio:.2f}  (ours {ours:.4f} {unit} vs raw {raw:.4f} {unit}){goal}", flush=True)
    return ratio


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
