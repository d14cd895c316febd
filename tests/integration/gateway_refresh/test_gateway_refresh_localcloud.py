"""gateway_refresh end to end on localcloud: S3 changes -> SQS -> RefreshFunction -> the local
Storage Gateway stand-in (moto has no Storage Gateway); refused refreshes -> retries with
backoff -> dead-letter queue. Deployed with a 1 s batching window, 1 s first retry delay and
2 receives before the dead-letter queue (root parameters)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import pytest

from localcloud.cloud import LocalCloud
from localcloud.demo import DemoContext

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ctx() -> Iterator[DemoContext]:
    cloud = LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"gateway_refresh"}, parameters={
            "GatewayRefreshBatchingWindowSeconds": "1", "GatewayRefreshRetryDelaySeconds": "1",
            "GatewayRefreshMaxReceiveCount": "2"})
        cloud.start_delivery()
        yield DemoContext(cloud, "gateway_refresh")
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def demo(load_module: Any) -> Any:
    return load_module("functions/gateway_refresh/demo.py", "gateway_refresh_demo_it")


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_the_bucket_sends_created_and_removed_events_to_the_queue(ctx) -> None:
    out = ctx.outputs
    config = ctx.client("s3").get_bucket_notification_configuration(
        Bucket=out["SharedBucketName"])
    events = sorted(e for c in config["QueueConfigurations"] for e in c["Events"])
    assert events == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]


def test_the_demo_scenario(ctx, demo) -> None:
    demo.run(ctx)


def test_a_batch_makes_one_call_per_share_with_coalesced_folders(ctx, demo) -> None:
    """Synchronously, with a batch as the event source mapping builds it: 300 changes in 120
    folders -> one call per share, at most 50 folders, recursive where they were lifted."""
    run = uuid.uuid4().hex[:6]
    big, small = demo.SHARE.format(f"{run}big"), demo.SHARE.format(f"{run}small")
    demo.set_gateway_shares(ctx, [big, small])
    demo.configure(ctx, {big: f"{run}/", small: f"{run}/t0/"})
    bucket = ctx.outputs["SharedBucketName"]
    keys = [f"{run}/t{t}/u{u}/f{i}.bin" for t in range(4) for u in range(30) for i in range(2)]
    keys += [f"{run}/t0/u0/f{i}.bin" for i in range(60)]
    records = [{"messageId": str(uuid.uuid4()), "receiptHandle": "h", "attributes": {
        "ApproximateReceiveCount": "1"}, "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:x", "awsRegion": "us-east-1",
        "body": json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": bucket}, "object": {"key": k}}}]})} for k in keys]
    out = ctx.invoke("RefreshFunction", {"Records": records})
    assert out["batchItemFailures"] == [] and out["changes"] == 300
    by_share = {r["share"]: r for r in out["refreshes"]}
    assert set(by_share) == {big, small}
    assert by_share[big]["recursive"] and by_share[big]["folders"] == ["/t0", "/t1", "/t2",
                                                                       "/t3"]
    assert not by_share[small]["recursive"] and len(by_share[small]["folders"]) == 30
    calls = [c for c in demo.refresh_calls(ctx) if c["share"] in (big, small)]
    assert len(calls) == 2


def test_unknown_shares_and_bad_messages_end_in_the_dead_letter_queue(ctx, demo) -> None:
    out, s3, sqs = ctx.outputs, ctx.client("s3"), ctx.client("sqs")
    run = uuid.uuid4().hex[:6]
    known, ghost = demo.SHARE.format(f"{run}ok"), demo.SHARE.format(f"{run}ghost")
    demo.set_gateway_shares(ctx, [known])
    demo.configure(ctx, {known: f"{run}/live/", ghost: f"{run}/old/"})
    drain(sqs, out["DeadLetterQueueUrl"])
    s3.put_object(Bucket=out["SharedBucketName"], Key=f"{run}/old/x.txt", Body=b"1")
    s3.put_object(Bucket=out["SharedBucketName"], Key=f"{run}/live/y.txt", Body=b"2")
    sqs.send_message(QueueUrl=out["ChangeQueueUrl"], MessageBody="not an S3 event")
    dead: list[dict[str, Any]] = []
    ctx.wait_for("two dead letters", lambda: dead.extend(
        drain(sqs, out["DeadLetterQueueUrl"])) or len(dead) >= 2, timeout=60)
    bodies = sorted(m["Body"] for m in dead)
    assert bodies[0] == "not an S3 event"
    key = json.loads(bodies[1])["Records"][0]["s3"]["object"]["key"]
    assert unquote_plus(key) == f"{run}/old/x.txt"  # the S3 event itself, kept
    calls = demo.refresh_calls(ctx)
    assert demo.covered(calls, known, "/")
    assert not any(c["share"] == ghost for c in calls)
