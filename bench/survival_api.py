"""survival_api benchmark: the article's workload on localcloud, over HTTP.

1. Warm latency of one request of 20 genes x 480 samples (the article: ~2 s on Lambda;
   target < 150 ms), beside the same 20 fits done by the embedded R in-process (the floor).
2. Throughput for 20,000 genes in requests of 20 genes: two concurrent clients, so localcloud
   keeps two warm workers, one per core (as Lambda keeps one environment per concurrent
   request), beside one client on one worker.
3. The largest request the limits allow (100 genes x 2,000 samples) and the worker's peak
   memory, from which the template's timeout and memory were chosen.

    .venv/bin/python bench/survival_api.py [--genes 20000]

Writes bench/survival_api.md. `make bench` (bench/run.py) runs it too.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import socket
import statistics
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FUNCTION_DIR = ROOT / "functions" / "survival_api" / "survival"
RESULTS = ROOT / "bench" / "survival_api.md"
SAMPLES, GENES_PER_REQUEST = 480, 20


def _load_cohorts() -> Any:
    spec = importlib.util.spec_from_file_location(
        "survival_api_cohorts", ROOT / "functions" / "survival_api" / "cohorts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, data: bytes) -> dict[str, Any]:
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        body = json.loads(resp.read())
    if body.get("failed_rows"):
        raise RuntimeError(f"rows failed: {body['failed_rows']}")
    return body


def _request_bodies(times: list[float], events: list[int], genes: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    bodies = []
    for start in range(0, genes, GENES_PER_REQUEST):
        rows = rng.standard_normal((min(GENES_PER_REQUEST, genes - start), len(times)))
        bodies.append(json.dumps({"times": times, "events": events,
                                  "values_by_record": rows.tolist()}).encode())
    return bodies


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _throughput(url: str, bodies: list[bytes], clients: int) -> float:
    """Seconds to send every body with `clients` concurrent clients."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for body in pool.map(lambda data: _post(url, data), bodies):
            assert len(body["statistics_list"]) > 0
    return time.perf_counter() - started


def _in_process_r(cohort: Any, runs: int) -> list[float]:
    sys.path.insert(0, str(FUNCTION_DIR))
    from survival_r import SurvivalR

    r = SurvivalR()
    r.cox_rows(cohort.times, cohort.events, cohort.rows)  # warm
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        r.cox_rows(cohort.times, cohort.events, cohort.rows)
        samples.append(time.perf_counter() - t)
    return samples


