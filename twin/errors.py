"""The one small exception hierarchy of CIM Twin.

Every problem a user can cause (a bad file, a bad manifest, an unknown format) is a
:class:`InputError` whose message names the file, the place in it and the problem, so the
command line can print it as one line and the app can show it beside the layer that failed.
"""

from __future__ import annotations

from pathlib import Path


class TwinError(Exception):
    """Base of every error CIM Twin raises on purpose."""


class InputError(TwinError, ValueError):
    """A file (or request) that cannot be used as it is.

    Parameters
    ----------
    path
        The file at fault (or ``None`` for a request without a file).
    problem
        What is wrong, in words a user understands.
    where
        Where in the file: ``"line 12"``, ``"entity #345"``, ``"byte 1024"``, ``"key sources[0].path"``.
    hint
        Optional advice on how to fix it.
    """

    def __init__(
        self, path: str | Path | None, problem: str, where: str | None = None, hint: str | None = None
    ) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        self.where = where
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [str(self.path)] if self.path is not None else []
        if self.where:
            parts.append(self.where)
        parts.append(self.problem)
        text = ": ".join(parts)
        return f"{text}\nHint: {self.hint}" if self.hint else text


class UnsupportedInputError(InputError):
    """No registered loader can read this file."""


class ManifestError(InputError):
    """A scene manifest with a wrong, missing or unknown key."""


class LoaderFailure(InputError):
    """A loader's worker crashed, hung or ran out of memory on a file."""


class WorkerFailure(TwinError):
    """A worker process (:mod:`twin.workers`) could not give a task's result."""

    def __init__(self, task: str, problem: str) -> None:
        self.task = task
        self.problem = problem
        super().__init__(f"{task}: {problem}")


class TaskError(WorkerFailure):
    """The task raised an exception: its type name, its message and the line it came from."""

    def __init__(self, task: str, kind: str, message: str, where: str | None = None) -> None:
        self.kind = kind
        self.message = message
        self.where = where
        super().__init__(task, f"{kind}: {message}" + (f" ({where})" if where else ""))


class WorkerTimeout(WorkerFailure):
    """The task outlived its time limit and was killed."""

    def __init__(self, task: str, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(task, f"timed out after {timeout_s:g} s")


class WorkerOutOfMemory(WorkerFailure):
    """The task failed to allocate within its memory limit."""

    def __init__(self, task: str, memory_mb: int | None) -> None:
        self.memory_mb = memory_mb
        limit = f" (limit {memory_mb} MB)" if memory_mb else ""
        super().__init__(task, f"ran out of memory{limit}")


class WorkerCrash(WorkerFailure):
    """The worker ended without a result: killed by ``signal`` or exiting with ``exit_code``.

    A native allocation past the memory limit often ends this way rather than as a
    :class:`WorkerOutOfMemory`.  ``stderr`` holds the last lines the worker wrote.
    """

    def __init__(
        self,
        task: str,
        signal: int | None,
        stderr: str = "",
        exit_code: int | None = None,
        memory_mb: int | None = None,
    ) -> None:
        self.signal = signal
        self.stderr = stderr
        self.exit_code = exit_code
        self.memory_mb = memory_mb
        how = f"signal {signal}" if signal is not None else f"exit status {exit_code}"
        super().__init__(task, f"worker crashed ({how})" + (f"; last output: {stderr}" if stderr else ""))
