"""collision_alerts benchmark: samples/s through the filter and candidates/s through the
confirmation, and the AWS calls they make, on synthetic telemetry.

Clients are in-memory stand-ins that answer at once and count calls (the cache answers from a
dict), so the figures are the functions' own work. Baseline in the same run: the calls the
seed's first design needed for the same candidates (two Kinesis GetRecords per candidate for
X-1 and X+1, which Kinesis allows five times per second per shard).

Run alone with `.venv/bin/python bench/collision_alerts.py` (writes bench/collision_alerts.md);
`make bench` includes it.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DETECTOR = ROOT / "functions" / "collision_alerts" / "detector"
REPEATS = 5


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _setup() -> tuple[ModuleType, ModuleType]:
    for path in (ROOT / "layers" / "common", DETECTOR, ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1",
                       "POWERTOOLS_SERVICE_NAME": "collision_alerts",
                       "POWERTOOLS_METRICS_NAMESPACE": "bench", "POWERTOOLS_LOG_LEVEL": "ERROR",
                       "POWERTOOLS_TRACE_DISABLED": "true"}.items():
        os.environ.setdefault(key, value)
    return (_load(DETECTOR / "app.py", "bench_collision_app"),
            _load(ROOT / "functions" / "collision_alerts" / "demo.py", "bench_collision_demo"))


class Fake:
    """DynamoDB (the cache as a dict), Kinesis and SNS: at once, every call counted."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self._count("BatchWriteItem")
        for requests in RequestItems.values():
            for r in requests:
                item = r["PutRequest"]["Item"]
                self.items[(item["vehicle_id"]["S"], item["seq"]["N"])] = item
        return {}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self._count("BatchGetItem")
        out = {}
        for table, spec in RequestItems.items():
            keys = [(k["vehicle_id"]["S"], k["seq"]["N"]) for k in spec["Keys"]]
            out[table] = [self.items[k] for k in keys if k in self.items]
        return {"Responses": out}

    def put_records(self, StreamName: str, Records: list[Any]) -> dict[str, Any]:
        self._count("PutRecords")
        return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1"}] * len(Records)}

    def query(self, **kwargs: Any) -> dict[str, Any]:
        self._count("Query")
        return {"Items": []}

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        self._count("GetItem")
        return {}

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        self._count("PutItem")
        return {}

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self._count("UpdateItem")
        return {}

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self._count("Publish")
        return {"MessageId": "m"}


def _records(payloads: list[bytes]) -> list[dict[str, Any]]:
    return [{"kinesis": {"sequenceNumber": f"{i:056d}", "data": base64.b64encode(p).decode()},
             "eventID": f"shardId-000000000000:{i:056d}"} for i, p in enumerate(payloads)]


def measure(vehicles: int = 500, seconds: int = 20) -> dict[str, Any]:
    app, demo = _setup()
    from crash_stores import CrashAlerts, TelemetryCache
    from crash_telemetry import Thresholds

    kinds = {f"v{i}": demo.KINDS[i % len(demo.KINDS)] for i in range(vehicles)}
    fleet = demo.fleet(kinds, seconds=seconds, seed=1, start_ms=1_777_629_900_000)
    telemetry = _records([json.dumps(s).encode() for s in fleet.samples])
    thresholds = Thresholds()
    filter_times, sent = [], 0
    fake = Fake()
    cache = TelemetryCache(fake, "cache")
    for _ in range(REPEATS):
        fake.calls.clear()
        t = time.perf_counter()
        response, sent = app.filter_batch(telemetry, cache, fake, "candidates", thresholds,
                                          clock=lambda: 1000.0)
        filter_times.append(time.perf_counter() - t)
        assert response == {"batchItemFailures": []}
    filter_calls = dict(fake.calls)
    # Every sample as a candidate: the rule and the neighbour reads at full load.
    candidates = _records([json.dumps({"sample": s, "cached_at": 1000.0}).encode()
                           for s in fleet.samples])
    alerts = CrashAlerts(fake, fake, "crashes", "vehicles", "topic")
    confirm_times = []
    for _ in range(REPEATS):
        fake.calls.clear()
        t = time.perf_counter()
        response, alerted, reasons = app.confirm_batch(candidates, cache, alerts, thresholds,
                                                       wait_s=0, clock=lambda: 2000.0)
        confirm_times.append(time.perf_counter() - t)
    confirm_calls = dict(fake.calls)
    return {"samples": len(telemetry), "vehicles": vehicles, "seconds": seconds,
            "filter_rps": len(telemetry) / statistics.median(filter_times),
            "candidates_sent": sent, "filter_calls": filter_calls,
            "confirm_rps": len(candidates) / statistics.median(confirm_times),
            "confirm_calls": confirm_calls, "crashes": reasons.get("crash", 0),
            "expected_crashes": len(fleet.crashed)}


def report() -> list[str]:
    m = measure()
    fc, cc = m["filter_calls"], m["confirm_calls"]
    n = m["samples"]
    return [
        "",
        f"## collision_alerts: {n:,} samples ({m['vehicles']} vehicles x {m['seconds']} s) "
        "(bench/collision_alerts.py)",
        "",
        "| handler | throughput | AWS calls | seed's first design (same candidates) |",
        "|---|---|---|---|",
        f"| FilterFunction | {m['filter_rps']:,.0f} samples/s | "
        f"{fc.get('BatchWriteItem', 0)} BatchWriteItem (cache), {fc.get('PutRecords', 0)} "
        f"PutRecords ({m['candidates_sent']} candidates, "
        f"{100 * m['candidates_sent'] / n:.1f}% of the samples) | - |",
        f"| ConfirmFunction, every sample as a candidate | {m['confirm_rps']:,.0f} "
        f"candidates/s | {cc.get('BatchGetItem', 0)} BatchGetItem for {2 * n:,} neighbours; "
        f"{m['crashes']} crashes confirmed ({m['expected_crashes']} in the data) | "
        f"{2 * n:,} GetRecords (at 5 per second per shard: {2 * n / 5 / 60:.0f} shard-minutes) "
        f"|",
        "",
    ]


def main() -> int:
    """Print the results and write them to bench/collision_alerts.md."""
    text = "\n".join(["# collision_alerts benchmark", *report()])
    (ROOT / "bench" / "collision_alerts.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
