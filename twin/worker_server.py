"""The worker process that runs crash-prone native code for :mod:`twin.workers`.

Run by file path (``python -P twin/worker_server.py MODE``), never imported: it uses the
standard library only, so a worker starts small and a memory limit measures the task, not
the twin.  Tasks are ``module:function`` names imported here (a module's folder may be put
first on ``sys.path``); their arguments and results travel as JSON lines.

``fork`` mode: for each batch read from stdin, fork one child per call, report the children's
pids, then each child's exit status as it ends.  A child caps its address space, runs the
task and writes ``{"ok": result}`` or ``{"error": ...}`` to its result file; a child killed by a
signal or by the parent leaves no result file, which the parent reads as a crash or a timeout.
Warm-up calls run once in the server before any fork, so every child starts with them done.

``resident`` mode: one process (memory capped as a whole) runs each call itself and answers on
stdout, keeping what the task caches (parsed files) for the next call.  The parent kills and
replaces it when a call hangs or crashes.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO


def task_function(call: dict[str, Any]) -> Callable[..., Any]:
    """The function a call names, its module imported once (and its folder put on ``sys.path``)."""
    folder = call.get("folder")
    if folder and folder not in sys.path:
        sys.path.insert(0, folder)
    function: Callable[..., Any] = getattr(importlib.import_module(call["module"]), call["function"])
    return function


def limit_memory(megabytes: int | None) -> None:
    """Cap this process's address space, so a runaway allocation fails here, not in the caller.

    Only the soft limit is set, to the request or the hard limit inherited from the caller
    (``ulimit -v``), whichever is lower: an unprivileged process may never raise its hard
    limit, and lowering it would keep a later, larger call from getting its memory.
    """
    if megabytes:
        size = int(megabytes) << 20
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            size = min(size, hard)
        resource.setrlimit(resource.RLIMIT_AS, (size, hard))


def outcome(call: dict[str, Any]) -> dict[str, Any]:
    """``{"ok": result}``, or ``{"error": {...}}`` for an exception the task raised."""
    try:
        return {"ok": task_function(call)(*call.get("args", ()))}
    except MemoryError:
        return {"error": {"kind": "MemoryError", "memory": True, "message": "ran out of memory"}}
    except Exception as exc:  # a task's own error, reported to the caller in words
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f"{os.path.basename(last[0].filename)}:{last[0].lineno}" if last else ""
        return {"error": {"kind": type(exc).__name__, "message": str(exc), "where": where}}


def write_result(path: str, result: dict[str, Any]) -> None:
    """Write the result file whole or not at all (a child killed mid-write leaves nothing)."""
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8") as file:
        json.dump(result, file)
    os.replace(partial, path)


def child(call: dict[str, Any]) -> None:
    """In a forked child: own stdout and stderr, the limit, the task, then leave at once."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        err = os.open(call["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(err, 2)
        limit_memory(call.get("memory_mb"))
        write_result(call["result"], outcome(call))
        code = 0
    finally:
        os._exit(code)  # never the server's own cleanup or its stdin loop


def serve_forks(lines: TextIO, answer: TextIO) -> None:
    for line in lines:
        batch = json.loads(line)["calls"]
        children = []
        for call in batch:
            pid = os.fork()
            if pid == 0:
                child(call)
            children.append(pid)
        print(json.dumps({"pids": children}), file=answer, flush=True)
        pending = set(children)
        while pending:
            pid, status = os.wait()
            if pid in pending:
                pending.discard(pid)
                print(json.dumps({"pid": pid, "code": os.waitstatus_to_exitcode(status)}), file=answer, flush=True)


def serve_calls(lines: TextIO, answer: TextIO) -> None:
    for line in lines:
        print(json.dumps(outcome(json.loads(line))), file=answer, flush=True)


def main(argv: list[str]) -> None:
    mode, settings = argv[1], json.loads(argv[2])
    # answers go to a private copy of stdout: a task that prints cannot garble the protocol
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    if mode == "resident":
        limit_memory(settings.get("memory_mb"))
    for warm in settings.get("warm", ()):
        task_function(warm)(*warm.get("args", ()))
    (serve_forks if mode == "fork" else serve_calls)(sys.stdin, answer)


if __name__ == "__main__":
    main(sys.argv)
