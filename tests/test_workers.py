"""The worker runner: results, a task's own errors, timeouts, memory limits and crashes."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from twin.errors import TaskError, WorkerCrash, WorkerFailure, WorkerOutOfMemory, WorkerTimeout
from twin.workers import Call, ForkServer, ResidentWorker, Task

FOLDER = Path(__file__).resolve().parent / "workers"


def task(name: str) -> Task:
    return Task("sample_tasks", name, FOLDER)


@pytest.fixture(scope="module")
def forks():
    server = ForkServer()
    yield server
    server.stop()


@pytest.fixture
def resident():
    worker = ResidentWorker(memory_mb=400)
    yield worker
    worker.stop()


def test_a_fork_returns_the_result_and_prints_do_not_garble_it(forks):
    assert forks.call(task("add"), 2, 3.5, timeout_s=30) == 5.5


def test_calls_run_side_by_side_in_their_own_processes(forks):
    pids = forks.run([Call(task("pid")) for _ in range(3)], timeout_s=30)
    assert len(set(pids)) == 3 and forks.pid not in pids


def test_a_task_error_names_its_type_message_and_line(forks):
    with pytest.raises(TaskError) as caught:
        forks.call(task("fail"), "bad value", timeout_s=30)
    assert caught.value.kind == "ValueError" and caught.value.message == "bad value"
    assert caught.value.where and caught.value.where.startswith("sample_tasks.py:")


def test_an_unknown_task_is_a_task_error(forks):
    with pytest.raises(TaskError, match="ModuleNotFoundError"):
        forks.call(Task("no_such_module", "f"), timeout_s=30)


def test_a_hang_is_killed_at_the_time_limit(forks):
    started = time.monotonic()
    with pytest.raises(WorkerTimeout, match="timed out after 1 s"):
        forks.call(task("hang"), timeout_s=1)
    assert time.monotonic() - started < 20
    assert forks.call(task("add"), 1, 1, timeout_s=30) == 2


def test_an_allocation_past_the_limit_fails_that_call_only(forks):
    with pytest.raises(WorkerOutOfMemory, match="limit 300 MB"):
        forks.call(task("allocate"), 1000, timeout_s=30, memory_mb=300)
    assert forks.call(task("allocate"), 10, timeout_s=30, memory_mb=300) == 10 << 20


def test_a_crash_reports_the_signal_and_the_last_output(forks):
    with pytest.raises(WorkerCrash) as caught:
        forks.call(task("abort"), timeout_s=30)
    assert caught.value.signal == signal.SIGABRT and "about to abort" in caught.value.stderr
    assert forks.call(task("add"), 1, 2, timeout_s=30) == 3


def test_a_batch_raises_its_first_failure(forks):
    with pytest.raises(TaskError):
        forks.run([Call(task("add"), (1, 2)), Call(task("fail"), ("second",))], timeout_s=30)


def test_forks_start_clean_and_a_killed_server_is_replaced(forks):
    assert forks.call(task("count"), timeout_s=30) == 1
    assert forks.call(task("count"), timeout_s=30) == 1
    os.kill(forks.pid, signal.SIGKILL)
    time.sleep(0.2)
    assert forks.call(task("add"), 2, 2, timeout_s=30) == 4


def test_warm_up_calls_run_once_in_the_server_before_any_fork():
    server = ForkServer(warm=[Call(task("count"))])
    try:
        assert server.call(task("count"), timeout_s=30) == 2
    finally:
        server.stop()


def wait_until_exists(path: Path) -> bool:
    for _ in range(300):
        if path.exists():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("kind", [ForkServer, ResidentWorker])
def test_start_returns_while_the_warm_up_still_runs_and_the_first_call_waits_for_it(kind, tmp_path):
    began, go = tmp_path / "began", tmp_path / "go"
    worker = kind(warm=[Call(task("touch"), (str(began),)), Call(task("wait_for"), (str(go),)), Call(task("count"))])
    try:
        worker.start()  # the warm-up blocks until `go` exists: start must not wait for it
        started = worker.pid
        assert started is not None and not go.exists()
        assert wait_until_exists(began)  # it warms before any call is made
        worker.start()  # a started worker is left as it is
        assert worker.pid == started
        go.touch()
        assert worker.call(task("count"), timeout_s=60) == 2  # the warm-up ran once, before the call
        assert worker.pid == started
    finally:
        worker.stop()


def test_start_leaves_a_busy_fork_server_alone(tmp_path):
    go = tmp_path / "go"
    server = ForkServer()
    try:
        batch = threading.Thread(target=server.call, args=(task("wait_for"), str(go)), kwargs={"timeout_s": 60})
        batch.start()
        for _ in range(600):
            if server.pid is not None:
                break
            time.sleep(0.05)
        server.start()  # returns although a batch holds the server
        assert batch.is_alive() and server.pid is not None
        go.touch()
        batch.join(60)
        assert not batch.is_alive()
    finally:
        server.stop()


def test_a_resident_worker_keeps_its_state_between_calls(resident):
    assert resident.call(task("count"), timeout_s=30) == 1
    assert resident.call(task("count"), timeout_s=30) == 2
    assert resident.call(task("add"), 1, 2, timeout_s=30) == 3


def test_a_resident_worker_that_hangs_or_crashes_is_replaced(resident):
    first = resident.call(task("pid"), timeout_s=30)
    with pytest.raises(WorkerTimeout):
        resident.call(task("hang"), timeout_s=0.5)
    second = resident.call(task("pid"), timeout_s=30)
    with pytest.raises(WorkerCrash) as caught:
        resident.call(task("abort"), timeout_s=30)
    assert caught.value.signal == signal.SIGABRT and "about to abort" in caught.value.stderr
    third = resident.call(task("pid"), timeout_s=30)
    assert len({first, second, third}) == 3


def test_a_resident_worker_has_a_memory_limit_for_the_whole_process(resident):
    with pytest.raises(WorkerOutOfMemory):
        resident.call(task("allocate"), 1000, timeout_s=30)
    assert resident.call(task("count"), timeout_s=30) == 1  # the same process carries on


def test_every_failure_is_a_worker_failure():
    assert all(issubclass(kind, WorkerFailure) for kind in (TaskError, WorkerTimeout, WorkerOutOfMemory, WorkerCrash))
