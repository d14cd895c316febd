"""The Lambda-safe process pool: every core used, results in order, failures per task."""

from __future__ import annotations

import os
import time

import process_pool as pool


def _work(n: int) -> tuple[int, int]:
    # Busy for a moment, so both children get tasks.
    deadline = time.perf_counter() + 0.05
    while time.perf_counter() < deadline:
        pass
    return os.getpid(), n * n


def _fails_on_odd(n: int) -> int:
    if n % 2:
        raise ValueError(f"odd {n}")
    return n


def _dies_on_three(n: int) -> int:
    if n == 3:
        os._exit(7)
    return n


def test_two_processes_share_the_tasks_and_keep_their_order() -> None:
    outcomes = pool.run_tasks(_work, list(range(8)), processes=2)
    assert [o.value[1] for o in outcomes] == [n * n for n in range(8)]
    pids = {o.value[0] for o in outcomes}
    assert len(pids) == 2 and os.getpid() not in pids


def test_one_process_runs_in_this_process() -> None:
    outcomes = pool.run_tasks(_work, [1, 2], processes=1)
    assert {o.value[0] for o in outcomes} == {os.getpid()}


def test_a_failing_task_is_reported_and_the_others_finish() -> None:
    outcomes = pool.run_tasks(_fails_on_odd, list(range(6)), processes=2)
    assert [o.ok for o in outcomes] == [True, False] * 3
    assert outcomes[1].error_type == "ValueError" and outcomes[1].error == "odd 1"
    assert [o.value for o in outcomes if o.ok] == [0, 2, 4]


def test_a_dying_child_fails_only_its_task() -> None:
    outcomes = pool.run_tasks(_dies_on_three, list(range(6)), processes=2)
    assert outcomes[3].error_type == "WorkerCrashed" and "code 7" in outcomes[3].error
    assert [o.value for i, o in enumerate(outcomes) if i != 3] == [0, 1, 2, 4, 5]


def test_cpu_count_is_what_this_process_may_use() -> None:
    assert pool.cpu_count() == len(os.sched_getaffinity(0))
