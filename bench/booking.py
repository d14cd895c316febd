"""booking benchmarks (called by bench/run.py; also runs alone: python bench/booking.py).

1. Cold-start init of each booking function: importing its handler module, which creates its
   clients, tables and Powertools utilities (the seed's "init outside the handler"), in a fresh
   process each time, with Lambda's environment variables. Measured twice: as localcloud
   runs it (POWERTOOLS_TRACE_DISABLED) and as Lambda does (Tracer on: the X-Ray SDK loads and
   patches botocore). Baselines: `import boto3` alone, and starting an interpreter.
2. End-to-end booking latency on the local cloud, warm: POST /bookings -> GET /bookings/{id}
   says CONFIRMED (a client polling every 10 ms), sequentially, plus a burst of concurrent
   bookings on one flight.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STACK = ROOT / "stacks" / "booking.yaml"
LAYER = ROOT / "layers" / "common"
RESULTS = ROOT / "bench" / "booking_results.md"

# What the functions read at import; values only need to look right (no call is made).
FAKE_ENV = {
    "FLIGHT_TABLE_NAME": "flights", "BOOKING_TABLE_NAME": "bookings",
    "PAYMENT_LEDGER_TABLE_NAME": "ledger", "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "PROCESS_BOOKING_STATE_MACHINE_ARN":
        "arn:aws:states:us-east-1:123456789012:stateMachine:ProcessBooking",
    "PAYMENT_FAILURE_INJECTION": "enabled", "POWERTOOLS_SERVICE_NAME": "booking",
    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessAirline", "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
}
IMPORT_TIMER = ("import importlib, sys, time\n"
                "t = time.perf_counter()\n"
                "importlib.import_module(sys.argv[1])\n"
                "print((time.perf_counter() - t) * 1000)\n")


def functions() -> list[tuple[str, Path, str]]:
    """(logical id, code folder, handler module) of every function in the booking stack."""
    sys.path.insert(0, str(ROOT))
    from localcloud import cfn_yaml

    out = []
    for logical_id, res in cfn_yaml.load(STACK)["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            props = res["Properties"]
            code = (STACK.parent / props["CodeUri"]).resolve()
            out.append((logical_id, code, props["Handler"].rpartition(".")[0]))
    return out


def _init_ms(code: Path, module: str, lambda_like: bool) -> float:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
           **FAKE_ENV, "PYTHONPATH": os.pathsep.join([str(code), str(LAYER)]),
           "PYTHONDONTWRITEBYTECODE": "1",
           # Lambda's own variables, which localcloud's workers get too. Without them the X-Ray
           # SDK (even disabled) builds its sampler and a botocore client, ~100 ms more.
           "LAMBDA_TASK_ROOT": str(code), "AWS_LAMBDA_FUNCTION_NAME": "bench",
           "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
    if not lambda_like:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"  # as localcloud runs functions
    out = subprocess.run([sys.executable, "-c", IMPORT_TIMER, module], env=env, cwd=code,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench_cold_start(runs: int = 9) -> dict[str, Any]:
    """Median init (ms) per function, X-Ray off and on, and the baselines."""
    rows = []
    for logical_id, code, module in functions():
        _init_ms(code, module, False)  # first run warms the OS page cache, not measured
        local, lam = [], []
        for _ in range(runs):  # interleaved, so a burst of load hits both alike
            local.append(_init_ms(code, module, False))
            lam.append(_init_ms(code, module, True))
        rows.append({"function": logical_id, "local_ms": statistics.median(local),
                     "local_min_ms": min(local), "lambda_ms": statistics.median(lam),
                     "lambda_min_ms": min(lam)})
    boto3_ms = statistics.median(
        float(subprocess.run([sys.executable, "-c", IMPORT_TIMER, "boto3"], check=True,
                             capture_output=True, text=True).stdout) for _ in range(runs))
    starts = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        starts.append((time.perf_counter() - t) * 1000)
    return {"rows": rows, "boto3_ms": boto3_ms, "python_start_ms": statistics.median(starts),
            "runs": runs, "load": os.getloadavg()[0]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _book(base: str, flight: str, n: int) -> tuple[float, float, str]:
    """(POST latency s, POST -> CONFIRMED s, final status) of one booking."""
    t0 = time.perf_counter()
    status, accepted = _http("POST", f"{base}/bookings", {
        "customerId": f"bench-{n % 7}", "outboundFlightId": flight,
        "paymentToken": "tok_visa", "idempotencyKey": f"bench-{time.time_ns()}-{n}"})
    posted = time.perf_counter() - t0
    if status != 202:
        raise RuntimeError(f"POST /bookings answered {status}: {accepted}")
    while True:
        _, booking = _http("GET", f"{base}/bookings/{accepted['bookingId']}")
        if booking["status"] in ("CONFIRMED", "CANCELLED"):
            return posted, time.perf_counter() - t0, booking["status"]
        time.sleep(0.01)


def bench_end_to_end(n: int = 20, burst: int = 20) -> dict[str, Any]:
    """Warm sequential latency (median, p90) and a concurrent burst's wall time."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "functions" / "booking"))
    import seed

    from localcloud.cloud import LocalCloud

    big = seed.SeedFlight("flight-bench", "BN1", "LHR", "JFK", timedelta(days=30),
                          timedelta(hours=8), 45900, "GBP", 10_000)
    with LocalCloud(aws_port=0, api_port=_free_port(), quiet=True,
                    log=lambda *_: None) as cloud:
        cloud.deploy(apps={"booking"})
        cloud.start_api()
        cloud.start_delivery()
        outputs = cloud.outputs()["booking"]
        seed.seed_flights(cloud.client("dynamodb"), outputs["FlightTableName"], flights=(big,))
        base = outputs["BookingApiUrl"].rstrip("/")
        for i in range(3):  # cold starts of every function, not measured
            _book(base, big.id, -1 - i)
        samples = [_book(base, big.id, i) for i in range(n)]
        t = time.perf_counter()
        with ThreadPoolExecutor(burst) as pool:
            burst_out = list(pool.map(lambda i: _book(base, big.id, 1000 + i), range(burst)))
        burst_s = time.perf_counter() - t
    ends = sorted(s[1] for s in samples)
    assert all(s[2] == "CONFIRMED" for s in samples + burst_out)
    return {"n": n, "post_ms": statistics.median(s[0] for s in samples) * 1000,
            "e2e_ms": statistics.median(ends) * 1000,
            "e2e_p90_ms": ends[int(0.9 * (len(ends) - 1))] * 1000,
            "e2e_max_ms": ends[-1] * 1000, "burst": burst, "burst_s": burst_s}


