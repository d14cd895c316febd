"""collision_alerts end to end on localcloud: telemetry stream -> filter (cache, candidate
stream) -> confirmation -> crashes table -> SNS -> the owner's subscription."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.demo import DemoContext

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ctx() -> Iterator[DemoContext]:
    cloud = LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"collision_alerts"})
        cloud.start_delivery()
        yield DemoContext(cloud, "collision_alerts")
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/collision_alerts/demo.py", "collision_alerts_demo_it")


def prefix() -> str:
    return f"t{uuid.uuid4().hex[:6]}-"


def collect(ctx: DemoContext, demo: Any, url: str, until: Any, timeout: float = 60) -> list:
    got: list[dict[str, Any]] = []

    def check() -> bool:
        got.extend(demo.drain(ctx.client("sqs"), url))
        return until(got)

    ctx.wait_for("alerts", check, timeout=timeout)
    return got


def test_crashes_are_alerted_once_and_spikes_and_glitches_never(ctx, demo) -> None:
    out, p = ctx.outputs, prefix()
    f = demo.scenario_fleet(p, per_kind=3, seed=17)
    owners = demo.register(ctx.client("dynamodb"), out["VehiclesTableName"], sorted(f.kinds))
    url = demo.subscribe_queue(ctx, out["CrashAlertsTopicArn"], f"{p}inbox",
                               sorted(set(owners.values())))
    demo.put_telemetry(ctx.client("kinesis"), out["TelemetryStreamName"], f.samples)
    alerts = collect(ctx, demo, url, lambda got: {a["vehicle_id"] for a in got} >= f.crashed)
    time.sleep(3)  # a late false alarm or repeat would arrive by now
    alerts += demo.drain(ctx.client("sqs"), url)
    assert sorted(a["vehicle_id"] for a in alerts) == sorted(f.crashed)
    for a in alerts:
        assert a["owner_id"] == owners[a["vehicle_id"]]
        assert a["seq"] == f.crash_seq[a["vehicle_id"]]
        assert a["speed_before_kph"] - a["speed_after_kph"] >= 10
    silent = [a for a in alerts if "silence" in a["vehicle_id"]]
    assert silent and all(len(a["window"]) == 2 for a in silent)  # judged without X+1
    stored = demo.crashes_of(ctx.client("dynamodb"), out["CrashesTableName"], set(f.kinds))
    assert set(stored) == f.crashed
    assert all(len(v) == 1 and v[0]["notified"] for v in stored.values())


def test_a_late_next_sample_is_waited_for_and_a_replay_alerts_nobody_again(ctx, demo) -> None:
    out, p = ctx.outputs, prefix()
    vehicle = f"{p}late"
    f = demo.fleet({vehicle: "crash"}, seconds=20, seed=5)
    owners = demo.register(ctx.client("dynamodb"), out["VehiclesTableName"], [vehicle])
    url = demo.subscribe_queue(ctx, out["CrashAlertsTopicArn"], f"{p}inbox",
                               [owners[vehicle]])
    x = f.crash_seq[vehicle]
    kinesis, stream = ctx.client("kinesis"), out["TelemetryStreamName"]
    demo.put_telemetry(kinesis, stream, [s for s in f.samples if s["seq"] <= x])
    time.sleep(2.5)  # X+1 reaches the stream well after X was filtered
    demo.put_telemetry(kinesis, stream, [s for s in f.samples if s["seq"] > x])
    (alert,) = collect(ctx, demo, url, lambda got: len(got) >= 1)
    assert alert["window"] == [x - 1, x, x + 1] and alert["speed_after_kph"] == 0
    # The same telemetry again (a producer's retry): cached again, judged again, not alerted.
    demo.put_telemetry(kinesis, stream, f.samples)
    time.sleep(4)
    assert demo.drain(ctx.client("sqs"), url) == []
    stored = demo.crashes_of(ctx.client("dynamodb"), out["CrashesTableName"], {vehicle})
    assert len(stored[vehicle]) == 1


def test_a_poison_record_goes_to_the_failure_queue_and_its_neighbours_are_cached(ctx,
                                                                                 demo) -> None:
    out, p = ctx.outputs, prefix()
    vehicle = f"{p}poison"
    f = demo.fleet({vehicle: "normal"}, seconds=4, seed=9)
    kinesis, stream = ctx.client("kinesis"), out["TelemetryStreamName"]
    demo.put_telemetry(kinesis, stream, f.samples[:2])
    bad = kinesis.put_record(StreamName=stream, Data=b"\x00garbled", PartitionKey=vehicle)
    demo.put_telemetry(kinesis, stream, f.samples[2:])
    sqs = ctx.client("sqs")

    def failure() -> dict[str, Any] | None:
        for m in sqs.receive_message(QueueUrl=out["TelemetryFailureQueueUrl"],
                                     MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(m["Body"])
            if body["KinesisBatchInfo"]["startSequenceNumber"] == bad["SequenceNumber"]:
                return body
        return None

    info = ctx.wait_for("the poison record's failure message", failure, timeout=60)
    assert info["KinesisBatchInfo"]["batchSize"] == 1
    ddb = ctx.client("dynamodb")
    cached = ddb.query(TableName=out["TelemetryCacheTableName"], ConsistentRead=True,
                       KeyConditionExpression="vehicle_id = :v",
                       ExpressionAttributeValues={":v": {"S": vehicle}})["Items"]
    assert sorted(int(i["seq"]["N"]) for i in cached) == [0, 1, 2, 3]
