"""Concurrency limits of the local runtime: a reservation changed at run time (the kill switch
and its removal, as Put/DeleteFunctionConcurrency do) and the unreserved cap
(LOCALCLOUD_MAX_CONCURRENCY), under which extra invocations wait instead of failing."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.runtime.executor import Executor, FunctionSpec, TooManyRequests

HANDLER = "import time\n\ndef sleep(event, context):\n    time.sleep(event['s'])\n    return 1\n"


@pytest.fixture
def executor() -> Iterator[Executor]:
    ex = Executor({"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, lambda *_: None)
    yield ex
    ex.close()


def register(ex: Executor, tmp_path: Path, **kw: object) -> str:
    (tmp_path / "app.py").write_text(HANDLER)
    ex.register(FunctionSpec(name="sleeper", arn="arn:aws:lambda:us-east-1:1:function:sleeper",
                             handler="app.sleep", code_dir=tmp_path, timeout=10,
                             **kw))  # type: ignore[arg-type]
    return "sleeper"


def test_reservation_changes_take_effect(executor: Executor, tmp_path: Path) -> None:
    name = register(executor, tmp_path, reserved_concurrency=1)
    assert executor.invoke(name, {"s": 0}).ok
    executor.set_reserved_concurrency(name, 0)
    with pytest.raises(TooManyRequests):
        executor.invoke(name, {"s": 0})
    executor.set_reserved_concurrency(name, None)
    assert executor.invoke(name, {"s": 0}).ok
    executor.set_reserved_concurrency("nobody", 3)  # unknown functions are ignored


def test_unreserved_cap_queues_instead_of_throttling(executor: Executor, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALCLOUD_MAX_CONCURRENCY", "2")
    name = register(executor, tmp_path)
    assert executor.pool(name).limit == 2  # type: ignore[union-attr]
    executor.invoke(name, {"s": 0})  # one warm worker
    results: list[bool] = []
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: results.append(
        executor.invoke(name, {"s": 0.6}).ok)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Four 0.6 s invocations, two at a time: about 1.2 s, all served.
    assert results == [True] * 4
    assert time.monotonic() - started >= 1.15
