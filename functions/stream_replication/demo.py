"""The stream_replication scenario for `localcloud demo`, and the web-event generator it shares
with the tests and the benchmark.

1. Web events go onto the source stream; each becomes one replica item (nulls and empty strings
   dropped, numbers exact) reached through the assumed role, and one line in the S3 archive.
2. The stream is replayed from the start (what a new event source mapping with TRIM_HORIZON
   would deliver): the table still holds each record once, and so does the archive.
3. A record that is not JSON goes to the on-failure queue; the records around it are replicated.
"""

from __future__ import annotations

import json
import random
import uuid
from decimal import Decimal
from typing import Any, Protocol

PAGES = ("/", "/donate", "/fundraising/run-for-it", "/search", "/checkout")
EVENTS = ("page view", "click", "donation", "share")


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def invoke(self, function: str, event: Any) -> Any: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


def web_events(count: int, *, seed: int = 1, run: str = "") -> list[dict[str, Any]]:
    """Clickstream events like the seed's: user, nano timestamp, page, sometimes a donation
    amount (a float), and attributes left null or empty that replication must drop."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        event = rng.choice(EVENTS)
        out.append({
            "run": run, "n": i, "event": event, "page": rng.choice(PAGES),
            "useremail_": f"user{rng.randrange(50)}@example.org",
            "nanotimestamp_": 1_700_000_000_000_000_000 + i * 1_000_003,
            "amount": round(rng.uniform(1, 500), 2) if event == "donation" else None,
            "referrer": rng.choice(["https://search.example/", "", None]),
            "campaign": rng.choice(["", "spring", None]),
            "device": {"os": rng.choice(["ios", "android", "web"]), "beta": rng.random() < 0.1,
                       "note": None},
        })
    return out


def expected_item(event: dict[str, Any]) -> dict[str, Any]:
    """What the replica keeps of an event (before the key attributes): no null, no ''."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None and v != ""}
        return Decimal(str(value)) if isinstance(value, float) else value

    return clean(event)


def put_events(kinesis: Any, stream: str, events: list[dict[str, Any]]) -> list[str]:
    """PutRecords in order; returns the sequence numbers."""
    sequence_numbers = []
    for start in range(0, len(events), 500):
        chunk = events[start:start + 500]
        out = kinesis.put_records(StreamName=stream, Records=[
            {"Data": json.dumps(e).encode(), "PartitionKey": e["useremail_"]} for e in chunk])
        if out["FailedRecordCount"]:
            raise AssertionError(f"{out['FailedRecordCount']} record(s) refused by Kinesis")
        sequence_numbers += [r["SequenceNumber"] for r in out["Records"]]
    return sequence_numbers


def replica_items(ddb: Any, table: str, run: str) -> list[dict[str, Any]]:
    """Every replica item of a run (a scan: the demo's tables are small)."""
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "FilterExpression": "#r = :r",
                              "ExpressionAttributeNames": {"#r": "run"},
                              "ExpressionAttributeValues": {":r": {"S": run}},
                              "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        items += [{k: des.deserialize(v) for k, v in item.items()} for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def archive_lines(s3: Any, bucket: str, run: str) -> list[dict[str, Any]]:
    """Every archived line of a run."""
    lines = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                              Prefix="replicated/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            lines += [row for row in map(json.loads, body.splitlines()) if row.get("run") == run]
    return lines


def stream_records(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    """Every record of the stream from TRIM_HORIZON, as a Kinesis event's records."""
    import base64

    records = []
    shards = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]
    for shard in shards:
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            out = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            for r in out["Records"]:
                records.append({
                    "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"],
                                "sequenceNumber": r["SequenceNumber"],
                                "data": base64.b64encode(r["Data"]).decode()},
                    "eventSource": "aws:kinesis", "eventName": "aws:kinesis:record",
                    "eventID": f"{shard['ShardId']}:{r['SequenceNumber']}"})
            if not out["Records"] or not out.get("NextShardIterator"):
                break
            iterator = out["NextShardIterator"]
    return records


