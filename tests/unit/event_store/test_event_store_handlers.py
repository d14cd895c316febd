"""The API, the stream router and the two subscribers, on moto (SNS, EventBridge, DynamoDB)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from event_store_testlib import ROOT
from eventstore import EventStore

CONTEXT = SimpleNamespace(function_name="f", memory_limit_in_mb=512, aws_request_id="req-1",
                          invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f")


@pytest.fixture
def app(tables, load_module, monkeypatch):
    sns = boto3.client("sns", region_name="us-east-1")
    events = boto3.client("events", region_name="us-east-1")
    topic = sns.create_topic(Name="events")["TopicArn"]
    events.create_event_bus(Name="bus")
    monkeypatch.setenv("EVENTS_TABLE_NAME", "events")
    monkeypatch.setenv("SNAPSHOTS_TABLE_NAME", "snapshots")
    monkeypatch.setenv("PROJECTION_TABLE_NAME", "projection")
    monkeypatch.setenv("NOTIFICATIONS_TABLE_NAME", "notifications")
    monkeypatch.setenv("EVENTS_TOPIC_ARN", topic)
    monkeypatch.setenv("EVENT_BUS_NAME", "bus")
    monkeypatch.setenv("SNAPSHOT_EVERY", "5")
    from common import aws

    aws.clear_cache()
    module = load_module("functions/event_store/entities/app.py", "event_store_app")
    module.TOPIC_ARN = topic
    return module


def http(app, method: str, path: str, body: Any = None,
         query: dict[str, str] | None = None) -> tuple[int, Any]:
    event = {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "queryStringParameters": query, "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "127.0.0.1"},
                           "requestId": "r-1", "stage": "$default"},
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
    }
    out = app.api_handler(event, CONTEXT)
    return out["statusCode"], json.loads(out["body"])


def test_append_and_read_through_the_api(app) -> None:
    status, body = http(app, "POST", "/entities/user-1/events", {
        "type": "UserCreated", "data": {"name": "The Mill", "email": "m@example.com"}})
    assert status == 201 and body["version"] == 1 and body["entityType"] == "user"
    status, body = http(app, "POST", "/entities/user-1/events", {
        "type": "UserUpdated", "data": {"address": "World"}, "expectedVersion": 1})
    assert status == 201 and body["version"] == 2
    status, body = http(app, "GET", "/entities/user-1")
    assert status == 200
    assert body["state"] == {"name": "The Mill", "email": "m@example.com", "address": "World",
                             "active": True}
    assert body["version"] == 2
    status, body = http(app, "GET", "/entities/user-1", query={"version": "1"})
    assert body["state"]["address"] is None and body["version"] == 1
    status, body = http(app, "GET", "/entities/user-1/events", query={"limit": "1"})
    assert [e["type"] for e in body["events"]] == ["UserCreated"]
    assert body["next"] == "/entities/user-1/events?after=1&limit=1"
    status, body = http(app, "GET", "/entities/user-1/events", query={"after": "1"})
    assert [e["version"] for e in body["events"]] == [2] and "next" not in body


@pytest.mark.parametrize("body, status, message", [
    ({"type": "UserUpdated", "data": {"name": "x"}, "expectedVersion": 0}, 409,
     "expected version 0, current version 1"),
    ({"type": "UserRenamed", "data": {}}, 400, "unknown event type"),
    ({"type": "UserUpdated", "data": {"name": ""}}, 422, "name must be a non-empty string"),
    ({"type": "UserUpdated", "data": []}, 400, "data must be a JSON object"),
    ({"type": "UserUpdated", "expectedVersion": -1}, 400, "expectedVersion"),
    ({"type": "UserUpdated", "data": {}, "extra": 1}, 400, "unknown field(s): extra"),
    ([], 400, "body must be a JSON object"),
])
def test_bad_appends_are_4xx_with_a_reason(app, body, status, message) -> None:
    http(app, "POST", "/entities/user-1/events", {
        "type": "UserCreated", "data": {"name": "a", "email": "b"}})
    got, answer = http(app, "POST", "/entities/user-1/events", body)
    assert got == status and message in answer["message"]
    if status == 409:
        assert answer["currentVersion"] == 1


def test_reads_of_unknown_entities_and_bad_queries(app) -> None:
    assert http(app, "GET", "/entities/nobody")[0] == 404
    assert http(app, "GET", "/entities/nobody/events")[0] == 404
    http(app, "POST", "/entities/u/events", {"type": "UserCreated",
                                             "data": {"name": "a", "email": "b"}})
    assert http(app, "GET", "/entities/u", query={"version": "9"})[0] == 404
    assert http(app, "GET", "/entities/u", query={"version": "x"})[0] == 400
    assert http(app, "GET", "/entities/u", query={"at": "yesterday"})[0] == 400
    assert http(app, "GET", "/entities/u", query={"at": "2024-05-06T08:00:00"})[0] == 400
    status, body = http(app, "GET", "/entities/u", query={"at": "2000-01-01T00:00:00Z"})
    assert status == 404 and "at 2000-01-01" in body["message"]
    assert http(app, "GET", "/entities/bad%20id")[0] == 400
    assert http(app, "GET", "/entities/u/events", query={"limit": "5000"})[0] == 400


def stream_record(item: dict[str, Any], name: str = "INSERT", seq: str = "1") -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    return {"eventID": seq, "eventName": name, "eventSource": "aws:dynamodb",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/events/stream/x",
            "dynamodb": {"Keys": {"id": {"S": item["id"]}},
                         "NewImage": {k: ser.serialize(v) for k, v in item.items()},
                         "SequenceNumber": seq, "StreamViewType": "NEW_IMAGE"}}


def test_the_router_fans_out_with_filterable_attributes(app) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    sns = boto3.client("sns", region_name="us-east-1")
    events = boto3.client("events", region_name="us-east-1")
    q_sns = sqs.create_queue(QueueName="from-sns")["QueueUrl"]
    q_eb = sqs.create_queue(QueueName="from-eb")["QueueUrl"]
    arn = lambda url: sqs.get_queue_attributes(  # noqa: E731
        QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=app.TOPIC_ARN, Protocol="sqs", Endpoint=arn(q_sns),
                  Attributes={"FilterPolicy": json.dumps({"eventType": ["UserCreated"]})})
    events.put_rule(Name="all", EventBusName="bus",
                    EventPattern=json.dumps({"source": ["event_store"]}))
    events.put_targets(Rule="all", EventBusName="bus", Targets=[{"Id": "q", "Arn": arn(q_eb)}])
    item = {"id": "user-1", "version": 1, "type": "UserCreated", "entityType": "user",
            "timestamp": "2024-05-06T08:00:00.000Z", "eventdata": {"name": "a", "n": 1}}
    update = {**item, "version": 2, "type": "UserUpdated", "eventdata": {"name": "b"}}
    batch = {"Records": [stream_record(item, seq="1"), stream_record(update, seq="2"),
                         stream_record(item, name="MODIFY", seq="3")]}
    assert app.router_handler(batch, CONTEXT) == {"batchItemFailures": []}
    got_sns = sqs.receive_message(QueueUrl=q_sns, MaxNumberOfMessages=10)["Messages"]
    assert len(got_sns) == 1  # the filter policy let only UserCreated through
    envelope = json.loads(got_sns[0]["Body"])
    assert json.loads(envelope["Message"]) == {
        "id": "user-1", "version": 1, "type": "UserCreated", "entityType": "user",
        "timestamp": "2024-05-06T08:00:00.000Z", "data": {"name": "a", "n": 1}}
    assert envelope["MessageAttributes"]["entityId"]["Value"] == "user-1"
    got_eb = sqs.receive_message(QueueUrl=q_eb, MaxNumberOfMessages=10)["Messages"]
    details = sorted((json.loads(m["Body"])["detail-type"], json.loads(m["Body"])["detail"][
        "version"]) for m in got_eb)
    assert details == [("UserCreated", 1), ("UserUpdated", 2)]  # MODIFY records are not routed


def test_a_record_without_image_is_reported_alone(app) -> None:
    good = stream_record({"id": "u", "version": 1, "type": "UserCreated", "entityType": "user",
                          "timestamp": "t", "eventdata": {}}, seq="10")
    bad = {**stream_record({"id": "u"}, seq="11")}
    bad["dynamodb"] = {"Keys": {"id": {"S": "u"}}, "SequenceNumber": "11"}
    out = app.router_handler({"Records": [good, bad]}, CONTEXT)
    assert out == {"batchItemFailures": [{"itemIdentifier": "11"}]}


def test_the_projection_converges_under_duplicates_and_disorder(app, tables) -> None:
    store: EventStore = app.store
    store.append("user-1", "UserCreated", {"name": "a", "email": "b"})
    store.append("user-1", "UserUpdated", {"name": "c"})
    store.append("user-1", "UserUpdated", {"name": "d"})
    deliver = lambda v: app.projection_handler(  # noqa: E731
        {"detail": {"id": "user-1", "version": v}}, CONTEXT)
    assert deliver(1)["written"] and deliver(3)["written"]
    assert not deliver(2)["written"] and not deliver(3)["written"]  # late and duplicate
    item = tables["projection"].get_item(Key={"id": "user-1"})["Item"]
    assert int(item["version"]) == 3 and json.loads(item["state"])["name"] == "d"
    with pytest.raises(ValueError):
        app.projection_handler({"detail": {"nothing": 1}}, CONTEXT)


def test_the_notifier_writes_each_notification_once(app, tables) -> None:
    message = {"id": "user-7", "version": 1, "type": "UserCreated", "entityType": "user",
               "timestamp": "t", "data": {"name": "Ada", "email": "ada@example.com"}}
    record = {"Records": [{"Sns": {"Message": json.dumps(message)}}]}
    assert app.notifier_handler(record, CONTEXT) == {"notified": 1}
    assert app.notifier_handler(record, CONTEXT) == {"notified": 0}
    item = tables["notifications"].get_item(Key={"id": "user-7#1"})["Item"]
    assert item["message"] == "Welcome Ada! Your account user-7 is ready."


def test_the_sample_events_run_through_their_handlers(app, tables) -> None:
    sample = lambda name: json.loads((ROOT / "events" / "event_store" / name).read_text())  # noqa: E731
    created = app.api_handler(sample("post_user_created.json"), CONTEXT)
    assert created["statusCode"] == 201
    assert app.api_handler(sample("post_user_updated.json"), CONTEXT)["statusCode"] == 201
    got = json.loads(app.api_handler(sample("get_entity_at_version.json"), CONTEXT)["body"])
    assert (got["version"], got["state"]["address"]) == (1, "Malta")
    listed = json.loads(app.api_handler(sample("list_events.json"), CONTEXT)["body"])
    assert [e["type"] for e in listed["events"]] == ["UserCreated", "UserUpdated"]
    assert app.router_handler(sample("stream_insert.json"), CONTEXT) == {"batchItemFailures": []}
    assert app.projection_handler(sample("eventbridge_event.json"), CONTEXT)["written"]
    assert app.notifier_handler(sample("sns_notable_event.json"), CONTEXT) == {"notified": 1}
