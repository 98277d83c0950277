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
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._buffer = b""

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
            self._process = subprocess.Popen(
                [sys.executable, str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                bufsize=0,
                start_new_session=True,
            )
            self._buffer = b""
        return self._process

    def run(self, requests: list[dict[str, Any]], timeout_s: float) -> tuple[dict[int, int], bool]:
        """Start one job per request; return ``{index: exit status}`` and whether time ran out."""
        with self._lock:
            try:
                return self._run(requests, timeout_s)
            except (OSError, ValueError, KeyError, TypeError):  # the server itself failed: start afresh
                self.stop()
                raise LoaderFailure(None, "the IFC fork server stopped answering") from None

    def _run(self, requests: list[dict[str, Any]], timeout_s: float) -> tuple[dict[int, int], bool]:
        process = self._ensure()
        if process.stdin is None:
            raise ValueError("no input pipe")  # reported below as the server failing
        process.stdin.write((json.dumps({"requests": requests}) + "\n").encode())
        deadline = time.monotonic() + timeout_s
        started = self._read(process, deadline + 60)
        if started is None:
            raise ValueError("no answer")  # reported below as the server failing
        pids = started["pids"]
        codes: dict[int, int] = {}
        timed_out = False
        while len(codes) < len(pids):
            message = self._read(process, deadline)
            if message is None:
                if timed_out:  # killed jobs not reported within the grace period
                    raise OSError("no status from the fork server")
                timed_out = True  # time is up: kill what still runs, then collect its status
                for pid in set(pids) - set(codes):
                    _kill(pid)
                deadline = time.monotonic() + 30
                continue
            codes[message["pid"]] = message["code"]
        return {pids.index(pid): code for pid, code in codes.items()}, timed_out

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            _kill(self._process.pid)
            self._process.wait()
        self._process = None

    def _read(self, process: subprocess.Popen[bytes], deadline: float) -> dict[str, Any] | None:
        """The server's next JSON line, or None at the deadline (unbuffered: select sees every byte)."""
        if process.stdout is None:
            raise ValueError("no output pipe")  # reported by run() as the server failing
        fd = process.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise OSError("the fork server ended")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        result: dict[Any, Any] | None = json.loads(line)
        return result


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
        return LoaderFailure(
            path,
            f"worker crashed (signal {-code}) on {path.name}",
            hint=f"{_signal_name(-code)} in the geometry kernel (a native allocation past the "
            f"memory limit, {memory_mb} MB, ends this way too: option memory_mb); the rest of "
            "the twin is unaffected" + _stderr_tail(out),
        )
    error_file = Path(f"{out}.error.json")
    if error_file.exists():
        problem = json.loads(error_file.read_text())
        if problem["kind"] == "memory":
            return LoaderFailure(
                path,
                f"worker ran out of memory (limit {memory_mb} MB) on {path.name}",
                hint="raise the limit with the option memory_mb",
            )
        return InputError(path, problem["problem"])
    return LoaderFailure(path, f"worker exited with status {code} on {path.name}", hint=_stderr_tail(out))


def _stderr_tail(out: Path) -> str:
    try:
        lines = out.with_suffix(".stderr").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return ("; last output: " + " | ".join(lines[-3:])) if lines else ""


def run_workers(
    path: Path, requests: list[dict[str, Any]], folder: Path, timeout_s: float, memory_mb: int
) -> list[Path]:
    """Run one job per request at once; return their result files or raise the first failure."""
    outs = [folder / f"shard{i}.npz" for i in range(len(requests))]
    requests = [{**r, "out": str(o), "stderr": str(o.with_suffix(".stderr"))} for r, o in zip(requests, outs)]
    try:
        codes, timed_out = SERVER.run(requests, timeout_s)
    except LoaderFailure as exc:
        raise LoaderFailure(path, f"{exc.problem} while loading {path.name}") from None
    if timed_out:
        raise LoaderFailure(
            path,
            f"timed out after {timeout_s:g} s on {path.name}",
            hint="raise the limit with the option timeout_s, or check the file",
        )
    for i, out in enumerate(outs):
        error = failure(path, out, codes[i], memory_mb)
        if error is not None:
            raise error
    return outs
