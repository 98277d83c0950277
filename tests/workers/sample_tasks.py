"""Tasks for tests/test_workers.py: run inside worker processes, imported there by folder."""

from __future__ import annotations

import os
import sys
import time

CALLS = {"count": 0}


def add(a: float, b: float) -> float:
    print("noise on stdout must not garble the protocol")
    return a + b


def fail(message: str) -> None:
    raise ValueError(message)


def hang() -> None:
    while True:
        time.sleep(1)


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes << 20))


def abort() -> None:
    print("about to abort", file=sys.stderr, flush=True)
    os.abort()


def count() -> int:
    """How many times this process was called: the resident worker keeps it, forks do not."""
    CALLS["count"] += 1
    return CALLS["count"]


def pid() -> int:
    return os.getpid()


def touch(path: str) -> None:
    with open(path, "w", encoding="utf-8"):
        pass


def wait_for(path: str) -> None:
    """Block until ``path`` exists: a warm-up that lasts exactly as long as the test wants."""
    for _ in range(600):
        if os.path.exists(path):
            return
        time.sleep(0.1)
    raise TimeoutError(path)
