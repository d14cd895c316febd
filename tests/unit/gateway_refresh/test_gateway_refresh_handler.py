"""The handler: one refresh per share per batch, partial failures for refused shares and bad
messages (with a backoff), against moto and the local gateway stand-in."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from common import aws

ARN = "arn:aws:storagegateway:us-east-1:123456789012:share/share-{}"


class Context:
    function_name = "refresh"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:refresh"
    aws_request_id = "req-1"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, load_module: Any) -> Any:
    monkeypatch.setenv("LOCALCLOUD_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("FILE_SHARES_TABLE", "shares")
    monkeypatch.setenv("RETRY_DELAY_SECONDS", "30")
    (tmp_path / "storagegateway").mkdir()
    (tmp_path / "storagegateway" / "shares.json").write_text(
        json.dumps({"shares": [ARN.format(1), ARN.format(2)]}))
    with mock_aws():
        aws.clear_cache()
        ddb = boto3.client("dynamodb")
        ddb.create_table(TableName="shares", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "bucket", "KeyType": "HASH"},
                                    {"AttributeName": "share_arn", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "bucket", "AttributeType": "S"},
                                               {"AttributeName": "share_arn",
                                                "AttributeType": "S"}])
        for n, prefix in ((1, "p/"), (2, "p/a/"), (9, "gone/")):
            ddb.put_item(TableName="shares", Item={"bucket": {"S": "b"},
                                                   "share_arn": {"S": ARN.format(n)},
                                                   "prefix": {"S": prefix}})
        sqs = boto3.client("sqs")
        # Messages come back 1 s after a receive unless the handler delays them.
        url = sqs.create_queue(QueueName="changes",
                               Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
        app = load_module("functions/gateway_refresh/refresh/app.py", "gateway_refresh_app")
        yield app, sqs, url, tmp_path / "storagegateway" / "refresh_calls.jsonl"
        aws.clear_cache()


def sqs_event(sqs: Any, url: str, bodies: list[str]) -> dict[str, Any]:
    """Send and receive the bodies, as the event source mapping would hand them over."""
    for b in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=b)
    records = []
    while len(records) < len(bodies):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     AttributeNames=["All"]).get("Messages", []):
            records.append({"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                            "body": m["Body"], "attributes": m["Attributes"],
                            "messageAttributes": {}, "eventSource": "aws:sqs",
                            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:changes",
                            "awsRegion": "us-east-1"})
    return {"Records": records}


def s3_body(key: str, event: str = "ObjectCreated:Put") -> str:
    return json.dumps({"Records": [{"eventName": event, "s3": {"bucket": {"name": "b"},
                                                               "object": {"key": key}}}]})


def test_many_changes_make_one_call_per_share(env) -> None:
    app, sqs, url, calls_file = env
    keys = [f"p/{d}/f{i}.txt" for d in ("a", "b", "c") for i in range(20)]
    bodies = [s3_body(k) for k in keys] + [s3_body("p/a/f0.txt", "ObjectRemoved:Delete")]
    out = app.handler(sqs_event(sqs, url, bodies), Context())
    assert out["batchItemFailures"] == [] and out["changes"] == 61
    calls = [json.loads(x) for x in calls_file.read_text().splitlines()]
    assert sorted((c["share"], tuple(c["folders"])) for c in calls) == [
        (ARN.format(1), ("/a", "/b", "/c")), (ARN.format(2), ("/",))]


def test_refused_shares_and_bad_messages_fail_alone(env) -> None:
    app, sqs, url, calls_file = env
    event = sqs_event(sqs, url, [s3_body("p/x.txt"), s3_body("gone/y.txt"), "garbage",
                                 s3_body("elsewhere/z.txt")])
    ids = [r["messageId"] for r in event["Records"]]
    out = app.handler(event, Context())
    assert out["batchItemFailures"] == [{"itemIdentifier": i} for i in sorted(ids[1:3])]
    assert out["unmapped"] == 1
    assert [json.loads(x)["share"] for x in calls_file.read_text().splitlines()] == [
        ARN.format(1)]
    # the failed ones are hidden for the backoff (30 s at the first receive); the others
    # (not deleted here, the poller does that) are back after the queue's 1 s
    time.sleep(1.5)
    back = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert sorted(m["MessageId"] for m in back) == sorted([ids[0], ids[3]])
