"""The s3_fanout_replication scenario for `localcloud demo`, and helpers the tests and the
benchmark share.

Objects uploaded to the source bucket (keys with spaces, '+', non-ASCII; user metadata, tags)
appear in every destination bucket with the same bytes and metadata. An S3 event naming an
object that does not exist, and one whose key is not UTF-8, end in the dead-letter queue after
Lambda's retries, while the good record of the same message is copied all the same.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Protocol
from urllib.parse import quote_plus


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


def destinations(outputs: dict[str, Any]) -> list[str]:
    return [b for b in outputs["DestinationBucketNames"].split(",") if b]


def upload(s3: Any, bucket: str, objects: dict[str, bytes], **extra: Any) -> None:
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)


def replicated(s3: Any, bucket: str, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The objects among `keys` that exist in `bucket`: key -> {body, metadata, type, etag}."""
    out = {}
    for key in keys:
        try:
            got = s3.get_object(Bucket=bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            continue
        out[key] = {"body": got["Body"].read(), "metadata": got["Metadata"],
                    "content_type": got["ContentType"], "etag": got["ETag"].strip('"')}
    return out


def s3_message(bucket: str, raw_keys: list[str]) -> str:
    """An S3 ObjectCreated notification as S3 publishes it to SNS (keys already encoded)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": now, "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "fanout",
               "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": k, "size": 1, "sequencer": uuid.uuid4().hex[:16].upper()}},
    } for k in raw_keys]})


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message now in the queue, decoded and deleted."""
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        msgs = got.get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def run(ctx: DemoContext) -> None:
    out = ctx.outputs
    s3, sns, sqs = ctx.client("s3"), ctx.client("sns"), ctx.client("sqs")
    source, dests = out["SourceBucketName"], destinations(out)
    run_id = uuid.uuid4().hex[:6]
    objects = {f"demo-{run_id}/report 2024+final.csv": b"id,value\n1,2\n",
               f"demo-{run_id}/ünïcödé/naïve café.txt": "grüße".encode(),
               f"demo-{run_id}/plain.json": b'{"ok": true}'}
    ctx.step(f"upload {len(objects)} objects to {source} (topic {out['FanoutTopicName']})")
    upload(s3, source, objects, Metadata={"run": run_id}, ContentType="text/plain")
    keys = list(objects)

    def everywhere() -> bool:
        return all(len(replicated(s3, b, keys)) == len(keys) for b in dests)

    ctx.wait_for("every object in every destination", everywhere, timeout=60)
    for bucket in dests:
        for key, got in replicated(s3, bucket, keys).items():
            assert got["body"] == objects[key], (bucket, key)
            assert got["metadata"] == {"run": run_id}, (bucket, key, got["metadata"])
            assert got["content_type"] == "text/plain"
    ctx.step(f"all {len(keys)} objects in {len(dests)} destinations, bytes and metadata equal")

    good = f"demo-{run_id}/good.txt"
    upload(s3, source, {good: b"good"})
    ctx.wait_for("the good object replicated",
                 lambda: all(replicated(s3, b, [good]) for b in dests), timeout=60)
    for bucket in dests:  # the next check must see it copied again by the bad message
        s3.delete_object(Bucket=bucket, Key=good)
    bad = ["bad%E9key.txt", quote_plus(f"demo-{run_id}/missing.txt")]
    ctx.step("publish an S3 event with a missing object, an undecodable key and a good one")
    sns.publish(TopicArn=out["FanoutTopicArn"], Message=s3_message(source, [bad[0], quote_plus(
        good), bad[1]]))
    dead: list[dict[str, Any]] = []

    def dead_lettered() -> bool:
        dead.extend(drain(sqs, out["DeadLetterQueueUrl"]))
        return len(dead) >= len(dests)

    ctx.wait_for("one dead-letter record per destination", dead_lettered, timeout=60)
    for record in dead:
        error = record["responsePayload"]["errorMessage"]
        assert "2 of 3 records not copied" in error, error
        assert "bad%E9key.txt" in error and "missing.txt" in error, error
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestPayload"]["Records"][0]["Sns"]["TopicArn"] == out["FanoutTopicArn"]
    assert all(replicated(s3, b, [good]) for b in dests), "the good record was not copied"
    ctx.step(f"{len(dead)} dead-letter records (after 3 attempts each); the good key copied")
