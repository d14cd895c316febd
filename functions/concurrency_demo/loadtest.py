"""The seed's load test (`hey -n 5000 -c 50`), reproducible, with and without the reservation.

    python functions/concurrency_demo/loadtest.py --local            # 5,000 requests, 50 clients
    python functions/concurrency_demo/loadtest.py --local --ci       # scaled down for CI
    python functions/concurrency_demo/loadtest.py --url https://.../ # a deployed API, as is

`--local` deploys concurrency_demo on an embedded local cloud and runs the test twice: first
with the reservation cleared (the function may use as many environments as there are clients,
as in the account's unreserved pool), then with `--reserved` (default 25) reserved. Each
request asks for a sleep drawn from a seeded generator (`?seconds=2..5`), so every run sends
the same requests; the output is hey's: latency distribution and status code counts.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

PERCENTILES = (10, 25, 50, 75, 90, 95, 99)
FULL = {"requests": 5000, "concurrency": 50, "reserved": 25}
CI = {"requests": 40, "concurrency": 10, "reserved": 3}


@dataclass
class Summary:
    """What hey prints: total time, latencies, status code distribution."""

    label: str
    wall_s: float
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in seconds."""
        ordered = sorted(self.latencies_s)
        rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least 1
        return ordered[int(rank) - 1]

    def text(self) -> str:
        lat = self.latencies_s
        lines = [f"{self.label}", "Summary:",
                 f"  Total:\t{self.wall_s:.4f} secs",
                 f"  Slowest:\t{max(lat):.4f} secs", f"  Fastest:\t{min(lat):.4f} secs",
                 f"  Average:\t{sum(lat) / len(lat):.4f} secs",
                 f"  Requests/sec:\t{self.requests / self.wall_s:.4f}", "",
                 "Latency distribution:"]
        lines += [f"  {p}% in {self.percentile(p):.4f} secs" for p in PERCENTILES]
        lines += ["", "Status code distribution:"]
        lines += [f"  [{code}] {n} responses" for code, n in sorted(self.statuses.items())]
        return "\n".join(lines)


def planned_sleeps(requests: int, seed: int) -> list[int]:
    """The sleep each request asks for: the same list for the same seed."""
    rng = random.Random(seed)
    return [rng.randint(2, 5) for _ in range(requests)]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as err:
        err.read()
        return int(err.code)
    except OSError:
        return 0  # connection error: hey reports these apart from status codes


def run_load(url: str, requests: int, concurrency: int, seed: int, label: str = "",
             get: Callable[[str], int] = _get) -> Summary:
    """`requests` GET /sleep from `concurrency` clients, each taking the next planned request."""
    sleeps = planned_sleeps(requests, seed)
    base = url.rstrip("/")
    lock = threading.Lock()
    summary = Summary(label=label, wall_s=0.0)
    queue = iter(range(requests))

    def client() -> None:
        while True:
            with lock:
                i = next(queue, None)
            if i is None:
                return
            t = time.perf_counter()
            status = get(f"{base}/sleep?seconds={sleeps[i]}")
            took = time.perf_counter() - t
            with lock:
                summary.latencies_s.append(took)
                summary.statuses[status] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(client)
    summary.wall_s = time.perf_counter() - started
    return summary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_local(requests: int, concurrency: int, reserved: int, seed: int,
              echo: Callable[[str], None] = print) -> tuple[Summary, Summary]:
    """Deploy concurrency_demo locally; the load without, then with, the reservation."""
    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from concurrency import clear, set_reservation

    from localcloud.cloud import LocalCloud

    # Without a reservation Lambda runs one environment per concurrent request (up to the
    # account's 1,000); localcloud's default cap of 16 would queue the clients instead.
    saved = os.environ.get("LOCALCLOUD_MAX_CONCURRENCY")
    os.environ["LOCALCLOUD_MAX_CONCURRENCY"] = str(max(concurrency, 16))
    try:
        with LocalCloud(aws_port=0, api_port=_free_port(), quiet=True,
                        log=lambda *_: None) as cloud:
            cloud.deploy(apps={"concurrency_demo"})
            cloud.start_api()
            out = cloud.outputs()["concurrency_demo"]
            url, name = out["SleepApiUrl"], out["SleepFunctionName"]
            lam = cloud.client("lambda")
            echo(f"cleared: {clear(lam, name)['state']}")
            without = run_load(url, requests, concurrency, seed,
                               f"-n {requests} -c {concurrency}, no reservation")
            echo(without.text())
            echo(f"reserved: {set_reservation(lam, name, reserved)['state']}")
            with_res = run_load(url, requests, concurrency, seed,
                                f"-n {requests} -c {concurrency}, reserved concurrency "
                                f"{reserved}")
            echo(with_res.text())
            return without, with_res
    finally:
        if saved is None:
            os.environ.pop("LOCALCLOUD_MAX_CONCURRENCY", None)
        else:
            os.environ["LOCALCLOUD_MAX_CONCURRENCY"] = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--local", action="store_true", help="deploy on a local cloud")
    target.add_argument("--url", help="base URL of a deployed API (SleepApiUrl output)")
    parser.add_argument("--ci", action="store_true",
                        help=f"scaled down: {CI['requests']} requests, {CI['concurrency']} "
                             f"clients, reservation {CI['reserved']}")
    parser.add_argument("--requests", "-n", type=int)
    parser.add_argument("--concurrency", "-c", type=int)
    parser.add_argument("--reserved", type=int, help="reservation of the second run (--local)")
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args(argv)
    scale = dict(CI if args.ci else FULL)
    for key in scale:
        if getattr(args, key) is not None:
            scale[key] = getattr(args, key)
    if args.local:
        run_local(scale["requests"], scale["concurrency"], scale["reserved"], args.seed)
    else:
        print(run_load(args.url, scale["requests"], scale["concurrency"], args.seed,
                       f"-n {scale['requests']} -c {scale['concurrency']} {args.url}").text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
