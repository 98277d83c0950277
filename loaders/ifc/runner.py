"""Run the worker processes with a time and a memory limit and turn their deaths into errors.

Workers are forks of a small fork server (``worker.py``), itself a fresh interpreter started
once per process that loads IFC files: nothing of the caller (threads, sockets, VTK) is
inherited, ifcopenshell is imported once, and every job still runs in its own process.  A job
killed by a signal, one that outlives the time limit, and one that runs out of memory all
raise :class:`LoaderFailure`; the caller, the fork server and the next load are untouched.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from twin.errors import InputError, LoaderFailure

WORKER = Path(__file__).resolve().with_name("worker.py")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class ForkServer:
    """The long-lived ``worker.py`` process, restarted if it ever dies."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
            self._process = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                             text=True, bufsize=1, start_new_session=True)
        return self._process

    def run(self, requests: list[dict[str, Any]], timeout_s: float) -> tuple[dict[int, int], bool]:
        """Start one job per request; return ``{index: exit status}`` and whether time ran out."""
        with self._lock:
            process = self._ensure()
            process.stdin.write(json.dumps({"requests": requests}) + "\n")
            process.stdin.flush()
            deadline = time.monotonic() + timeout_s
            pids = self._read(process, deadline + 60)["pids"]
            index = {pid: i for i, pid in enumerate(pids)}
            codes: dict[int, int] = {}
            timed_out = False
            while len(codes) < len(pids):
                message = self._read(process, deadline)
                if message is None:  # time is up: kill what still runs, then collect its status
                    timed_out = True
                    for pid in set(index) - {p for p, i in index.items() if i in codes}:
                        _kill(pid)
                    deadline = time.monotonic() + 30
                    continue
                codes[index[message["pid"]]] = message["code"]
            return codes, timed_out

    def _read(self, process: subprocess.Popen, deadline: float) -> dict | None:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, remaining))
        if not ready:
            return None
        line = process.stdout.readline()
        if not line:
            raise LoaderFailure(None, "the IFC fork server ended unexpectedly")
        return json.loads(line)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


SERVER = ForkServer()


def failure(path: Path, out: Path, code: int, memory_mb: int) -> InputError | None:
    """The error a job's exit status means, or None if it succeeded."""
    if code == 0 and out.exists():
        return None
    if code < 0:
        return LoaderFailure(path, f"worker crashed (signal {-code}) on {path.name}",
                             hint=f"{_signal_name(-code)} in the geometry kernel; the rest of the twin is unaffected"
                                  + _stderr_tail(out))
    error_file = Path(f"{out}.error.json")
    if error_file.exists():
        problem = json.loads(error_file.read_text())
        if problem["kind"] == "memory":
            return LoaderFailure(path, f"worker ran out of memory (limit {memory_mb} MB) on {path.name}",
                                 hint="raise the limit with the option memory_mb")
        return InputError(path, problem["problem"])
    return LoaderFailure(path, f"worker exited with status {code} on {path.name}", hint=_stderr_tail(out))


def _stderr_tail(out: Path) -> str:
    try:
        lines = out.with_suffix(".stderr").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return ("; last output: " + " | ".join(lines[-3:])) if lines else ""


def run_workers(path: Path, requests: list[dict[str, Any]], folder: Path, timeout_s: float,
                memory_mb: int) -> list[Path]:
    """Run one job per request at once; return their result files or raise the first failure."""
    outs = [folder / f"shard{i}.npz" for i in range(len(requests))]
    requests = [{**r, "out": str(o), "stderr": str(o.with_suffix(".stderr"))} for r, o in zip(requests, outs)]
    codes, timed_out = SERVER.run(requests, timeout_s)
    if timed_out:
        raise LoaderFailure(path, f"timed out after {timeout_s:g} s on {path.name}",
                            hint="raise the limit with the option timeout_s, or check the file")
    for i, out in enumerate(outs):
        error = failure(path, out, codes[i], memory_mb)
        if error is not None:
            raise error
    return outs
