"""vpn_usage benchmark: the aggregation handler on batches of 10,000 usage records.

- records/s through the handler's batch path (Powertools BatchProcessor parsing, duplicate
  checks, aggregation, building the DynamoDB/S3 requests) with clients that answer at once, and
  through parsing and aggregation alone;
- DynamoDB writes per batch, counted at the client (every UpdateItem call), against a
  write-per-record baseline run on the same records in the same run;
- the same path against an in-process moto: the same write count, and none for a replay.

Run alone with `.venv/bin/python bench/vpn_usage.py` (writes bench/vpn_usage.md); `make bench`
includes it.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AGGREGATE = ROOT / "functions" / "vpn_usage" / "aggregate"
REPEATS = 5
HOUR0 = 1_778_403_600  # 2026-05-10T09:00:00Z


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _setup_paths() -> None:
    for path in (ROOT / "layers" / "common", AGGREGATE, ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "vpn_usage",
                       "POWERTOOLS_METRICS_NAMESPACE": "bench", "POWERTOOLS_LOG_LEVEL": "ERROR",
                       "POWERTOOLS_TRACE_DISABLED": "true"}.items():
        os.environ.setdefault(key, value)


def kinesis_batch(devices: int, minutes: int, seq0: int = 0) -> list[dict[str, Any]]:
    """`devices` x `minutes` usage records (two devices per account) as Kinesis records."""
    from usage_aggregation import Usage

    records = []
    seq = seq0
    for m in range(minutes):
        minute = HOUR0 + 60 * m
        for d in range(devices):
            u = Usage(f"acct-{d // 2}", f"dev-{d}", f"edge-{d % 7}", minute, minute + 65,
                      1000 + d, 100 + m)
            seq += 1
            sequence = f"{seq:056d}"
            records.append({"kinesis": {"sequenceNumber": sequence, "partitionKey": "p",
                                        "data": base64.b64encode(u.to_json().encode()).decode()},
                            "eventID": f"shardId-000000000000:{sequence}"})
    return records


def _count_calls(client: Any, operation: str) -> Callable[[], int]:
    count = [0]

    def hook(**_: Any) -> None:
        count[0] += 1

    client.meta.events.register(f"before-call.dynamodb.{operation}", hook)
    return lambda: count[0]


def _tables(ddb: Any) -> None:
    from localcloud import cfn_yaml

    template = cfn_yaml.load(ROOT / "stacks" / "vpn_usage.yaml")["Resources"]
    for logical_id, name in (("DeviceUsageTable", "devices"), ("AccountsTable", "accounts")):
        props = template[logical_id]["Properties"]
        kwargs = {"TableName": name, "KeySchema": props["KeySchema"],
                  "AttributeDefinitions": props["AttributeDefinitions"],
                  "BillingMode": "PAY_PER_REQUEST"}
        if "GlobalSecondaryIndexes" in props:
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        ddb.create_table(**kwargs)


def naive_write_per_record(ddb: Any, usages: list[Any]) -> None:
    """The baseline: each record added to its device-hour row as it comes (no aggregation,
    no duplicate check), the way usage was persisted before aggregating."""
    from usage_aggregation import iso_hour

    for u in usages:
        ddb.update_item(
            TableName="devices",
            Key={"device_id": {"S": u.device_id}, "hour": {"S": iso_hour(u.hour)}},
            UpdateExpression="SET account_id = :a ADD bytes_in :i, bytes_out :o, records :one",
            ExpressionAttributeValues={":a": {"S": u.account_id}, ":i": {"N": str(u.bytes_in)},
                                       ":o": {"N": str(u.bytes_out)}, ":one": {"N": "1"}})


class StubAws:
    """DynamoDB, S3 and SQS clients that answer at once and count the calls: what the handler
    costs itself, without an emulator's (or a network's) latency per call."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self._count("BatchGetItem")
        return {"Responses": {table: [] for table in RequestItems}}

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self._count("UpdateItem")
        return {"Attributes": {"bytes": {"N": "0"}}}

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self._count("PutObject")
        return {}

    def send_message_batch(self, QueueUrl: str, Entries: list[Any]) -> dict[str, Any]:
        self._count("SendMessageBatch")
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


def _moto_store(settings: Any) -> tuple[Any, Any, Callable[[], int]]:
    import boto3
    from usage_store import UsageStore

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    _tables(ddb)
    s3.create_bucket(Bucket="lake")
    url = sqs.create_queue(QueueName="limit")["QueueUrl"]
    store = UsageStore(ddb, s3, sqs, settings.__class__(**{**settings.__dict__,
                                                           "limit_queue_url": url}))
    return store, ddb, _count_calls(ddb, "UpdateItem")