def markdown(cold: dict[str, Any], e2e: dict[str, Any]) -> list[str]:
    lines = [
        "## booking",
        "",
        f"Cold-start init of each function (import of the handler module: Powertools, clients, "
        f"tables; a fresh process each time; median (min) of {cold['runs']}; load average "
        f"{cold['load']:.1f} on {os.cpu_count()} cores). Baselines: `import boto3` alone "
        f"{cold['boto3_ms']:.0f} ms; starting Python {cold['python_start_ms']:.0f} ms (not "
        f"included).",
        "",
        "| function | init, X-Ray off (localcloud) | init, X-Ray SDK on (as on Lambda) |",
        "|---|---|---|",
    ]
    for row in cold["rows"]:
        lines.append(f"| {row['function']} | {row['local_ms']:.0f} ms ({row['local_min_ms']:.0f})"
                     f" | {row['lambda_ms']:.0f} ms ({row['lambda_min_ms']:.0f}) |")
    lines += [
        "",
        f"End to end on the local cloud, warm, one booking at a time ({e2e['n']} bookings): "
        f"POST /bookings answers 202 in {e2e['post_ms']:.0f} ms (median); POST to GET showing "
        f"CONFIRMED takes {e2e['e2e_ms']:.0f} ms median, {e2e['e2e_p90_ms']:.0f} ms p90, "
        f"{e2e['e2e_max_ms']:.0f} ms max. A burst of {e2e['burst']} concurrent bookings: all "
        f"CONFIRMED in {e2e['burst_s']:.2f} s, including the cold starts of the extra workers "
        f"(one per concurrent request, as Lambda scales out).",
        "",
    ]
    return lines


def run() -> list[str]:
    """Both benchmarks; their markdown lines."""
    print("benchmark: booking cold-start init ...", flush=True)
    cold = bench_cold_start()
    print("benchmark: booking end-to-end latency ...", flush=True)
    e2e = bench_end_to_end()
    return markdown(cold, e2e)


def main() -> int:
    lines = run()
    text = "\n".join(lines)
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
