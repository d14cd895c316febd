"""The handler against moto: audit items, alerts, idempotency per CloudTrail event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from common import aws
from localcloud import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "s3_watcher"


class Context:
    function_name = "watch"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:watch"
    aws_request_id = "req-1"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, load_module: Any) -> Any:
    table_props = cfn_yaml.load(ROOT / "stacks" / "s3_watcher.yaml")["Resources"][
        "AuditTable"]["Properties"]
    with mock_aws():
        aws.clear_cache()
        ddb = boto3.client("dynamodb")
        ddb.create_table(TableName="audit", KeySchema=table_props["KeySchema"],
                         AttributeDefinitions=table_props["AttributeDefinitions"],
                         GlobalSecondaryIndexes=[{**gsi, "Projection": {"ProjectionType": "ALL"}}
                                                 for gsi in table_props["GlobalSecondaryIndexes"]],
                         BillingMode="PAY_PER_REQUEST")
        sns, sqs, s3 = boto3.client("sns"), boto3.client("sqs"), boto3.client("s3")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": "true"})
        bucket = "local-s3-watcher-watchedbucket-4ecb06cd"  # the sample events' bucket
        s3.create_bucket(Bucket=bucket)
        for name, value in {"AUDIT_TABLE": "audit", "ALERT_TOPIC_ARN": topic,
                            "WATCHED_LOCATIONS": bucket,
                            "WATCHED_PRINCIPALS": "arn:aws:iam::*:role/external-*"}.items():
            monkeypatch.setenv(name, value)
        app = load_module("functions/s3_watcher/watcher/app.py", "s3_watcher_app")
        yield app, ddb, sqs, url, s3, bucket
        aws.clear_cache()


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def alerts(sqs: Any, url: str) -> list[dict[str, Any]]:
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in msgs]


def test_a_plain_put_is_audited_without_alert(env) -> None:
    app, ddb, sqs, url, s3, bucket = env
    s3.put_object(Bucket=bucket, Key="reports/q1.csv", Body=b"a,b\n1,2\n")
    out = app.handler(event("put_object.json"), Context())
    assert out["alerts"] == [] and not out["duplicate"]
    item = ddb.get_item(TableName="audit", Key={
        "object": {"S": f"{bucket}/reports/q1.csv"},
        "event": {"S": "2024-05-01T10:15:00Z#a9c4f7e2-1d3b-4e8a-b6f0-2c7d9e1a3b5c"}})["Item"]
    assert item["principal"]["S"] == "arn:aws:iam::123456789012:user/analyst"
    assert item["event_name"]["S"] == "PutObject" and item["source_ip"]["S"] == "198.51.100.23"
    assert alerts(sqs, url) == []


def test_pii_content_of_a_new_object_is_alerted_once(env) -> None:
    app, ddb, sqs, url, s3, bucket = env
    s3.put_object(Bucket=bucket, Key="reports/q1.csv", Body=b"Ada,078-05-1120\n")
    first = app.handler(event("put_object.json"), Context())
    again = app.handler(event("put_object.json"), Context())  # EventBridge redelivery
    assert first["alerts"] == ["pii_content"] and again["duplicate"]
    got = alerts(sqs, url)
    assert len(got) == 1 and got[0]["pii_content"] == {"reports/q1.csv": {"ssn": 1}}
    assert "078-05-1120" not in json.dumps(got)


def test_an_alert_that_failed_to_publish_is_sent_on_the_retry(env, monkeypatch) -> None:
    app, ddb, sqs, url, s3, bucket = env
    publish = app.sns.publish
    monkeypatch.setattr(app.sns, "publish", lambda **kw: (_ for _ in ()).throw(
        RuntimeError("SNS down")))
    with pytest.raises(RuntimeError):
        app.handler(event("get_object_watched_principal.json"), Context())
    monkeypatch.setattr(app.sns, "publish", publish)
    out = app.handler(event("get_object_watched_principal.json"), Context())
    assert out["alerts"] == ["watched_principal"]
    assert [a["reasons"] for a in alerts(sqs, url)] == [["watched_principal"]]
    assert app.handler(event("get_object_watched_principal.json"), Context())["duplicate"]


def test_a_missing_object_is_audited_without_a_sample(env) -> None:
    app, *_ = env
    out = app.handler(event("put_object_pii_key.json"), Context())
    assert out["alerts"] == ["pii_key"] and out["pii_content"] == {}


def test_a_non_cloudtrail_event_raises(env) -> None:
    app, *_ = env
    with pytest.raises(ValueError, match="not an S3 event"):
        app.handler(event("not_cloudtrail.json"), Context())
