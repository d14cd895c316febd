"""stream_replication benchmark: both handlers on 10,000 records, and the calls they make.

- ReplicateFunction's batch path (BatchProcessor, JSON to DynamoDB items, BatchWriteItem in 25s)
  against the seed's put_item per record, both on clients that answer at once and count calls;
- ArchiveFunction's batch path (flattening, PutRecordBatch within 500 records / 4 MiB) against
  the seed's put_record per record.

Run alone with `.venv/bin/python bench/stream_replication.py` (writes
bench/stream_replication.md); `make bench` includes it.
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
FUNCTIONS = ROOT / "functions" / "stream_replication"
RECORDS = 10_000
REPEATS = 5


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _setup() -> tuple[ModuleType, ModuleType, ModuleType]:
    for path in (ROOT / "layers" / "common", FUNCTIONS / "replicate", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1",
                       "POWERTOOLS_SERVICE_NAME": "stream_replication",
                       "POWERTOOLS_METRICS_NAMESPACE": "bench", "POWERTOOLS_LOG_LEVEL": "ERROR",
                       "POWERTOOLS_TRACE_DISABLED": "true"}.items():
        os.environ.setdefault(key, value)
    return (_load(FUNCTIONS / "replicate" / "app.py", "bench_stream_replicate"),
            _load(FUNCTIONS / "archive" / "app.py", "bench_stream_archive"),
            _load(FUNCTIONS / "demo.py", "bench_stream_demo"))


class Counting:
    """DynamoDB and Firehose clients that answer at once and count calls."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self._count("BatchWriteItem")
        return {}

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        self._count("PutItem")
        return {}

    def put_record_batch(self, DeliveryStreamName: str, Records: list[Any]) -> dict[str, Any]:
        self._count("PutRecordBatch")
        return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "r"}] * len(Records)}

    def put_record(self, DeliveryStreamName: str, Record: dict[str, Any]) -> dict[str, Any]:
        self._count("PutRecord")
        return {"RecordId": "r"}


def kinesis_records(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"kinesis": {"sequenceNumber": f"4959{i:052d}",
                         "data": base64.b64encode(json.dumps(e).encode()).decode()},
             "eventID": f"shardId-000000000000:4959{i:052d}"} for i, e in enumerate(events)]


def stream_records(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"eventID": str(i), "eventName": "INSERT", "eventSource": "aws:dynamodb",
             "dynamodb": {"SequenceNumber": f"{i:021d}", "NewImage": item,
                          "StreamViewType": "NEW_IMAGE"}} for i, item in enumerate(items)]


def _median_rate(fn: Any, n: int) -> float:
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n / statistics.median(times)


def measure() -> dict[str, Any]:
    replicate, archive, demo = _setup()
    events = demo.web_events(RECORDS, seed=1, run="bench")
    records = kinesis_records(events)
    items = [replicate.record_handler(replicate.KinesisStreamRecord(r)) for r in records]
    changes = stream_records(items)

    batched = Counting()
    writer = replicate.ReplicaWriter(batched, "replica")
    replicate.handle_batch(records[:100], writer)  # warm
    batched.calls.clear()
    replicate_rps = _median_rate(lambda: replicate.handle_batch(records, writer), RECORDS)
    writes_batched = batched.calls["BatchWriteItem"] // REPEATS

    seed = Counting()

    def seed_replicate() -> None:  # the seed: parse, drop empties, put_item per record
        for r in records:
            payload = json.loads(base64.b64decode(r["kinesis"]["data"]))
            seed.put_item(TableName="replica", Item={k: v for k, v in payload.items()
                                                     if v is not None and v != ""})

    seed_replicate_rps = _median_rate(seed_replicate, RECORDS)

    firehose = Counting()
    archive.handle_batch(changes[:100], firehose, "archive")  # warm
    firehose.calls.clear()
    archive_rps = _median_rate(lambda: archive.handle_batch(changes, firehose, "archive"),
                               RECORDS)
    puts_batched = firehose.calls["PutRecordBatch"] // REPEATS
    seed_fh = Counting()

    def seed_archive() -> None:  # the seed: S/N/B values only, put_record per record
        for c in changes:
            row = {k: next(iter(v.values())) for k, v in c["dynamodb"]["NewImage"].items()
                   if next(iter(v)) in ("S", "N", "B")}
            seed_fh.put_record(DeliveryStreamName="archive",
                               Record={"Data": json.dumps(row) + "\n"})

    seed_archive_rps = _median_rate(seed_archive, RECORDS)
    return {"replicate_rps": replicate_rps, "writes": writes_batched,
            "seed_writes": seed.calls["PutItem"] // REPEATS, "seed_replicate_rps":
            seed_replicate_rps, "archive_rps": archive_rps, "puts": puts_batched,
            "seed_puts": seed_fh.calls["PutRecord"] // REPEATS,
            "seed_archive_rps": seed_archive_rps}


def report() -> list[str]:
    m = measure()
    return [
        "",
        f"## stream_replication: {RECORDS:,} records through each handler "
        "(bench/stream_replication.py)",
        "",
        "Clients answer at once and count calls: the figures are the functions' own work; on "
        "AWS each call also costs a round trip, which is what batching saves.",
        "",
        "| handler | records/s | AWS calls for 10,000 records | seed's way (same run) | "
        "calls saved |",
        "|---|---|---|---|---|",
        f"| ReplicateFunction (Kinesis -> DynamoDB) | {m['replicate_rps']:,.0f} | "
        f"{m['writes']:,} BatchWriteItem | {m['seed_writes']:,} PutItem, "
        f"{m['seed_replicate_rps']:,.0f} records/s | {m['seed_writes'] / m['writes']:.0f}x |",
        f"| ArchiveFunction (stream -> Firehose) | {m['archive_rps']:,.0f} | "
        f"{m['puts']:,} PutRecordBatch | {m['seed_puts']:,} PutRecord, "
        f"{m['seed_archive_rps']:,.0f} records/s | {m['seed_puts'] / m['puts']:.0f}x |",
        "",
    ]


def main() -> int:
    """Print the results and write them to bench/stream_replication.md."""
    text = "\n".join(["# stream_replication benchmark", *report()])
    (ROOT / "bench" / "stream_replication.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
