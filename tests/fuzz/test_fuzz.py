"""The standing fuzz net: every malformed input of ``fuzz_inputs`` ends cleanly.

Each case is written to a fresh folder and loaded in a memory-capped resident worker with a
time limit per case (:mod:`fuzz_worker`); it must end in a load (maybe with warnings) or one
:class:`~twin.errors.InputError` line, never a traceback, a hang, a crash or a MemoryError.
The endings are counted per class and written to ``artifacts/fuzz-endings.json`` (and printed
at the end of the run).  ``-m slow`` adds the larger sweep (more seeds and cut points).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from conftest import ARTIFACTS
from fuzz_inputs import Case, cases

from twin.errors import WorkerCrash, WorkerFailure, WorkerOutOfMemory, WorkerTimeout
from twin.workers import ResidentWorker, Task

#: a case loads a small sample: past this it hangs (generous, for a busy machine)
CASE_TIMEOUT_S = 120.0
#: address space of the worker (the twin, VTK and numpy imported): a runaway allocation fails here
WORKER_MEMORY_MB = 4096
TASK = Task("fuzz_worker", "run_case", Path(__file__).resolve().parent)
CLEAN = {"loaded", "warned", "input_error"}

ENDINGS: dict[str, Counter[str]] = defaultdict(Counter)
DETAILS: dict[str, dict[str, str]] = {}
STANDING = cases()
SWEEP = [c for c in cases(sweep=True) if c.id not in {s.id for s in STANDING}]


@pytest.fixture(scope="module")
def worker():
    process = ResidentWorker(memory_mb=WORKER_MEMORY_MB)
    yield process
    process.stop()


@pytest.fixture(scope="module", autouse=True)
def report(request):
    yield
    if not ENDINGS:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    table = {klass: dict(sorted(counts.items())) for klass, counts in sorted(ENDINGS.items())}
    (ARTIFACTS / "fuzz-endings.json").write_text(json.dumps({"per_class": table, "cases": DETAILS}, indent=2))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("\nfuzz endings per class (tried: endings):")
        for klass, counts in table.items():
            reporter.write_line(f"  {klass:<12} {sum(counts.values()):>4}: {counts}")


def _ending(worker: ResidentWorker, case: Case, folder: Path) -> dict[str, str]:
    path = case.build(folder)
    kind = None if case.kind == "scene" else case.kind
    try:
        result: dict[str, str] = worker.call(TASK, str(path), kind, timeout_s=CASE_TIMEOUT_S)
    except WorkerTimeout:
        return {"end": "hang", "message": f"no answer in {CASE_TIMEOUT_S:g} s"}
    except WorkerOutOfMemory:
        return {"end": "memory_error", "message": f"past {WORKER_MEMORY_MB} MB"}
    except WorkerCrash as exc:
        return {"end": "crash", "message": str(exc)}
    except WorkerFailure as exc:
        return {"end": "traceback", "message": str(exc)}
    return result


def _check(worker: ResidentWorker, case: Case, folder: Path) -> None:
    result = _ending(worker, case, folder)
    ENDINGS[case.klass][result["end"]] += 1
    DETAILS[case.id] = result
    assert result["end"] in CLEAN, f"{case.id} ({case.kind}): {result['end']}: {result['message']}"


@pytest.mark.parametrize("case", STANDING, ids=[c.id for c in STANDING])
def test_a_malformed_input_ends_in_a_load_or_one_error_line(worker, case, tmp_path) -> None:
    _check(worker, case, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", SWEEP, ids=[c.id for c in SWEEP])
def test_the_wider_sweep_ends_cleanly_too(worker, case, tmp_path) -> None:
    _check(worker, case, tmp_path)