def measure(shapes: tuple[tuple[int, int], ...] = ((500, 20), (167, 60)),
            emulated: tuple[int, int] = (167, 60)) -> dict[str, Any]:
    """Rows per batch shape (devices x minutes, about 10,000 records), stub and moto runs."""
    _setup_paths()
    from moto import mock_aws

    app = _load(AGGREGATE / "app.py", "bench_vpn_usage_aggregate")
    from usage_aggregation import aggregate, parse_usage
    from usage_store import Settings, UsageStore

    settings = Settings("devices", "accounts", "lake", "limit-url")
    warm = StubAws()
    app.handle_batch(kinesis_batch(50, 2), UsageStore(warm, warm, warm, settings))
    rows = []
    for devices, minutes in shapes:
        records = kinesis_batch(devices, minutes)
        usages = [parse_usage(base64.b64decode(r["kinesis"]["data"])) for r in records]
        handler_times, naive_times, pure_times = [], [], []
        for _ in range(REPEATS):  # a shared machine: the median of a few runs
            stub = StubAws()
            store = UsageStore(stub, stub, stub, settings)
            t = time.perf_counter()
            response, result = app.handle_batch(records, store)
            handler_times.append(time.perf_counter() - t)
            assert response == {"batchItemFailures": []}
            assert len(result.counted) == len(records)
            naive = StubAws()
            t = time.perf_counter()
            naive_write_per_record(naive, usages)
            naive_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            agg = aggregate(parse_usage(base64.b64decode(r["kinesis"]["data"])) for r in records)
            pure_times.append(time.perf_counter() - t)
        handler_s, naive_s, pure_s = (statistics.median(x) for x in (handler_times, naive_times,
                                                                     pure_times))
        rows.append({"devices": devices, "minutes": minutes, "records": len(records),
                     "handler_rps": len(records) / handler_s, "pure_rps": len(records) / pure_s,
                     "writes": stub.calls["UpdateItem"], "calls": dict(stub.calls),
                     "distinct_keys": len(agg.device_hours) + len(agg.account_hours)
                     + len(agg.account_cycles), "device_hours": len(agg.device_hours),
                     "naive_writes": naive.calls["UpdateItem"],
                     "naive_rps": len(records) / naive_s})
    # The same path against moto: the writes are real, the count is the same, a replay
    # of the batch writes nothing; the time is the emulator's.
    records = kinesis_batch(*emulated)
    with mock_aws():
        store, _, updates = _moto_store(settings)
        t = time.perf_counter()
        _, result = app.handle_batch(records, store)
        moto_s = time.perf_counter() - t
        writes = updates()
        _, again = app.handle_batch(records, store)
        replay_writes = updates() - writes
        assert len(result.counted) == len(records) and not again.counted
    return {"rows": rows, "moto": {"devices": emulated[0], "minutes": emulated[1],
                                   "records": len(records), "writes": writes,
                                   "replay_writes": replay_writes, "seconds": moto_s}}


def report() -> list[str]:
    """Markdown lines for bench/results.md."""
    measured = measure()
    lines = [
        "",
        "## vpn_usage: aggregation of 10,000-record batches (bench/vpn_usage.py)",
        "",
        "The handler's batch path (Powertools BatchProcessor, parsing, duplicate check, "
        "aggregation, request building) with AWS clients that answer at once and count calls; "
        "writes are UpdateItem calls. Baseline: the same records written one UpdateItem each.",
        "",
        "| batch | records/s, handler | records/s, parse + aggregate only | "
        "DynamoDB writes per batch | distinct keys | baseline writes (records/s) | "
        "writes saved | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in measured["rows"]:
        lines.append(
            f"| {r['records']:,} = {r['devices']} devices x {r['minutes']} min | "
            f"{r['handler_rps']:,.0f} | {r['pure_rps']:,.0f} | {r['writes']:,} | "
            f"{r['distinct_keys']:,} ({r['device_hours']} device-hours + account-hours + "
            f"account-cycles) | {r['naive_writes']:,} ({r['naive_rps']:,.0f}) | "
            f"{r['naive_writes'] / r['writes']:.0f}x | one write per distinct key: "
            f"{'met' if r['writes'] == r['distinct_keys'] else 'NOT met'} |")
    m = measured["moto"]
    lines += [
        "",
        f"Against moto (in-process), {m['records']:,} records ({m['devices']} devices x "
        f"{m['minutes']} min): {m['writes']:,} writes in {m['seconds']:.1f} s (the emulator's "
        f"time per call dominates); the same batch replayed: {m['replay_writes']} writes.",
        "",
    ]
    return lines


def main() -> int:
    """Print the results and write them to bench/vpn_usage.md."""
    text = "\n".join(["# vpn_usage benchmark", *report()])
    (ROOT / "bench" / "vpn_usage.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
