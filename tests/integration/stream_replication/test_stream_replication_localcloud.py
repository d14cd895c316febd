"""stream_replication end to end on localcloud: Kinesis -> consumer (assumed role) -> DynamoDB
-> stream -> archive function -> Firehose -> S3, with the handlers running as deployed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
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
        cloud.deploy(apps={"stream_replication"})
        cloud.start_delivery()
        yield DemoContext(cloud, "stream_replication")
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/stream_replication/demo.py", "stream_replication_demo_it")


def run_id() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def as_json_value(value: Any) -> Any:
    """What the archive's JSON holds for a replica value."""
    if isinstance(value, dict):
        return {k: as_json_value(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def test_events_are_replicated_once_and_archived_once(ctx, demo) -> None:
    out, run = ctx.outputs, run_id()
    kinesis, ddb, s3 = ctx.client("kinesis"), ctx.client("dynamodb"), ctx.client("s3")
    events = demo.web_events(150, seed=21, run=run)
    seqs = demo.put_events(kinesis, out["SourceStreamName"], events)
    ctx.wait_for("the archive", lambda: len(demo.archive_lines(
        s3, out["ArchiveBucketName"], run)) >= len(events), timeout=60)
    items = demo.replica_items(ddb, out["ReplicaTableName"], run)
    demo.check_replica(items, events, seqs)
    lines = demo.archive_lines(s3, out["ArchiveBucketName"], run)
    by_seq = {item["sequenceNumber"]: as_json_value(item) for item in items}
    assert sorted(line["sequenceNumber"] for line in lines) == sorted(seqs)
    assert all(line == by_seq[line["sequenceNumber"]] for line in lines)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=out["ArchiveBucketName"])["Contents"]]
    assert all(k.startswith("replicated/") for k in keys)


def test_a_replay_from_trim_horizon_writes_no_duplicates(ctx, demo) -> None:
    out, run = ctx.outputs, run_id()
    kinesis, ddb, s3 = ctx.client("kinesis"), ctx.client("dynamodb"), ctx.client("s3")
    events = demo.web_events(40, seed=22, run=run)
    seqs = demo.put_events(kinesis, out["SourceStreamName"], events)
    ctx.wait_for("the archive", lambda: len(demo.archive_lines(
        s3, out["ArchiveBucketName"], run)) >= len(events), timeout=60)
    before = ddb.scan(TableName=out["ReplicaTableName"], Select="COUNT")["Count"]
    records = demo.stream_records(kinesis, out["SourceStreamName"])
    assert len(records) >= before  # every record of the stream, earlier tests' too
    for start in range(0, len(records), 300):  # as a new TRIM_HORIZON mapping would deliver
        assert ctx.invoke("ReplicateFunction", {"Records": records[start:start + 300]}) == {
            "batchItemFailures": []}
    marker = f"{run}-marker"
    demo.put_events(kinesis, out["SourceStreamName"], demo.web_events(1, run=marker))
    ctx.wait_for("the marker", lambda: demo.archive_lines(s3, out["ArchiveBucketName"],
                                                          marker), timeout=60)
    assert ddb.scan(TableName=out["ReplicaTableName"], Select="COUNT")["Count"] == before + 1
    demo.check_replica(demo.replica_items(ddb, out["ReplicaTableName"], run), events, seqs)
    lines = demo.archive_lines(s3, out["ArchiveBucketName"], run)
    assert sorted(line["sequenceNumber"] for line in lines) == sorted(seqs)  # each once


def test_a_poison_record_goes_to_the_failure_queue_alone(ctx, demo) -> None:
    out, run = ctx.outputs, run_id()
    kinesis, ddb = ctx.client("kinesis"), ctx.client("dynamodb")
    good = demo.web_events(4, seed=23, run=run)
    stream = out["SourceStreamName"]
    data = [json.dumps(good[0]), json.dumps(good[1]), '{"broken": ', json.dumps(good[2]),
            json.dumps(good[3])]
    put = kinesis.put_records(StreamName=stream, Records=[
        {"Data": d.encode(), "PartitionKey": "same-shard"} for d in data])
    poison = put["Records"][2]["SequenceNumber"]
    sqs = ctx.client("sqs")

    def failure() -> dict[str, Any] | None:
        for m in sqs.receive_message(QueueUrl=out["ReplicationFailureQueueUrl"],
                                     MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(m["Body"])
            if body["KinesisBatchInfo"]["startSequenceNumber"] == poison:
                return body
        return None

    info = ctx.wait_for("the failure message", failure, timeout=60)
    assert info["KinesisBatchInfo"]["batchSize"] == 1
    assert info["KinesisBatchInfo"]["endSequenceNumber"] == poison
    items = demo.replica_items(ddb, out["ReplicaTableName"], run)
    assert sorted(int(i["n"]) for i in items) == [0, 1, 2, 3]
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=info["KinesisBatchInfo"]["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=poison)["ShardIterator"]
    assert kinesis.get_records(ShardIterator=iterator, Limit=1)["Records"][0]["Data"] == (
        b'{"broken": ')
