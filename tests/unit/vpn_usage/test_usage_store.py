"""The aggregation's writes against moto: one write per distinct key, duplicates dropped across
batches and against concurrent writers, quota crossings reported once, the lake in step."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from usage_aggregation import Usage, iso_hour
from usage_store import Settings, UsageStore

T0 = int(datetime(2026, 5, 10, 9, 0, tzinfo=UTC).timestamp())
MiB = 2**20


def usage(device: str, minute_index: int, *, account: str = "acct-1", server: str = "edge-1",
          b_in: int = 1000, b_out: int = 100, delay: int = 65) -> Usage:
    minute = T0 + 60 * minute_index
    return Usage(account, device, server, minute, minute + delay, b_in, b_out)


def make_store(res: Any, **overrides: Any) -> UsageStore:
    settings = Settings(device_table=res.device_table, accounts_table=res.accounts_table,
                        lake_bucket=res.bucket, limit_queue_url=res.limit_queue_url,
                        **overrides)
    return UsageStore(res.ddb, res.s3, res.sqs, settings, clock=lambda: T0 + 3600)


def device_row(res: Any, device: str, minute_index: int = 0) -> dict[str, Any]:
    return res.ddb.get_item(TableName=res.device_table, Key={
        "device_id": {"S": device}, "hour": {"S": iso_hour(T0 + 60 * minute_index)}})["Item"]


def account_row(res: Any, account: str, sk: str) -> dict[str, Any]:
    return res.ddb.get_item(TableName=res.accounts_table, Key={
        "account_id": {"S": account}, "sk": {"S": sk}}).get("Item", {})


def lake(res: Any) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for obj in res.s3.list_objects_v2(Bucket=res.bucket).get("Contents", []):
        body = res.s3.get_object(Bucket=res.bucket, Key=obj["Key"])["Body"].read().decode()
        out[obj["Key"]] = [json.loads(line) for line in body.splitlines()]
    return out


def queued(res: Any) -> list[dict[str, Any]]:
    got = res.sqs.receive_message(QueueUrl=res.limit_queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_a_batch_costs_one_write_per_distinct_key(resources) -> None:
    store = make_store(resources)
    # 3 devices x 20 minutes in one hour of two accounts: 60 records.
    batch = [usage(f"dev-{d}", m, account=f"acct-{d % 2}") for m in range(20) for d in range(3)]
    result = store.process(batch, "shard-1-a-b")
    assert len(result.counted) == 60 and not result.dropped
    # 3 device-hours + 2 account-hours + 2 account-cycles; 60 records would be 180 naively.
    assert store.counters.dynamodb_writes == 7
    assert store.counters.dynamodb_reads == 1  # one BatchGetItem for the three device-hours
    row = device_row(resources, "dev-0")
    assert (row["bytes_in"]["N"], row["bytes_out"]["N"], row["records"]["N"]) == (
        "20000", "2000", "20")
    assert row["account_id"]["S"] == "acct-0" and row["version"]["N"] == "1"
    assert len(row["stamps"]["M"]) == 20
    assert account_row(resources, "acct-0", "cycle#2026-05")["bytes"]["N"] == str(40 * 1100)
    assert account_row(resources, "acct-1", f"hour#{iso_hour(T0)}")["records"]["N"] == "20"
    objects = lake(resources)
    assert sorted(objects) == [f"{d}/date=2026-05-10/shard-1-a-b.jsonl"
                               for d in ("account_hourly", "device_daily", "device_hourly")]
    assert sum(r["bytes_in"] for r in objects[
        "device_hourly/date=2026-05-10/shard-1-a-b.jsonl"]) == 60_000


def test_a_replayed_batch_changes_nothing(resources) -> None:
    store = make_store(resources)
    batch = [usage("dev-1", m) for m in range(5)]
    store.process(batch, "b1")
    writes = store.counters.dynamodb_writes
    again = store.process(batch, "b2")
    assert again.counted == [] and again.dropped == batch
    assert store.counters.dynamodb_writes == writes  # nothing new: no write at all
    assert device_row(resources, "dev-1")["bytes_in"]["N"] == "5000"
    assert account_row(resources, "acct-1", "cycle#2026-05")["bytes"]["N"] == "5500"
    assert [k for k in lake(resources) if "b2" in k] == []


def test_resent_within_the_window_is_dropped_and_after_it_counted(resources) -> None:
    store = make_store(resources)
    store.process([usage("dev-1", 0, delay=60)], "b1")
    within = store.process([usage("dev-1", 0, delay=60 + 49 * 60)], "b2")
    after = store.process([usage("dev-1", 0, delay=60 + 50 * 60)], "b3")
    assert (len(within.counted), len(after.counted)) == (0, 1)
    assert device_row(resources, "dev-1")["bytes_in"]["N"] == "2000"


def test_a_concurrent_writer_is_detected_and_its_items_not_counted_twice(resources) -> None:
    store = make_store(resources)
    first = [usage("dev-1", 0), usage("dev-1", 1)]
    store.process(first, "b1")
    # This writer read the row before the other one wrote it (it saw no row at all).
    counted, dropped = store.commit_device_hour("dev-1", T0, first + [usage("dev-1", 2)],
                                                known=None)
    assert counted == [usage("dev-1", 2)] and dropped == first
    row = device_row(resources, "dev-1")
    assert (row["bytes_in"]["N"], row["version"]["N"]) == ("3000", "2")


def test_crossing_the_quota_queues_one_cutoff_with_the_next_cycle_start(resources) -> None:
    store = make_store(resources, quota_bytes=10 * MiB)
    store.process([usage("dev-1", 0, b_in=6 * MiB, b_out=0)], "b1")
    assert queued(resources) == []
    over = store.process([usage("dev-1", 1, b_in=5 * MiB, b_out=0),
                          usage("dev-9", 1, account="acct-2", b_in=MiB, b_out=0)], "b2")
    expected = {"account_id": "acct-1", "cycle": "2026-05", "usage_bytes": 11 * MiB,
                "quota_bytes": 10 * MiB, "blocked_until": "2026-06-01T00:00:00+00:00"}
    assert over.over_quota == [expected]
    assert queued(resources) == [expected]
    assert account_row(resources, "acct-1", "cycle#2026-05")["cutoff_requested"]["BOOL"]
    store.process([usage("dev-1", 2, b_in=MiB, b_out=0)], "b3")  # still over: no new request
    assert queued(resources) == []


def test_a_failing_derived_write_is_reported_and_device_hours_stay(resources) -> None:
    store = make_store(resources)
    store.settings = Settings(**{**store.settings.__dict__, "accounts_table": "missing"})
    reported: list[tuple[str, Any]] = []
    result = store.process([usage("dev-1", 0)], "b1",
                           on_derived_error=lambda sink, err, rows: reported.append((sink, rows)))
    assert [sink for sink, _ in reported] == ["account_hour", "account_cycle"]
    assert reported[0][1]["bytes_in"] == 1000
    assert len(result.counted) == 1 and device_row(resources, "dev-1")["records"]["N"] == "1"
    assert len(lake(resources)) == 3  # the lake still gets the counted usage


def test_without_a_reporter_a_derived_failure_raises(resources) -> None:
    store = make_store(resources)
    store.settings = Settings(**{**store.settings.__dict__, "accounts_table": "missing"})
    with pytest.raises(Exception, match="ResourceNotFound|not found"):
        store.process([usage("dev-1", 0)], "b1")
