"""vpn_usage end to end on localcloud: the API, the usage stream, the aggregation, DynamoDB,
the data lake, the limit queue and the schedule, with the handlers running as deployed.

Each test uses its own account and device ids, so the tests share one deployment.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.demo import DemoContext

pytestmark = pytest.mark.integration
MiB = 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ctx() -> Iterator[DemoContext]:
    cloud = LocalCloud(aws_port=0, api_port=free_port(), quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"vpn_usage"})
        cloud.start_api()
        cloud.start_delivery()
        yield DemoContext(cloud, "vpn_usage")
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/vpn_usage/demo.py", "vpn_usage_demo_it")


@pytest.fixture
def base(ctx: DemoContext) -> str:
    url = ctx.outputs["ApiUrl"]
    assert url.startswith(f"http://127.0.0.1:{ctx.cloud.api_port}/")
    return url if url.endswith("/") else url + "/"


def prefix() -> str:
    return f"t{uuid.uuid4().hex[:6]}-"


def now_minute() -> int:
    now = int(time.time())
    return now - now % 60


def report(server: str, minute: int, entries: list[tuple[str, str, int, int]],
           reported_at: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"server_id": server, "minute": iso(minute), "usage": [
        {"account_id": a, "device_id": d, "bytes_in": i, "bytes_out": o}
        for a, d, i, o in entries]}
    if reported_at is not None:
        body["reported_at"] = iso(reported_at)
    return body


def iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def device_total(ctx: DemoContext, base: str, device: str) -> int | None:
    status, body = ctx.http("GET", f"{base}devices/{device}/usage")
    return body["total"]["bytes"] if status == 200 else None


def flush(ctx: DemoContext, base: str, demo: Any) -> None:
    """Wait until everything posted so far is aggregated: the stream is one ordered shard,
    so once a marker posted last is counted, every earlier record was processed."""
    marker = demo.generate_workload(start_minute=now_minute() - 600, minutes=1, servers=1,
                                    accounts=1, prefix=prefix() + "marker-", idle=0.0)
    demo.post_reports(ctx, base, marker.reports)
    demo.wait_for_device_totals(ctx, base, marker, timeout=60)


@pytest.mark.slow
def test_usage_totals_are_exact_for_a_minute_by_minute_workload(ctx, base, demo) -> None:
    start = now_minute() - 3 * 3600
    workload = demo.generate_workload(start_minute=start, minutes=120, servers=3, accounts=5,
                                      prefix=prefix(), seed=11)
    assert workload.entries > 900
    demo.post_reports(ctx, base, workload.reports)
    demo.wait_for_device_totals(ctx, base, workload, timeout=90)
    demo.check_lake(ctx.client("s3"), ctx.outputs["LakeBucketName"], workload)
    ddb = ctx.client("dynamodb")
    for (account, cycle), (b_in, b_out) in workload.account_cycles.items():
        row = ddb.get_item(TableName=ctx.outputs["AccountsTableName"], Key={
            "account_id": {"S": account}, "sk": {"S": f"cycle#{cycle}"}})["Item"]
        assert (int(row["bytes_in"]["N"]), int(row["bytes_out"]["N"])) == (b_in, b_out)
    device = sorted(workload.devices)[0]
    status, daily = ctx.http("GET", f"{base}devices/{device}/usage")
    assert status == 200 and daily["account_id"] == workload.devices[device]
    assert daily["total"]["bytes"] == workload.device_total(device)
    expected_days = sorted({day for d, day in workload.device_days if d == device})
    assert [row["date"] for row in daily["usage"]] == expected_days


def test_duplicates_within_the_window_are_dropped_and_outside_it_counted(ctx, base,
                                                                         demo) -> None:
    p = prefix()
    account, device = f"{p}acct", f"{p}phone"
    minute = now_minute() - 2 * 3600
    first = minute + 65
    entry = [(account, device, 5000, 700)]
    sends = [first, first, first + 49 * 60, first + 50 * 60, first + 55 * 60]
    for reported_at in sends:  # a retry, a re-send at 49 min, at 50 min, and again at 55 min
        status, body = ctx.http("POST", base + "usage", report(f"{p}edge", minute, entry,
                                                               reported_at))
        assert status == 202, body
    # The same minute from another server is another usage item: counted.
    ctx.http("POST", base + "usage", report(f"{p}edge-2", minute, entry, first))
    flush(ctx, base, demo)
    assert device_total(ctx, base, device) == 3 * 5700  # first, the 50-minute one, edge-2
    s3 = ctx.client("s3")
    expected = {(device,): [15000, 2100]}

    def lake() -> dict:
        return demo.lake_totals(s3, ctx.outputs["LakeBucketName"], "device_hourly",
                                ("device_id",), {device})

    # The lake object of a batch is written after its DynamoDB rows, which flush() waits for.
    ctx.wait_for("the lake rows of the batch", lambda: lake() == expected, timeout=30)
    assert lake() == expected


def test_an_account_over_its_quota_is_blocked_then_reopened_at_the_cycle_start(ctx, base,
                                                                               demo) -> None:
    p = prefix()
    heavy, light = f"{p}heavy", f"{p}light"
    minute = now_minute() - 180
    ctx.http("POST", base + "usage", report(f"{p}edge", minute, [
        (heavy, f"{heavy}-tv", 300 * MiB, 0), (light, f"{light}-tv", MiB, 0)]))
    flush(ctx, base, demo)
    status, view = ctx.http("GET", f"{base}accounts/{heavy}")
    assert status == 200 and view["status"] == "active"
    assert view["cycle"]["remaining_bytes"] == 500 * MiB - 300 * MiB
    ctx.http("POST", base + "usage", report(f"{p}edge", minute + 60, [
        (heavy, f"{heavy}-tv", 150 * MiB, 60 * MiB), (light, f"{light}-tv", MiB, 0)]))

    def blocked() -> dict[str, Any] | None:
        got = ctx.http("GET", f"{base}accounts/{heavy}")[1]
        return got if got.get("status") == "blocked" else None

    view = ctx.wait_for("the heavy account to be blocked", blocked, timeout=60)
    today = datetime.now(UTC)
    next_cycle = datetime(today.year + today.month // 12, today.month % 12 + 1, 1, tzinfo=UTC)
    assert view["blocked_until"] == next_cycle.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert view["cycle"]["usage_bytes"] == 510 * MiB and view["cycle"]["remaining_bytes"] == 0
    assert ctx.http("GET", f"{base}accounts/{light}")[1]["status"] == "active"

    def run_schedule(at: datetime) -> list[str]:
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {},
                 "time": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return [a for a in ctx.invoke("ReopenFunction", event)["reopened"] if a.startswith(p)]

    assert run_schedule(next_cycle - timedelta(seconds=1)) == []
    assert ctx.http("GET", f"{base}accounts/{heavy}")[1]["status"] == "blocked"
    assert run_schedule(next_cycle) == [heavy]
    assert ctx.http("GET", f"{base}accounts/{heavy}")[1]["status"] == "active"


def test_a_poison_record_goes_to_the_failure_queue_and_the_others_are_counted(ctx, base,
                                                                             demo) -> None:
    p = prefix()
    minute = now_minute() - 3600
    good = [json.dumps({"account_id": f"{p}acct", "device_id": f"{p}dev-{i}",
                        "server_id": "edge", "minute": minute, "reported_at": minute + 70,
                        "bytes_in": 1000 + i, "bytes_out": 1}) for i in range(4)]
    data = [good[0], good[1], "{this is not usage", good[2], good[3]]
    kinesis = ctx.client("kinesis")
    stream = ctx.outputs["UsageStreamName"]
    put = kinesis.put_records(StreamName=stream, Records=[
        {"Data": d.encode(), "PartitionKey": f"{p}acct"} for d in data])
    assert put["FailedRecordCount"] == 0
    poison_seq = put["Records"][2]["SequenceNumber"]
    sqs = ctx.client("sqs")
    url = ctx.outputs["AggregationFailureQueueUrl"]

    def failure() -> dict[str, Any] | None:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(m["Body"])
            if body["KinesisBatchInfo"]["startSequenceNumber"] == poison_seq:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                return body
        return None

    info = ctx.wait_for("the poison record's failure message", failure, timeout=60)
    batch = info["KinesisBatchInfo"]
    assert batch["batchSize"] == 1 and batch["endSequenceNumber"] == poison_seq
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    for i in range(4):  # every other record counted, exactly once
        assert ctx.wait_for(f"device {i}", lambda i=i: device_total(
            ctx, base, f"{p}dev-{i}")) == 1001 + i
    # The message holds the position: the record itself can be read back from the stream.
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=batch["shardId"],
                                          ShardIteratorType="AT_SEQUENCE_NUMBER",
                                          StartingSequenceNumber=poison_seq)["ShardIterator"]
    record = kinesis.get_records(ShardIterator=iterator, Limit=1)["Records"][0]
    assert record["Data"] == b"{this is not usage"


def test_the_api_answers_bad_requests_with_json_errors(ctx, base) -> None:
    status, body = ctx.http("POST", base + "usage", {"server_id": "edge", "minute": "soon",
                                                     "usage": []})
    assert (status, body["code"], body["field"]) == (400, 400, "minute")
    status, body = ctx.http("GET", f"{base}devices/{prefix()}never-seen/usage")
    assert status == 404 and "No usage recorded" in body["message"]
    status, body = ctx.http("GET", f"{base}accounts/bad%20id")
    assert (status, body["field"]) == (400, "account_id")
