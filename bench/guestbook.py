"""guestbook benchmark (called by bench/run.py; also runs alone: python bench/guestbook.py).

API request latency through localcloud's API server (what `localcloud start-api` serves):
the guestbook deployed on an embedded cloud, warmed up, then 50 concurrent clients send
POST /sign and GET /list?limit=25 requests (half each, interleaved) over HTTP keep-alive-less
urllib, as `hey -c 50` would. Reports p50/p90/p99 per route, throughput and status counts.
Writes bench/guestbook.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "guestbook.md"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def _request(base: str, i: int) -> tuple[str, int, float]:
    if i % 2:
        route, req = "GET /list", urllib.request.Request(f"{base}/list?limit=25")
    else:
        body = json.dumps({"message": f"bench message {i}"}).encode()
        route, req = "POST /sign", urllib.request.Request(
            f"{base}/sign", data=body, method="POST",
            headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()
            status = resp.status
    except urllib.error.HTTPError as err:
        status = err.code
    return route, status, time.perf_counter() - t


def measure(requests: int, concurrency: int) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from localcloud.cloud import LocalCloud

    with LocalCloud(aws_port=0, api_port=_free_port(), quiet=True,
                    log=lambda *_: None) as cloud:
        cloud.deploy(apps={"guestbook"})
        cloud.start_api()
        base = cloud.outputs()["guestbook"]["GuestbookApiUrl"].rstrip("/")
        # Warm: one worker per concurrent request the executor will run.
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda i: _request(base, i), range(concurrency * 2)))
        # Baseline from the same run: one client, no queueing.
        single = [_request(base, i)[2] for i in range(100)]
        t = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(lambda i: _request(base, i), range(requests)))
        wall = time.perf_counter() - t
    out: dict[str, object] = {"single_p50": _pct(single, 50), "single_p99": _pct(single, 99),
                              "requests": requests, "concurrency": concurrency,
                              "wall_s": wall, "rps": requests / wall,
                              "status": dict(Counter(s for _, s, _ in results))}
    for route in ("POST /sign", "GET /list"):
        lat = [d for r, _, d in results if r == route]
        out[route] = {"p50": _pct(lat, 50), "p90": _pct(lat, 90), "p99": _pct(lat, 99),
                      "mean": statistics.mean(lat) * 1000}
    lat = [d for _, _, d in results]
    out["all"] = {"p50": _pct(lat, 50), "p90": _pct(lat, 90), "p99": _pct(lat, 99),
                  "mean": statistics.mean(lat) * 1000}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args(argv or [])
    print(f"benchmark: guestbook API, {args.requests} requests at {args.concurrency} "
          f"concurrent ...", flush=True)
    r = measure(args.requests, args.concurrency)
    rows = [f"| {name} | {r[name]['p50']:.1f} | {r[name]['p90']:.1f} | {r[name]['p99']:.1f} | "
            f"{r[name]['mean']:.1f} |" for name in ("POST /sign", "GET /list", "all")]
    text = "\n".join([
        "# guestbook benchmark",
        "",
        f"`python bench/guestbook.py` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}: {r['requests']} "
        f"requests (half POST /sign, half GET /list?limit=25) from {r['concurrency']} "
        f"concurrent clients through localcloud's API server (warm workers).",
        "",
        "| route | p50 ms | p90 ms | p99 ms | mean ms |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Throughput {r['rps']:.0f} requests/s over {r['wall_s']:.1f} s; status counts "
        f"{json.dumps(r['status'])}. Baseline, one client (100 requests): p50 "
        f"{r['single_p50']:.1f} ms, p99 {r['single_p99']:.1f} ms. At 50 concurrent the "
        f"latency is queueing: localcloud runs at most 16 workers per function without "
        f"reserved concurrency, and 2 cores serve the API, the workers and moto.",
        "",
    ])
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
