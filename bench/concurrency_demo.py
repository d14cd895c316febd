"""concurrency_demo benchmark (called by bench/run.py; also runs alone).

The seed's load test on the local cloud (functions/concurrency_demo/loadtest.py --local):
GET /sleep (2-5 s, a seeded plan) from 50 concurrent clients, without a reservation, then
with 25 reserved. `make bench` runs 1,000 requests (about 80 s); `--full` runs the seed's
5,000 (about 7 minutes). Writes bench/concurrency_demo.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "concurrency_demo.md"


def _loadtest() -> object:
    spec = importlib.util.spec_from_file_location(
        "concurrency_demo_loadtest", ROOT / "functions" / "concurrency_demo" / "loadtest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the seed's 5,000 requests")
    parser.add_argument("--requests", type=int)
    args = parser.parse_args(argv or [])
    lt: object = _loadtest()
    requests = args.requests or (5000 if args.full else 1000)
    print(f"benchmark: concurrency_demo load test, {requests} requests at 50 concurrent, "
          f"without and with 25 reserved ...", flush=True)
    without, reserved = lt.run_local(requests, 50, 25, seed=2017,  # type: ignore[attr-defined]
                                     echo=lambda _: None)
    rows = []
    for s, label in ((without, "no reservation"), (reserved, "reserved 25")):
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(s.statuses.items()))
        rows.append(f"| {label} | {s.wall_s:.1f} | {s.requests / s.wall_s:.1f} | "
                    + " | ".join(f"{s.percentile(p):.3f}" for p in (10, 50, 75, 90, 99))
                    + f" | {codes} |")
    text = "\n".join([
        "# concurrency_demo load test",
        "",
        f"`python bench/concurrency_demo.py{' --full' if args.full else ''}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}: {requests} GET /sleep (2-5 s each, seed 2017) from 50 "
        f"concurrent clients through localcloud's API server (`hey -n {requests} -c 50`).",
        "",
        "| run | total s | req/s | p10 s | p50 s | p75 s | p90 s | p99 s | status codes |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ])
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
