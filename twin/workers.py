"""Run crash-prone native code (geometry kernels, hydraulic engines) in worker processes.

Native libraries can segfault, abort, loop or eat memory on unlucky input; here that ends a
worker, never the twin.  A task is a ``module:function`` that a worker imports by name (with
its folder put first on ``sys.path`` when it is a plain script, so a worker need not import
the twin at all); its arguments and its result travel as JSON.

Two kinds of worker, both a fresh interpreter (``worker_server.py``) that inherits nothing of the
caller (threads, sockets, VTK) and is started again if it dies:

- :class:`ForkServer` forks a child per call, so every call starts clean in milliseconds with
  the warm-up imports done, under its own memory limit, and several calls run side by side;
- :class:`ResidentWorker` answers calls itself and keeps what its task caches (a parsed file) for
  the next call; a call that hangs or crashes costs that answer and a fresh worker.

Either starts on its first call, or earlier with ``start()``, which returns at once: the
worker's warm-up then overlaps whatever the caller does before that call.

Every way a call can fail is a :class:`~twin.errors.WorkerFailure`: the task's own exception
(:class:`~twin.errors.TaskError`), a timeout, running out of memory, or a crash.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from twin.errors import TaskError, WorkerCrash, WorkerFailure, WorkerOutOfMemory, WorkerTimeout

SERVER_SCRIPT = Path(__file__).resolve().with_name("worker_server.py")
#: how long a worker may take to start and run its warm-up calls
START_S = 120.0
#: how long killed children may take to be reported
REAP_S = 30.0
#: what talking to a worker that died or garbled its answer raises
BROKEN = (OSError, EOFError, ValueError, KeyError, TypeError)


@dataclass(frozen=True)
class Task:
    """A function a worker runs: ``module`` importable there (from ``folder`` when given)."""

    module: str
    function: str
    folder: Path | None = None

    def request(self, args: Sequence[Any]) -> dict[str, Any]:
        return {
            "module": self.module,
            "function": self.function,
            "folder": None if self.folder is None else str(self.folder),
            "args": list(args),
        }

    def __str__(self) -> str:
        return f"{self.module}:{self.function}"


@dataclass(frozen=True)
class Call:
    """One run of a task with its arguments and the memory it may use (MB, None: no limit)."""

    task: Task
    args: Sequence[Any] = ()
    memory_mb: int | None = None


@dataclass
class _Process:
    """A started worker, its stderr (an unlinked temporary file) and what is read but not used."""

    popen: subprocess.Popen[bytes]
    stderr: IO[bytes]
    buffer: bytes = field(default=b"")

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        return tail(self.stderr.read().decode(errors="replace"))


class _WorkerProcess:
    """Starting, talking to and killing one ``worker_server.py`` process."""

    mode = ""

    def __init__(
        self, warm: Sequence[Call] = (), env: Mapping[str, str] | None = None, memory_mb: int | None = None
    ) -> None:
        self._warm = tuple(warm)
        self._env = dict(env or {})
        self._memory_mb = memory_mb
        self._process: _Process | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The worker's process id, None before the first call or after it ended."""
        process = self._process
        return process.popen.pid if process is not None and process.popen.poll() is None else None

    def start(self) -> None:
        """Start the worker now and return at once, without waiting for its warm-up.

        The warm-up (imports, rule sets) then runs while the caller does other work, such as
        its own imports or checking the input; the first call waits only for what is left of
        it.  A worker that runs already, or is busy with a call, is left as it is.
        """
        if not self._lock.acquire(blocking=False):
            return  # a call holds the worker: it is started
        try:
            self._ensure()
        finally:
            self._lock.release()

    def stop(self) -> None:
        """End the worker now (the next call starts a fresh one)."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.popen.poll() is None:
                kill(process.popen.pid)
            process.popen.wait()
            process.stderr.close()

    def _ensure(self) -> _Process:
        if self._process is None or self._process.popen.poll() is not None:
            settings = {
                "memory_mb": self._memory_mb,
                "warm": [{**c.task.request(c.args), "memory_mb": c.memory_mb} for c in self._warm],
            }
            self._stop()
            stderr = tempfile.TemporaryFile(prefix="cim-twin-worker-")
            popen = subprocess.Popen(
                [sys.executable, "-P", str(SERVER_SCRIPT), self.mode, json.dumps(settings)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, **self._env},
                bufsize=0,
                start_new_session=True,
            )
            self._process = _Process(popen, stderr)
        return self._process

    def _send(self, process: _Process, message: Mapping[str, Any]) -> None:
        if process.popen.stdin is None:
            raise OSError("no input pipe")
        process.popen.stdin.write((json.dumps(message) + "\n").encode())

    def _read(self, process: _Process, deadline: float) -> dict[str, Any] | None:
        """The worker's next JSON line, or None at the deadline (unbuffered: select sees every byte)."""
        if process.popen.stdout is None:
            raise OSError("no output pipe")
        fd = process.popen.stdout.fileno()
        while b"\n" not in process.buffer:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("the worker ended")
            process.buffer += chunk
        line, process.buffer = process.buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def _ended(self, process: _Process, task: str) -> WorkerCrash:
        """The crash a worker that stopped answering means (after making sure it is gone)."""
        if process.popen.poll() is None:
            kill(process.popen.pid)
        code = process.popen.wait()
        crash = WorkerCrash(task, -code if code < 0 else None, process.stderr_tail(), code if code >= 0 else None)
        self._stop()
        return crash


