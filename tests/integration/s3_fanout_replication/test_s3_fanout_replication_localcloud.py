"""s3_fanout_replication end to end on localcloud: source bucket -> SNS <source>-fanout -> three
replication functions -> three destination buckets; failures -> retries -> dead-letter queue.

Deployed with a 6 MiB multipart threshold and 5 MiB parts (root parameters), so the multipart
path runs on a 13 MiB object instead of a 5 GiB one.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.demo import DemoContext

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def ctx() -> Iterator[DemoContext]:
    cloud = LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"s3_fanout_replication"}, parameters={
            "S3FanoutMultipartThresholdBytes": str(6 * MIB),
            "S3FanoutPartSizeBytes": str(5 * MIB)})
        cloud.start_delivery()
        yield DemoContext(cloud, "s3_fanout_replication")
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def demo(load_module: Any) -> Any:
    return load_module("functions/s3_fanout_replication/demo.py", "s3_fanout_replication_demo_it")


def test_three_destinations_are_deployed_with_the_topic_named_after_the_source(ctx) -> None:
    out = ctx.outputs
    assert out["FanoutTopicName"] == f"{out['SourceBucketName']}-fanout"
    dests = out["DestinationBucketNames"].split(",")
    assert len(dests) == 3 and len(set(dests)) == 3
    config = ctx.client("s3").get_bucket_notification_configuration(
        Bucket=out["SourceBucketName"])
    assert [c["TopicArn"] for c in config["TopicConfigurations"]] == [out["FanoutTopicArn"]]
    lam = ctx.client("lambda")
    configured = {lam.get_function_configuration(FunctionName=f)["Environment"]["Variables"][
        "DESTINATION_BUCKET"] for f in out["ReplicateFunctionNames"].split(",")}
    assert configured == set(dests)  # each function's destination comes from configuration


def test_every_object_reaches_every_destination_with_metadata_and_tags(ctx, demo) -> None:
    out, s3 = ctx.outputs, ctx.client("s3")
    p = f"t{uuid.uuid4().hex[:6]}/"
    objects = {f"{p}with space.txt": b"a", f"{p}plus+sign.txt": b"bb",
               f"{p}日本語/データ.csv": b"x,y\n1,2\n", f"{p}%41 literal.txt": b"ccc",
               f"{p}empty.bin": b""}
    demo.upload(s3, out["SourceBucketName"], objects, Metadata={"batch": "7"},
                ContentType="text/csv", Tagging="tier=gold")
    dests = demo.destinations(out)
    ctx.wait_for("replicas", lambda: all(
        len(demo.replicated(s3, b, list(objects))) == len(objects) for b in dests), timeout=60)
    for bucket in dests:
        for key, got in demo.replicated(s3, bucket, list(objects)).items():
            assert got["body"] == objects[key]
            assert got["metadata"] == {"batch": "7"}
            assert got["content_type"] == "text/csv"
            assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == [
                {"Key": "tier", "Value": "gold"}]
    assert ctx.cloud.async_failures == []


def test_objects_above_the_threshold_are_copied_in_parts(ctx, demo) -> None:
    out, s3 = ctx.outputs, ctx.client("s3")
    key = f"t{uuid.uuid4().hex[:6]}/big file.bin"
    body = os.urandom(13 * MIB)
    s3.put_object(Bucket=out["SourceBucketName"], Key=key, Body=body,
                  Metadata={"sensor": "lidar"}, ContentType="application/octet-stream")
    dests = demo.destinations(out)
    ctx.wait_for("the big object everywhere",
                 lambda: all(demo.replicated(s3, b, [key]) for b in dests), timeout=90)
    digest = hashlib.sha256(body).hexdigest()
    for bucket in dests:
        got = demo.replicated(s3, bucket, [key])[key]
        assert hashlib.sha256(got["body"]).hexdigest() == digest
        assert got["etag"].endswith("-3")  # 5 + 5 + 3 MiB: a multipart object
        assert got["metadata"] == {"sensor": "lidar"}
        assert got["content_type"] == "application/octet-stream"


def test_missing_and_undecodable_keys_end_in_the_dead_letter_queue(ctx, demo) -> None:
    out, s3, sqs = ctx.outputs, ctx.client("s3"), ctx.client("sqs")
    demo.drain(sqs, out["DeadLetterQueueUrl"])
    good = f"t{uuid.uuid4().hex[:6]}/good.txt"
    s3.put_object(Bucket=out["SourceBucketName"], Key=good, Body=b"g")
    dests = demo.destinations(out)
    ctx.wait_for("good", lambda: all(demo.replicated(s3, b, [good]) for b in dests))
    ctx.cloud.wait_idle()
    for bucket in dests:
        s3.delete_object(Bucket=bucket, Key=good)
    ctx.client("sns").publish(TopicArn=out["FanoutTopicArn"], Message=demo.s3_message(
        out["SourceBucketName"], ["no%FFutf8", good, "never/uploaded.txt"]))
    ctx.client("sns").publish(TopicArn=out["FanoutTopicArn"], Message="not an S3 event")
    dead: list[dict[str, Any]] = []

    def arrived() -> bool:
        dead.extend(demo.drain(sqs, out["DeadLetterQueueUrl"]))
        return len(dead) >= 6

    ctx.wait_for("two dead-letter records per destination", arrived, timeout=60)
    ctx.cloud.wait_idle()
    dead.extend(demo.drain(sqs, out["DeadLetterQueueUrl"]))
    assert len(dead) == 6
    by_function: dict[str, list[str]] = {}
    for record in dead:
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        by_function.setdefault(record["requestContext"]["functionArn"], []).append(
            record["responsePayload"]["errorMessage"])
    assert len(by_function) == 3
    for errors in by_function.values():
        mixed = next(e for e in errors if "2 of 3" in e)
        assert "no%FFutf8" in mixed and "never/uploaded.txt" in mixed
        assert "404" in mixed
        assert any("not JSON" in e for e in errors)
    for bucket in dests:  # the good record of the bad message was copied all the same
        assert demo.replicated(s3, bucket, [good])[good]["body"] == b"g"
    payload = json.dumps(dead[0]["requestPayload"])
    assert "aws:sns" in payload  # the original event is kept: nothing is lost
