"""The concurrency_demo scenario for `localcloud demo`.

Show the stack's reservation (25), call GET /sleep, reserve 2 and send 5 requests at once
(2 answered after their sleep, 3 throttled with 429 at once), pull the kill switch (every
request 429, the handler never runs), clear the reservation (served again), send bad input
(400), and put the stack's 25 back. The changes go through concurrency.py, the same commands
a user runs. AssertionError when anything misbehaves.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _commands() -> Any:
    name = "concurrency_demo_commands"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "concurrency.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def burst(ctx: Any, url: str, n: int) -> list[tuple[int, float]]:
    start = threading.Barrier(n)

    def one(_: int) -> tuple[int, float]:
        start.wait()
        t = time.perf_counter()
        status, _body = ctx.http("GET", url)
        return status, time.perf_counter() - t

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def run(ctx: Any) -> None:
    cmd = _commands()
    base = ctx.outputs.get("SleepApiUrl", "").rstrip("/")
    name = ctx.outputs.get("SleepFunctionName")
    expect(bool(base and name), "stack outputs SleepApiUrl/SleepFunctionName are missing")
    lam = ctx.client("lambda")
    shown = cmd.show(lam, name)
    expect(shown["reservedConcurrentExecutions"] == 25, f"stack reservation: {shown}")
    ctx.step(f"show: {shown['state']}")

    status, body = ctx.http("GET", f"{base}/sleep")
    expect(status == 200 and 2 <= body["slept"] <= 5, f"GET /sleep: {status} {body}")
    ctx.step(f"GET /sleep -> 200 {body['message']!r}")

    ctx.step(f"set 2: {cmd.set_reservation(lam, name, 2)['state']}")
    results = burst(ctx, f"{base}/sleep?seconds=2", 5)
    codes = sorted(s for s, _ in results)
    expect(codes == [200, 200, 429, 429, 429], f"5 at once with 2 reserved: {codes}")
    slow = max(d for s, d in results if s == 429)
    expect(slow < 1.5, f"a throttled request took {slow:.2f} s")
    ctx.step(f"5 requests at once -> {codes} (the 429s in at most {slow * 1000:.0f} ms)")

    ctx.step(f"kill: {cmd.set_reservation(lam, name, 0)['state']}")
    status, body = ctx.http("GET", f"{base}/sleep?seconds=2")
    expect(status == 429, f"with the kill switch: {status} {body}")
    ctx.step(f"GET /sleep -> {status} {body}")

    ctx.step(f"clear: {cmd.clear(lam, name)['state']}")
    status, body = ctx.http("GET", f"{base}/sleep?seconds=2")
    expect(status == 200 and body["slept"] == 2, f"after clear: {status} {body}")
    ctx.step(f"GET /sleep?seconds=2 -> 200 {body['message']!r}")

    status, body = ctx.http("GET", f"{base}/sleep?seconds=9")
    expect(status == 400 and body.get("field") == "seconds", f"bad input: {status} {body}")
    ctx.step(f"GET /sleep?seconds=9 -> 400 {body['message']}")
    ctx.step(f"set 25 (the stack's): {cmd.set_reservation(lam, name, 25)['state']}")