class ForkServer(_WorkerProcess):
    """A server that forks one child per call; ``warm`` calls run once in the server first.

    ``env`` is added to the worker's environment (e.g. one OpenMP thread per child).
    """

    mode = "fork"

    def call(self, task: Task, *args: Any, timeout_s: float, memory_mb: int | None = None) -> Any:
        """Run one call in a fresh child and return its result."""
        [result] = self.run([Call(task, args, memory_mb)], timeout_s)
        return result

    def run(self, calls: Sequence[Call], timeout_s: float) -> list[Any]:
        """Run the calls side by side, each in its own child; their results in order.

        Raises the first failure in call order, or :class:`WorkerTimeout` (after killing what
        still runs) when the batch outlives ``timeout_s``.
        """
        with self._lock, tempfile.TemporaryDirectory(prefix="cim-twin-worker-") as tmp:
            folder = Path(tmp)
            requests = [
                {
                    **c.task.request(c.args),
                    "memory_mb": c.memory_mb,
                    "result": str(folder / f"{i}.json"),
                    "stderr": str(folder / f"{i}.stderr"),
                }
                for i, c in enumerate(calls)
            ]
            codes = self._statuses(requests, timeout_s, str(calls[0].task) if calls else "")
            return [_result(request, codes[i], calls[i]) for i, request in enumerate(requests)]

    def _statuses(self, requests: list[dict[str, Any]], timeout_s: float, task: str) -> list[int]:
        process, pids = self._start(requests, task)
        codes: dict[int, int] = {}
        deadline = time.monotonic() + timeout_s
        timed_out = False
        try:
            while len(codes) < len(pids):
                message = self._read(process, deadline)
                if message is None:
                    if timed_out:  # killed children not reported in time: the server is stuck
                        raise EOFError("no status")
                    timed_out = True
                    for pid in set(pids) - set(codes):
                        kill(pid)
                    deadline = time.monotonic() + REAP_S
                    continue
                codes[message["pid"]] = message["code"]
        except BROKEN:
            raise self._ended(process, task) from None
        if timed_out:
            raise WorkerTimeout(task, timeout_s)
        return [codes[pid] for pid in pids]

    def _start(self, requests: list[dict[str, Any]], task: str) -> tuple[_Process, list[int]]:
        """Hand the batch to the server; the server and its children's pids.

        A server that died since the last batch (killed, or by the OOM killer) and is found so
        only now is replaced, and the batch handed to the new one: none of it had started.
        """
        process = self._ensure()
        try:
            return process, self._hand_over(process, requests)
        except BROKEN:
            self._ended(process, task)
        process = self._ensure()
        try:
            return process, self._hand_over(process, requests)
        except BROKEN:
            raise self._ended(process, task) from None

    def _hand_over(self, process: _Process, requests: list[dict[str, Any]]) -> list[int]:
        self._send(process, {"calls": requests})
        started = self._read(process, time.monotonic() + START_S)
        if started is None:
            raise EOFError("no answer")
        pids: list[int] = started["pids"]
        return pids


class ResidentWorker(_WorkerProcess):
    """One worker process that answers calls itself and keeps its caches between them.

    ``memory_mb`` caps the whole process.  A call that outlives its time, or a worker that
    dies, costs that call (:class:`WorkerTimeout`, :class:`WorkerCrash`) and a fresh worker.
    """

    mode = "resident"

    def call(self, task: Task, *args: Any, timeout_s: float) -> Any:
        with self._lock:
            process = self._ensure()
            try:
                self._send(process, task.request(args))
                answer = self._read(process, time.monotonic() + timeout_s)
            except BROKEN:
                raise self._ended(process, str(task)) from None
            if answer is None:
                self._stop()
                raise WorkerTimeout(str(task), timeout_s)
            return _value(answer, str(task), self._memory_mb)


def _result(request: Mapping[str, Any], code: int, call: Call) -> Any:
    """A child's result, or the failure its exit status and result file mean."""
    task = str(call.task)
    path = Path(request["result"])
    if code == 0 and path.exists():
        return _value(json.loads(path.read_text(encoding="utf-8")), task, call.memory_mb)
    stderr_file = Path(request["stderr"])
    stderr = tail(stderr_file.read_text(errors="replace")) if stderr_file.exists() else ""
    raise WorkerCrash(task, -code if code < 0 else None, stderr, code if code >= 0 else None, call.memory_mb)


def _value(answer: Mapping[str, Any], task: str, memory_mb: int | None) -> Any:
    if "ok" in answer:
        return answer["ok"]
    error = answer["error"]
    if error.get("memory"):
        raise WorkerOutOfMemory(task, memory_mb)
    raise TaskError(task, error["kind"], error["message"], error.get("where") or None)


def half_the_memory_mb() -> int:
    """Half the machine's memory, in MB: the default limit of a worker (a lot, never all of it)."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return max(1024, int(pages * size / 2**20 / 2))
    except (ValueError, OSError):
        return 8192


def tail(text: str, lines: int = 3) -> str:
    """The last lines a worker wrote to its stderr, joined (what a crash report quotes)."""
    return " | ".join(text.strip().splitlines()[-lines:])


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


__all__ = [
    "Call",
    "ForkServer",
    "ResidentWorker",
    "Task",
    "TaskError",
    "WorkerCrash",
    "WorkerFailure",
    "WorkerOutOfMemory",
    "WorkerTimeout",
    "half_the_memory_mb",
]
