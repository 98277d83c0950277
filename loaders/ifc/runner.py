"""IFC conversions in worker processes, and what their failures mean for the file.

The jobs (:mod:`loaders.ifc.job`) run in forks of one :class:`twin.workers.ForkServer`
started once per process that loads IFC files, with ifcopenshell imported once; a job that is
killed by a signal, outlives the time limit or runs out of memory raises :class:`LoaderFailure`,
and the caller, the server and the next load are untouched.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from twin.errors import (
    InputError,
    LoaderFailure,
    TaskError,
    WorkerCrash,
    WorkerFailure,
    WorkerOutOfMemory,
    WorkerTimeout,
)
from twin.workers import Call, ForkServer, Task

HERE = Path(__file__).resolve().parent
JOB = Task("job", "run_job", HERE)
#: one OpenMP/BLAS thread per child: the parallelism is the children themselves
WORKERS = ForkServer(warm=[Call(Task("job", "warm", HERE))], env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})


def run_workers(
    path: Path, requests: list[dict[str, Any]], folder: Path, timeout_s: float, memory_mb: int
) -> list[Path]:
    """Run one job per request at once; return their result files or raise the first failure."""
    outs = [folder / f"shard{i}.npz" for i in range(len(requests))]
    calls = [Call(JOB, ({**r, "out": str(o)},), memory_mb) for r, o in zip(requests, outs)]
    try:
        WORKERS.run(calls, timeout_s)
    except WorkerFailure as failure:
        raise file_error(path, failure, memory_mb) from None
    return outs


def file_error(path: Path, failure: WorkerFailure, memory_mb: int) -> InputError:
    """The error about ``path`` that a job's failure (under ``memory_mb``) means."""
    name = path.name
    if isinstance(failure, WorkerTimeout):
        return LoaderFailure(
            path,
            f"timed out after {failure.timeout_s:g} s on {name}",
            hint="raise the limit with the option timeout_s, or check the file",
        )
    if isinstance(failure, WorkerOutOfMemory):
        return LoaderFailure(
            path,
            f"worker ran out of memory (limit {memory_mb} MB) on {name}",
            hint="raise the limit with the option memory_mb",
        )
    if isinstance(failure, TaskError):
        if failure.kind == "FileProblem":
            return InputError(path, failure.message)
        return InputError(path, f"ifcopenshell cannot read it ({failure.kind}: {failure.message})")
    if not isinstance(failure, WorkerCrash):
        return LoaderFailure(path, f"{failure.problem} on {name}")
    if failure.signal is None:
        return LoaderFailure(
            path, f"worker exited with status {failure.exit_code} on {name}", hint=failure.stderr or None
        )
    return LoaderFailure(
        path,
        f"worker crashed (signal {failure.signal}) on {name}",
        hint=f"{_signal_name(failure.signal)} in the geometry kernel (a native allocation past the "
        f"memory limit, {memory_mb} MB, ends this way too: option memory_mb); the rest of "
        "the twin is unaffected" + (f"; last output: {failure.stderr}" if failure.stderr else ""),
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
