"""concurrency_demo on the local cloud: the scaled-down load test (loadtest.py --ci: 40
requests from 10 clients) without and with a reservation of 3, through the real API server,
workers and the Lambda API's PutFunctionConcurrency/DeleteFunctionConcurrency."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_ci_load_without_and_with_the_reservation(load_module: Any) -> None:
    loadtest = load_module("functions/concurrency_demo/loadtest.py", "concurrency_demo_lt_it")
    ci = loadtest.CI
    printed: list[str] = []
    without, reserved = loadtest.run_local(ci["requests"], ci["concurrency"], ci["reserved"],
                                           seed=2017, echo=printed.append)
    plan = loadtest.planned_sleeps(ci["requests"], 2017)
    # Unreserved: every request is served, after (about) the sleep it asked for.
    assert without.statuses == {200: ci["requests"]}
    assert without.percentile(10) >= 2.0 and without.percentile(99) < 5 + 2.0
    assert sum(without.latencies_s) >= sum(plan) * 0.95
    # Reserved 3: at most 3 run at a time; everything else is throttled at once (429).
    assert set(reserved.statuses) == {200, 429}
    assert 3 <= reserved.statuses[200] < ci["requests"] / 2
    throttled = sorted(reserved.latencies_s)[:reserved.statuses[429]]
    assert max(throttled) < 1.0
    assert reserved.wall_s < without.wall_s
    assert any("[429]" in text for text in printed)
    assert any("no reservation" in text for text in printed)
