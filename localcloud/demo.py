"""`localcloud demo`: deploy the collection and run each app's scenario (functions/<app>/demo.py).

A scenario is a module with `run(ctx)`; it drives the app through its real entry points (API,
uploads, schedules, executions) and raises AssertionError when the app does not behave.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import traceback
import urllib.request
from pathlib import Path
from typing import Any

from .cloud import REPO_ROOT, LocalCloud
from .testing import free_port


class DemoContext:
    """What a scenario gets: its app's outputs, AWS clients, the API and progress output."""

    def __init__(self, cloud: LocalCloud, app: str) -> None:
        self.cloud = cloud
        self.app = app
        self.outputs: dict[str, Any] = cloud.outputs().get(app, {})
        self.root = REPO_ROOT

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    def step(self, message: str) -> None:
        print(f"  [{self.app}] {message}", flush=True)

    def invoke(self, function: str, event: Any) -> Any:
        """Invoke `<LogicalId>` of this app synchronously; returns the decoded response."""
        spec = self.cloud.find_function(f"{self.app}/{function}")
        result = self.cloud.invoke(spec.name, event)
        if not result.ok:
            raise AssertionError(f"{function} failed: {result.error}")
        return json.loads(result.payload or "null")

    def http(self, method: str, url: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """Call the app's API; returns (status, decoded JSON body or text)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def fire(self, schedule: str) -> dict[str, Any]:
        return self.cloud.scheduler.fire(f"{self.app}/{schedule}")

    def wait_for(self, what: str, check: Any, timeout: float = 30.0, every: float = 0.2) -> Any:
        """Poll `check()` until it returns something truthy; fail with `what` on timeout."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = check()
            if value:
                return value
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def discover(apps: list[str] | None = None) -> dict[str, Path]:
    found = {p.parent.name: p for p in sorted((REPO_ROOT / "functions").glob("*/demo.py"))}
    if apps:
        missing = [a for a in apps if a not in found]
        if missing:
            raise SystemExit(f"localcloud: no demo for {', '.join(missing)} "
                             f"(known: {', '.join(found)})")
        return {a: found[a] for a in apps}
    return found


def _load(app: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"demo_{app}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # Registered first, as an import would: dataclasses (and pickling) look the module up.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module



def run_demos(apps: list[str] | None = None, verbose: bool = False) -> int:
    """Run scenarios; returns the exit status (0 when all passed)."""
    scenarios = discover(apps)
    if not scenarios:
        print("localcloud: no app has a demo.py yet")
        return 1
    log = ((lambda name, line: sys.stderr.write(f"    [{name}] {line}\n")) if verbose
           else (lambda name, line: None))
    started = time.perf_counter()
    print(f"Deploying {len(scenarios)} app(s) to the embedded cloud ...", flush=True)
    results: list[tuple[str, bool, float, str]] = []
    with LocalCloud(aws_port=0, api_port=free_port(), log=log, quiet=not verbose) as cloud:
        cloud.deploy(apps=set(scenarios))
        cloud.start_api()
        cloud.start_delivery()
        print(f"Deployed in {time.perf_counter() - started:.2f} s", flush=True)
        for i, (app, path) in enumerate(scenarios.items(), 1):
            print(f"[{i}/{len(scenarios)}] {app}", flush=True)
            t0 = time.perf_counter()
            try:
                _load(app, path).run(DemoContext(cloud, app))
                ok, detail = True, ""
            except Exception as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}"
                if verbose or not isinstance(exc, AssertionError):
                    traceback.print_exc()
            results.append((app, ok, time.perf_counter() - t0, detail))
            print(f"  [{app}] {'PASSED' if ok else 'FAILED: ' + detail} "
                  f"({results[-1][2]:.1f} s)", flush=True)
    failed = [r for r in results if not r[1]]
    print(f"\n{len(results) - len(failed)}/{len(results)} scenarios passed in "
          f"{time.perf_counter() - started:.1f} s")
    for app, _, _, detail in failed:
        print(f"  FAILED {app}: {detail}")
    return 1 if failed else 0
