"""The handler against an S3-compatible store at a configured endpoint (a moto server on a
loopback port, reached only through S3_ENDPOINT_URL) and SNS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def app(store: str, monkeypatch: pytest.MonkeyPatch, load_module: Any) -> Any:
    from localcloud import cfn_yaml
    from localcloud.cloud import REPO_ROOT

    params = cfn_yaml.load(REPO_ROOT / "stacks" / "edge_ingest.yaml")["Parameters"]
    monkeypatch.setenv("S3_ENDPOINT_URL", store)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", store)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", store)
    monkeypatch.setenv("RULES", params["IngestRules"]["Default"])
    s3 = boto3.client("s3", endpoint_url=store, region_name="us-east-1")
    s3.create_bucket(Bucket="edge")
    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"})
    module = load_module("functions/edge_ingest/ingest/app.py", "edge_ingest_app")
    module.test_clients = (s3, sqs, url)
    return module


def event(key: str) -> dict[str, Any]:
    return {"Records": [{"eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": "edge"}, "object": {"key": key}}}]}


def test_the_configured_endpoint_is_used(app: Any, store: str) -> None:
    assert app.s3.meta.endpoint_url == store


def test_a_file_is_processed_and_alerted_in_one_invocation(app: Any) -> None:
    s3, sqs, url = app.test_clients
    body = ("Device ID,Timestamp,Temperature (C),Pressure kPa,Vibration mm/s,Status\n"
            "d1,t1,20.5,101,2,ok\nd1,t1,20.5,101,2,ok\nd2,t2,95,100,3,coolant LEAK\n"
            "d3,t3,abc,100,1,ok\n")
    s3.put_object(Bucket="edge", Key="incoming/site 1/r.csv", Body=body.encode())
    out = app.handler(event("incoming/site+1/r.csv"), None)
    assert out["files"][0]["status"] == "processed" and out["files"][0]["alerted"]
    summary = json.loads(s3.get_object(Bucket="edge",
                                       Key="processed/site 1/r.summary.json")["Body"].read())
    assert (summary["rows_in"], summary["rows_out"], summary["duplicates"]) == (4, 2, 1)
    assert summary["rejected"] == {"temperature_c not a number": 1}
    cleaned = s3.get_object(Bucket="edge", Key="processed/site 1/r.csv")["Body"].read()
    assert cleaned.decode().splitlines()[1:] == ["d1,t1,20.5,101,2,ok",
                                                 "d2,t2,95,100,3,coolant LEAK"]
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    alert = json.loads(msgs[0]["Body"])
    # 1 of 4 rows rejected is above the 20% the rules allow: a problem of its own
    assert {f["rule"] for f in alert["findings"]} == {"temperature_c > 90",
                                                     "status reports a fault",
                                                     "rejected rows above 20%"}
    assert alert["source"] == "s3://edge/incoming/site 1/r.csv"


def test_a_missing_object_raises_for_a_retry(app: Any) -> None:
    s3 = app.test_clients[0]
    with pytest.raises(s3.exceptions.NoSuchKey):
        app.handler(event("incoming/gone.csv"), None)


def test_objects_outside_incoming_are_ignored(app: Any) -> None:
    assert app.handler(event("processed/x.csv"), None) == {"files": []}


def test_subjects_are_short_ascii(app: Any) -> None:
    text = app.subject("incoming/" + "é" * 200 + ".csv", 3)
    assert text.isascii() and len(text) < 100
