"""Run the worker processes with a time and a memory limit and turn their deaths into errors.

Each worker is a fresh interpreter running ``worker.py``, not a fork of the
caller, so a server with threads and open sockets forks nothing and shares no memory with
the kernel.  A worker killed by a signal, one that outlives the time limit, and one that
runs out of memory all raise :class:`LoaderFailure`; the caller's process is untouched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from twin.errors import InputError, LoaderFailure

WORKER = Path(__file__).resolve().with_name("worker.py")


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Job:
    """One running worker and the files it reads and writes."""

    def __init__(self, request: dict[str, Any], folder: Path, index: int) -> None:
        self.out = folder / f"shard{index}.npz"
        request = {**request, "out": str(self.out)}
        self.request_file = folder / f"shard{index}.json"
        self.request_file.write_text(json.dumps(request))
        self.stderr_file = folder / f"shard{index}.stderr"
        with open(self.stderr_file, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(WORKER), str(self.request_file)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                env=_environment(), cwd=str(folder), start_new_session=True)

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def failure(self, path: Path, memory_mb: int) -> InputError | None:
        """The error this finished worker's exit means, or None if it succeeded."""
        code = self.process.returncode
        if code == 0 and self.out.exists():
            return None
        if code < 0:
            name = _signal_name(-code)
            return LoaderFailure(path, f"worker crashed (signal {-code}) on {path.name}",
                                 hint=f"{name} in the geometry kernel; the rest of the twin is unaffected"
                                      + self._stderr_tail())
        error_file = Path(f"{self.out}.error.json")
        if error_file.exists():
            problem = json.loads(error_file.read_text())
            if problem["kind"] == "memory":
                return LoaderFailure(path, f"worker ran out of memory (limit {memory_mb} MB) on {path.name}",
                                     hint="raise the limit with the option memory_mb")
            return InputError(path, problem["problem"])
        return LoaderFailure(path, f"worker exited with status {code} on {path.name}", hint=self._stderr_tail())

    def _stderr_tail(self) -> str:
        try:
            lines = self.stderr_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return ("; last output: " + " | ".join(lines[-3:])) if lines else ""


def run_workers(path: Path, requests: list[dict[str, Any]], folder: Path, timeout_s: float,
                memory_mb: int) -> list[Path]:
    """Run one worker per request at once; return their result files or raise on the first failure."""
    jobs = [Job(request, folder, i) for i, request in enumerate(requests)]
    deadline = time.monotonic() + timeout_s
    try:
        pending = list(jobs)
        while pending:
            for job in list(pending):
                if job.process.poll() is not None:
                    pending.remove(job)
                    error = job.failure(path, memory_mb)
                    if error is not None:
                        raise error
            if pending and time.monotonic() > deadline:
                raise LoaderFailure(path, f"timed out after {timeout_s:g} s on {path.name}",
                                    hint="raise the limit with the option timeout_s, or check the file")
            if pending:
                time.sleep(0.02)
    finally:
        for job in jobs:
            job.kill()
    return [job.out for job in jobs]
