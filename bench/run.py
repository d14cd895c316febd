"""`make bench`: what localcloud itself costs, each figure beside a baseline from the same run.

1. Warm invocation overhead for a no-op handler: executor round trip (and boto3 Invoke through
   the embedded endpoint) against calling the handler in-process.
2. `localcloud invoke` wall time for a no-op handler, against starting Python and exiting.
3. `localcloud up` time to ready for the whole collection, against the same for the no-op app.

Results are printed and written to bench/results.md.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOOP = ROOT / "bench" / "noop"
LOCALCLOUD = [sys.executable, "-m", "localcloud.cli"]


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_warm_invoke(n: int = 500) -> dict[str, float]:
    from localcloud.cloud import LocalCloud

    sys.path.insert(0, str(NOOP / "fn"))
    import app  # the no-op handler itself, for the in-process baseline

    direct = []
    for _ in range(n):
        t = time.perf_counter()
        app.handler({}, None)
        direct.append(time.perf_counter() - t)
    with LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None) as cloud:
        cloud.deploy(template=NOOP / "template.yaml")
        name = cloud.find_function("NoopFunction").name
        cloud.invoke(name, {})  # cold start, not measured
        executor = []
        for _ in range(n):
            t = time.perf_counter()
            cloud.invoke(name, {})
            executor.append(time.perf_counter() - t)
        lam = cloud.client("lambda")
        via_api = []
        for _ in range(max(50, n // 5)):
            t = time.perf_counter()
            lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
            via_api.append(time.perf_counter() - t)
    return {"direct_ms": _median_ms(direct), "executor_ms": _median_ms(executor),
            "boto3_invoke_ms": _median_ms(via_api), "n": n}


def bench_cli_invoke(runs: int = 5) -> dict[str, float]:
    baseline, cli = [], []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - t)
        t = time.perf_counter()
        out = subprocess.run(LOCALCLOUD + ["invoke", "NoopFunction", "-t",
                                           str(NOOP / "template.yaml")],
                             check=True, capture_output=True, text=True, cwd=ROOT)
        cli.append(time.perf_counter() - t)
        assert json.loads(out.stdout) == {"ok": True}, out.stdout
    return {"python_start_s": statistics.median(baseline), "invoke_s": statistics.median(cli),
            "runs": runs}


def _time_up(extra: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.Popen(LOCALCLOUD + ["up", "--aws-port", "0", "--api-port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("localcloud ready"):
                return time.perf_counter() - t
        raise RuntimeError(f"localcloud up exited with {proc.wait()} before it was ready")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def bench_up(runs: int = 3) -> dict[str, float]:
    whole = [_time_up([]) for _ in range(runs)]
    from localcloud import cfn_yaml

    apps = sorted(p.stem for p in (ROOT / "stacks").glob("*.yaml"))
    smallest = [_time_up([apps[0]]) for _ in range(runs)] if apps else [0.0]
    root = cfn_yaml.load(ROOT / "template.yaml")
    return {"whole_s": statistics.median(whole), "one_app_s": statistics.median(smallest),
            "apps": len(apps), "resources_root": len(root.get("Resources", {})), "runs": runs}


def main() -> int:
    print("benchmark: warm invocation ...", flush=True)
    warm = bench_warm_invoke()
    print("benchmark: localcloud invoke wall time ...", flush=True)
    cli = bench_cli_invoke()
    print("benchmark: localcloud up time to ready ...", flush=True)
    up = bench_up()
    overhead = warm["executor_ms"] - warm["direct_ms"]
    lines = [
        "# localcloud benchmarks",
        "",
        f"Measured by `make bench` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}.",
        "",
        "| what | result | baseline (same run) | ratio | target |",
        "|---|---|---|---|---|",
        f"| warm invocation overhead, no-op handler (median of {warm['n']}) | "
        f"{overhead:.3f} ms (round trip {warm['executor_ms']:.3f} ms) | in-process call "
        f"{warm['direct_ms'] * 1000:.2f} us | {warm['executor_ms'] / warm['direct_ms']:.0f}x | "
        f"< 5 ms |",
        f"| boto3 Lambda Invoke through the embedded endpoint (median) | "
        f"{warm['boto3_invoke_ms']:.2f} ms | executor round trip {warm['executor_ms']:.3f} ms | "
        f"{warm['boto3_invoke_ms'] / warm['executor_ms']:.1f}x | - |",
        f"| `localcloud invoke` wall time, no-op handler (median of {cli['runs']}) | "
        f"{cli['invoke_s']:.2f} s | `python -c pass` {cli['python_start_s']:.3f} s | "
        f"{cli['invoke_s'] / cli['python_start_s']:.0f}x | < 1.5 s |",
        f"| `localcloud up` to ready, whole collection ({up['apps']} apps, median of "
        f"{up['runs']}) | {up['whole_s']:.2f} s | one app {up['one_app_s']:.2f} s | "
        f"{up['whole_s'] / up['one_app_s']:.1f}x | < 10 s |",
        "",
    ]
    text = "\n".join(lines)
    (ROOT / "bench" / "results.md").write_text(text)
    print(text)
    if "--platform-only" in sys.argv[1:]:  # just localcloud's own figures (bench/results.md)
        return 0
    import survival_api  # bench/survival_api.py (bench/ is on the path: this script's folder)

    survival_api.main([])  # writes bench/survival_api.md
    import crispr_targets  # bench/crispr_targets.py

    crispr_targets.main()  # writes bench/crispr_targets.md
    import dns_mirror  # bench/dns_mirror.py

    dns_mirror.main()  # writes the Benchmark section of functions/dns_mirror/README.md
    import booking  # bench/booking.py

    booking.main()  # writes bench/booking_results.md
    import dynamic_etl  # bench/dynamic_etl.py

    dynamic_etl.main()  # writes bench/dynamic_etl.md
    import data_quality  # bench/data_quality.py

    data_quality.main()  # writes bench/data_quality.md
    import vpn_usage  # bench/vpn_usage.py

    vpn_usage.main()  # writes bench/vpn_usage.md
    import stream_replication  # bench/stream_replication.py

    stream_replication.main()  # writes bench/stream_replication.md
    import collision_alerts  # bench/collision_alerts.py

    collision_alerts.main()  # writes bench/collision_alerts.md
    import batch_inference  # bench/batch_inference.py

    batch_inference.main()  # writes bench/batch_inference.md
    import image_embeddings  # bench/image_embeddings.py

    image_embeddings.main()  # writes bench/image_embeddings.md
    import s3_fanout_replication  # bench/s3_fanout_replication.py

    s3_fanout_replication.main()  # writes bench/s3_fanout_replication.md
    import guestbook  # bench/guestbook.py

    guestbook.main([])  # writes bench/guestbook.md
    import concurrency_demo  # bench/concurrency_demo.py

    concurrency_demo.main([])  # writes bench/concurrency_demo.md
    import image_pipeline  # bench/image_pipeline.py

    image_pipeline.main([])  # writes bench/image_pipeline.md
    import event_store  # bench/event_store.py

    event_store.main()  # writes bench/event_store.md
    import edge_ingest  # bench/edge_ingest.py

    edge_ingest.main()  # writes bench/edge_ingest.md
    import url_shortener  # bench/url_shortener.py

    url_shortener.main([])  # writes bench/url_shortener.md
    import s3_watcher  # bench/s3_watcher.py

    s3_watcher.main()  # writes bench/s3_watcher.md
    import document_watermark  # bench/document_watermark.py

    document_watermark.main([])  # writes bench/document_watermark.md
    import gateway_refresh  # bench/gateway_refresh.py

    gateway_refresh.main()  # writes bench/gateway_refresh.md
    import device_grant  # bench/device_grant.py

    device_grant.main([])  # writes bench/device_grant.md
    return 0


if __name__ == "__main__":
    sys.exit(main())