def run(genes: int = 20000, latency_runs: int = 100) -> dict[str, Any]:
    from localcloud.cloud import LocalCloud

    load_before = os.getloadavg()[0]
    cohorts = _load_cohorts()
    cohort = cohorts.synthetic_cohort(2017, SAMPLES, GENES_PER_REQUEST, effects=(0.7,))
    # First, before this process holds anything else: the floor for the same 20 fits.
    r_only = _in_process_r(cohort, latency_runs)
    one_request = json.dumps(cohort.body()).encode()
    bodies = _request_bodies(cohort.times, cohort.events, genes, seed=1)
    big = cohorts.synthetic_cohort(3, 2000, 100, effects=(0.3,))
    big_body = json.dumps(big.body()).encode()

    with LocalCloud(aws_port=0, api_port=_free_port(), quiet=True,
                    log=lambda *_: None) as cloud:
        cloud.deploy(apps={"survival_api"})
        cloud.start_api()
        url = cloud.outputs()["survival_api"]["ApiUrl"] + "/survival"
        spec = cloud.find_function("survival_api/SurvivalFunction")

        t = time.perf_counter()
        _post(url, one_request)
        cold_s = time.perf_counter() - t
        for _ in range(5):
            _post(url, one_request)
        pool = cloud.executor.pool(spec.name) if cloud.executor else None
        (worker,) = pool._idle if pool else [None]  # one warm worker so far; a benchmark peeks
        worker_cpu = _cpu_seconds(worker.proc.pid) if worker else 0.0
        latency = []
        for _ in range(latency_runs):
            t = time.perf_counter()
            _post(url, one_request)
            latency.append(time.perf_counter() - t)
        if worker:
            worker_cpu = (_cpu_seconds(worker.proc.pid) - worker_cpu) / latency_runs

        _throughput(url, bodies[:4], clients=2)  # start the second worker, not measured
        one_client_n = max(1, len(bodies) // 10)
        one_client_s = _throughput(url, bodies[:one_client_n], clients=1)
        two_clients_s = _throughput(url, bodies, clients=2)

        big_times = []
        for _ in range(3):
            t = time.perf_counter()
            _post(url, big_body)
            big_times.append(time.perf_counter() - t)
        workers = list(pool._idle) if pool else []
        peak_mb = max((w.peak_rss_mb() for w in workers), default=0)

    return {
        "load": (load_before, os.getloadavg()[0]),
        "cold_s": cold_s,
        "latency_ms": {
            "median": statistics.median(latency) * 1000,
            "p90": float(np.percentile(latency, 90)) * 1000,
            "min": min(latency) * 1000,
            "runs": latency_runs,
        },
        "r_only_ms": statistics.median(r_only) * 1000,
        "worker_cpu_ms": worker_cpu * 1000,
        "genes": genes,
        "two_clients_s": two_clients_s,
        "two_clients_genes_per_s": genes / two_clients_s,
        "one_client_genes": one_client_n * GENES_PER_REQUEST,
        "one_client_genes_per_s": one_client_n * GENES_PER_REQUEST / one_client_s,
        "big_request_s": statistics.median(big_times),
        "big_request_bytes": len(big_body),
        "peak_rss_mb": peak_mb,
        "memory_mb": spec.memory_mb,
        "timeout_s": spec.timeout,
        "workers": len(workers),
    }


def report(result: dict[str, Any]) -> str:
    lat = result["latency_ms"]
    scale = result["two_clients_genes_per_s"] / result["one_client_genes_per_s"]
    lines = [
        "# survival_api benchmark",
        "",
        f"Measured by `bench/survival_api.py` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}: localcloud's API "
        "server over HTTP, the real handler and the system R. Load average (1 min) "
        f"{result['load'][0]:.2f} before, {result['load'][1]:.2f} after: the cores are shared, "
        "so a loaded machine gives slower numbers.",
        "",
        "| what | result | baseline (same run) | target |",
        "|---|---|---|---|",
        f"| warm request, 20 genes x 480 samples (median of {lat['runs']}) | "
        f"{lat['median']:.1f} ms (p90 {lat['p90']:.1f} ms) | the 20 fits in-process, R only: "
        f"{result['r_only_ms']:.1f} ms; the article on Lambda: ~2,000 ms | < 150 ms |",
        f"| CPU time of the function's worker per warm request (same runs) | "
        f"{result['worker_cpu_ms']:.1f} ms | - | - |",
        f"| cold start (first request: R and survival loaded) | {result['cold_s']:.2f} s | "
        "- | - |",
        f"| {result['genes']:,} genes in requests of 20, 2 concurrent clients | "
        f"{result['two_clients_genes_per_s']:.0f} genes/s ({result['two_clients_s']:.1f} s) | "
        f"1 client: {result['one_client_genes_per_s']:.0f} genes/s "
        f"({result['one_client_genes']:,} genes); {scale:.2f}x with 2 | both cores used |",
        f"| largest request allowed, 100 genes x 2,000 samples "
        f"({result['big_request_bytes'] / 1e6:.1f} MB of JSON) | "
        f"{result['big_request_s']:.2f} s | function timeout {result['timeout_s']:.0f} s | - |",
        f"| worker peak memory (VmHWM, {result['workers']} warm workers) | "
        f"{result['peak_rss_mb']} MB | MemorySize {result['memory_mb']} MB | - |",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--latency-runs", type=int, default=100)
    args = parser.parse_args(argv)
    print("benchmark: survival_api (20 genes x 480 samples; "
          f"{args.genes:,} genes throughput) ...", flush=True)
    text = report(run(args.genes, args.latency_runs))
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
