"""Where hydraulic runs happen: one fork server per model, warmed with its base solution.

A what-if is one closure of one model; each runs in a fresh child of a
:class:`~twin.workers.ForkServer` under a time and memory limit, so a crashed, hung or poisoned
EPANET toolkit costs that answer only and the next request starts clean.  The server of a
model has read the file and solved the base state once (its warm-up), so a child pays for its
own closure alone.  A few models are kept warm; the least recently used server is stopped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.workers import Call, ForkServer, Task

HERE = Path(__file__).resolve().parent
JOB = Task("hydraulic_job", "closure", HERE)
WARM = Task("hydraulic_job", "warm", HERE)
#: the engine's own threads: the parallelism, if any, is the children
ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


@dataclass(frozen=True)
class Model:
    """A hydraulic model to run: the EPANET file and the pressure-dependent demand settings."""

    inp: Path
    required_m: float  #: head at which a junction gets its full demand
    minimum_m: float = 0.0  #: head below which it gets none
    at_s: int = 0  #: time of day of the snapshot (demand patterns), seconds

    def request(self) -> dict[str, Any]:
        """The model as the job reads it, keyed by the file's identity and the settings."""
        stat = self.inp.stat()
        key = f"{self.inp}:{stat.st_mtime_ns}:{stat.st_size}:{self.required_m}:{self.minimum_m}:{self.at_s}"
        return {
            "inp": str(self.inp),
            "required_m": self.required_m,
            "minimum_m": self.minimum_m,
            "at_s": self.at_s,
            "key": key,
        }


class Engine:
    """Fork servers by model, at most ``keep`` of them warm at once (thread-safe)."""

    def __init__(self, keep: int = 4) -> None:
        self._keep = keep
        self._servers: OrderedDict[str, ForkServer] = OrderedDict()
        self._lock = threading.Lock()

    def closure(self, model: Model, links: list[str], timeout_s: float, memory_mb: int | None) -> dict[str, Any]:
        """The base and the closed solutions of ``model`` with ``links`` closed (see the job).

        Raises :class:`~twin.errors.WorkerFailure` when the run fails, times out, runs out of
        memory or crashes; the server stays up for the next call.
        """
        request = model.request()
        result: dict[str, Any] = self._server(request).call(
            JOB, request, sorted(links), timeout_s=timeout_s, memory_mb=memory_mb
        )
        return result

    def _server(self, request: dict[str, Any]) -> ForkServer:
        key = str(request["key"])
        with self._lock:
            server = self._servers.pop(key, None) or ForkServer(warm=[Call(WARM, (request,))], env=ENV)
            self._servers[key] = server
            while len(self._servers) > self._keep:
                _, old = self._servers.popitem(last=False)
                old.stop()
            return server

    def stop(self) -> None:
        """Stop every server (the next call starts afresh)."""
        with self._lock:
            for server in self._servers.values():
                server.stop()
            self._servers.clear()


#: the twin's engine: one set of warm servers for the CLI, the app and the API alike
ENGINE = Engine()
