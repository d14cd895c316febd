"""A process pool that works inside Lambda.

Lambda has no /dev/shm, so multiprocessing's semaphores, Queue, Pool and therefore
concurrent.futures.ProcessPoolExecutor fail there ("Function not implemented"). Process and
Pipe do work: each child gets a duplex pipe, the parent hands one task to every idle child and
the next one when a result comes back (so a slow file does not hold up the others). Children
are forked, so whatever the parent loaded before (the model) is shared with them, not loaded
again.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """A task's result, or the error it raised (type name and message)."""

    ok: bool
    value: Any = None
    error_type: str = ""
    error: str = ""


class WorkerCrashed(RuntimeError):
    """A child process died (killed, out of memory) instead of answering."""


def cpu_count() -> int:
    """The cores this process may run on (Lambda: 1 per 1,769 MB, up to 6)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _run(func: Callable[[Any], Any], task: Any) -> Outcome:
    try:
        return Outcome(ok=True, value=func(task))
    except Exception as err:  # noqa: BLE001 - reported per task, the pool carries on
        return Outcome(ok=False, error_type=type(err).__name__, error=str(err) or repr(err),
                       value=traceback.format_exc(limit=3))


def _child(conn: Connection, func: Callable[[Any], Any]) -> None:
    while True:
        task = conn.recv()
        if task is None:
            break
        index, payload = task
        conn.send((index, _run(func, payload)))
    conn.close()


def run_tasks(func: Callable[[Any], Any], tasks: Sequence[Any],
              processes: int = 0) -> list[Outcome]:
    """func(task) for every task, in `processes` forked children (0 = every core); outcomes
    in task order. With one process (or one task) everything runs here, without a fork."""
    processes = min(processes or cpu_count(), len(tasks))
    if processes <= 1:
        return [_run(func, task) for task in tasks]
    ctx = multiprocessing.get_context("fork")
    results: list[Outcome | None] = [None] * len(tasks)
    children, busy = [], {}
    for _ in range(processes):
        parent_end, child_end = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_child, args=(child_end, func), daemon=True)
        proc.start()
        child_end.close()
        children.append((proc, parent_end))
    pending = list(enumerate(tasks))[::-1]
    try:
        for proc, conn in children:
            if pending:
                task = pending.pop()
                conn.send(task)
                busy[conn] = (proc, task[0])
        while busy:
            for conn in wait(list(busy)):
                proc, index = busy.pop(conn)  # type: ignore[index]
                try:
                    done, outcome = conn.recv()  # type: ignore[union-attr]
                except EOFError:
                    proc.join(1)
                    results[index] = Outcome(ok=False, error_type=WorkerCrashed.__name__,
                                             error=f"worker process exited with code "
                                                   f"{proc.exitcode} while on this task")
                    continue
                results[done] = outcome
                if pending:
                    task = pending.pop()
                    conn.send(task)  # type: ignore[union-attr]
                    busy[conn] = (proc, task[0])
        # A task stranded by a crashed child (none is left pending unless every child died).
        for index, _task in pending:
            results[index] = Outcome(ok=False, error_type=WorkerCrashed.__name__,
                                     error="every worker process died before this task ran")
    finally:
        for _proc, conn in children:
            with contextlib.suppress(OSError):
                conn.send(None)
            conn.close()
        for proc, _conn in children:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return [r for r in results if r is not None]