def check_replica(items: list[dict[str, Any]], events: list[dict[str, Any]],
                  sequence_numbers: list[str]) -> None:
    """Each event once, under its sequence number's key, with nulls/empties dropped."""
    by_n = {int(item["n"]): item for item in items}
    if len(items) != len(events) or sorted(by_n) != list(range(len(events))):
        raise AssertionError(f"{len(items)} replica items for {len(events)} events")
    for event, seq in zip(events, sequence_numbers, strict=True):
        item = dict(by_n[event["n"]])
        shard = item.pop("shardId")
        if (item.pop("sequenceNumber"), item.pop("seqNumbershardIdHash")) != (
                seq, f"{seq[-3:-1]}_{shard}"):
            raise AssertionError(f"event {event['n']}: key does not follow its sequence number")
        if item != expected_item(event):
            raise AssertionError(f"event {event['n']}: item {item} != {expected_item(event)}")


def run(ctx: DemoContext) -> None:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    out = ctx.outputs
    kinesis, ddb, s3 = ctx.client("kinesis"), ctx.client("dynamodb"), ctx.client("s3")
    run_id = f"demo-{uuid.uuid4().hex[:8]}"
    events = web_events(120, seed=5, run=run_id)
    stream = out["SourceStreamName"]
    ctx.step(f"putting {len(events)} web events on {stream}")
    seqs = put_events(kinesis, stream, events)
    ctx.wait_for("120 replica items", lambda: len(replica_items(
        ddb, out["ReplicaTableName"], run_id)) >= len(events), timeout=60)
    check_replica(replica_items(ddb, out["ReplicaTableName"], run_id), events, seqs)
    ctx.step(f"replica table: 120 items through {out['ReplicaRoleArn'].split('/')[-1]}, "
             f"nulls and '' dropped, amounts exact")
    ctx.wait_for("120 archived lines", lambda: len(archive_lines(
        s3, out["ArchiveBucketName"], run_id)) >= len(events), timeout=60)
    ctx.step("S3 archive (through Firehose): 120 JSON lines")

    replay = [r for r in stream_records(kinesis, stream)
              if json.loads(__import__("base64").b64decode(r["kinesis"]["data"])).get("run")
              == run_id]
    ctx.invoke("ReplicateFunction", {"Records": replay})
    marker = web_events(1, seed=6, run=run_id + "-marker")
    put_events(kinesis, stream, marker)
    ctx.wait_for("the marker in the archive", lambda: archive_lines(
        s3, out["ArchiveBucketName"], run_id + "-marker"), timeout=60)
    items = replica_items(ddb, out["ReplicaTableName"], run_id)
    lines = archive_lines(s3, out["ArchiveBucketName"], run_id)
    check_replica(items, events, seqs)
    keys = [line["sequenceNumber"] for line in lines]
    if len(keys) != len(events) or len(set(keys)) != len(events):
        raise AssertionError(f"after the replay the archive holds {len(keys)} lines "
                             f"({len(set(keys))} distinct) for {len(events)} events")
    ctx.step(f"replayed {len(replay)} records from TRIM_HORIZON: still 120 items, "
             f"archive still 120 lines (each once)")

    good = web_events(2, seed=7, run=run_id + "-poison")
    bad_seq = put_events(kinesis, stream, [good[0]])
    bad = kinesis.put_record(StreamName=stream, Data=b"<html>not an event</html>",
                             PartitionKey="x")["SequenceNumber"]
    put_events(kinesis, stream, [good[1]])
    sqs = ctx.client("sqs")

    def failure() -> dict[str, Any] | None:
        for m in sqs.receive_message(QueueUrl=out["ReplicationFailureQueueUrl"],
                                     MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(m["Body"])
            if body["KinesisBatchInfo"]["startSequenceNumber"] == bad:
                return body
        return None

    info = ctx.wait_for("the poison record on the failure queue", failure, timeout=60)
    around = replica_items(ddb, out["ReplicaTableName"], run_id + "-poison")
    if len(around) != 2:
        raise AssertionError(f"{len(around)} of the 2 records around the poison replicated")
    ctx.step(f"poison record {bad[-8:]} -> failure queue ({info['requestContext']['condition']}"
             f"), the records before ({bad_seq[0][-8:]}) and after it replicated")
