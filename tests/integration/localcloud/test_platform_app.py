"""Every delivery path of localcloud, end to end, through the platform_app test fixture.

The fixture template (tests/fixtures/platform_app/template.yaml) is deployed once into an
embedded cloud; each test triggers a path the way a client would (boto3 against the cloud's
endpoint, HTTP against the API server) and asserts what the real handler received: its
handlers write each event into the fixture's events table, keyed by source.
"""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote_plus

import pytest
from botocore.config import Config

from localcloud.cloud import LocalCloud
from localcloud.deployer import DeployError, StackRecord

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[2] / "fixtures" / "platform_app" / "template.yaml"
T = TypeVar("T")


# helpers -----------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 15.0) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def http(method: str, url: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    """(status, headers, body parsed as JSON when possible) of one HTTP request."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, out_headers, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, out_headers, raw = err.code, dict(err.headers), err.read()
    try:
        return status, out_headers, json.loads(raw) if raw else None
    except ValueError:
        return status, out_headers, raw.decode()


class Env:
    """The deployed fixture: the cloud, its outputs and the recorded events."""

    def __init__(self, cloud: LocalCloud, record: StackRecord) -> None:
        self.cloud = cloud
        self.record = record
        self.outputs = record.outputs

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    def function(self, logical_id: str) -> str:
        return self.record.functions[logical_id]

    def recorded(self, source: str) -> list[Any]:
        """Payloads the handlers stored under `source`, oldest first."""
        ddb = self.client("dynamodb")
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.outputs["EventsTableName"],
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "source"},
            "ExpressionAttributeValues": {":s": {"S": source}},
            "ConsistentRead": True,
        }
        while True:
            page = ddb.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [json.loads(i["payload"]["S"]) for i in sorted(items, key=lambda i: i["id"]["S"])]

    def receive_all(self, queue_url: str, expect: int, timeout: float = 15.0) -> list[dict]:
        """Wait until `expect` messages were received from a queue (and delete them)."""
        sqs = self.client("sqs")
        got: list[dict[str, Any]] = []

        def probe() -> bool:
            for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                         MessageAttributeNames=["All"]).get("Messages", []):
                got.append(m)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            return len(got) >= expect

        wait_for(probe, f"{expect} message(s) on {queue_url}", timeout)
        return got


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    api_port = free_port()
    cloud = LocalCloud(aws_port=0, api_port=api_port, quiet=True).start()
    try:
        record = cloud.deploy(template=TEMPLATE)
        cloud.start_api()
        cloud.start_delivery()
        yield Env(cloud, record)
    finally:
        cloud.stop()


# stack outputs -----------------------------------------------------------------------------


def test_outputs_give_local_api_urls_that_serve_the_routes(env: Env) -> None:
    rest, httpapi = env.outputs["RestApiUrl"], env.outputs["HttpApiUrl"]
    prefix = f"http://127.0.0.1:{env.cloud.api_port}/"
    assert rest.startswith(prefix) and rest.endswith("/test/"), rest
    assert httpapi.startswith(prefix) and httpapi.endswith("/"), httpapi
    assert "execute-api" not in rest + httpapi
    assert env.outputs["EventsTableName"] in env.client("dynamodb").list_tables()["TableNames"]
    status, _, body = http("GET", rest + "items/7")
    assert (status, body["pathParameters"]) == (200, {"id": "7"})
    status, _, body = http("GET", httpapi + "hello/ada")
    assert (status, body["greeting"]) == (201, "hello ada")


# asynchronous triggers ---------------------------------------------------------------------


def test_s3_object_created_reaches_the_function_with_an_s3_event(env: Env) -> None:
    bucket = env.outputs["UploadsBucketName"]
    s3 = env.client("s3")
    s3.put_object(Bucket=bucket, Key="elsewhere/skip.txt", Body=b"not for the trigger")
    s3.put_object(Bucket=bucket, Key="uploads/report.txt", Body=b"hello s3")
    assert env.cloud.wait_idle(20)
    events = env.recorded("s3")
    # Keys arrive URL-encoded, as in S3's notifications; handlers unquote_plus them.
    keys = [unquote_plus(e["event"]["Records"][0]["s3"]["object"]["key"]) for e in events]
    assert keys == ["uploads/report.txt"]  # the prefix filter kept elsewhere/ out
    rec = events[0]["event"]["Records"][0]
    assert rec["eventSource"] == "aws:s3"
    assert rec["eventName"].startswith("ObjectCreated:")
    assert rec["awsRegion"] == env.cloud.region
    assert rec["s3"]["bucket"]["name"] == bucket
    assert rec["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert rec["s3"]["object"]["size"] == len(b"hello s3")
    assert events[0]["function"] == env.function("S3Function")


def test_sns_publish_reaches_the_subscribed_function(env: Env) -> None:
    topic = env.outputs["NotificationsTopicArn"]
    message_id = env.client("sns").publish(
        TopicArn=topic, Message="hello sns", Subject="greeting",
        MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}},
    )["MessageId"]
    events = wait_for(lambda: env.recorded("sns"), "the SNS delivery")
    assert len(events) == 1
    rec = events[0]["event"]["Records"][0]
    assert rec["EventSource"] == "aws:sns"
    assert rec["EventSubscriptionArn"].startswith(topic + ":")
    sns = rec["Sns"]
    assert (sns["Type"], sns["MessageId"], sns["TopicArn"]) == ("Notification", message_id, topic)
    assert (sns["Message"], sns["Subject"]) == ("hello sns", "greeting")
    assert sns["MessageAttributes"] == {"color": {"Type": "String", "Value": "blue"}}
    assert sns["Timestamp"].endswith("Z")


def test_sqs_partial_batch_failure_keeps_only_the_failed_message(env: Env) -> None:
    queue, dlq = env.outputs["WorkQueueUrl"], env.outputs["WorkDLQUrl"]
    sqs = env.client("sqs")
    sent = sqs.send_message_batch(QueueUrl=queue, Entries=[
        {"Id": "a", "MessageBody": "ok-1"},
        {"Id": "b", "MessageBody": "fail-1",
         "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "bad"}}},
        {"Id": "c", "MessageBody": "ok-2"},
    ])["Successful"]
    ids = {s["Id"]: s["MessageId"] for s in sent}
    # The failed item is received again after its visibility timeout (2 s); after the second
    # failure the queue's redrive policy (maxReceiveCount 2) moves it to the DLQ.
    dead = env.receive_all(dlq, expect=1, timeout=20)
    assert [(m["MessageId"], m["Body"]) for m in dead] == [(ids["b"], "fail-1")]
    received = [r["body"] for r in env.recorded("sqs-received")]
    assert sorted(received) == ["fail-1", "fail-1", "ok-1", "ok-2"]  # ok-* deleted at once
    processed = env.recorded("sqs")
    assert sorted(r["body"] for r in processed) == ["ok-1", "ok-2"]
    rec = next(r for r in processed if r["body"] == "ok-1")
    assert rec["messageId"] == ids["a"]
    assert rec["eventSource"] == "aws:sqs"
    assert rec["eventSourceARN"].endswith(":" + queue.rsplit("/", 1)[1])
    assert rec["attributes"]["ApproximateReceiveCount"] == "1"
    assert rec["receiptHandle"] and rec["md5OfBody"]
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_kinesis_poison_record_is_bisected_out_and_sent_to_on_failure(env: Env) -> None:
    stream = env.outputs["ClickStreamName"]
    data = ["click-1", "click-2", "poison-1", "click-3"]
    put = env.client("kinesis").put_records(StreamName=stream, Records=[
        {"Data": d.encode(), "PartitionKey": "user-1"} for d in data])
    assert put["FailedRecordCount"] == 0
    seqs = [r["SequenceNumber"] for r in put["Records"]]
    failures = env.receive_all(env.outputs["KinesisFailureQueueUrl"], expect=1, timeout=20)
    done = wait_for(lambda: len(env.recorded("kinesis")) >= 3 and env.recorded("kinesis"),
                    "the three good records")
    assert [r["data"] for r in done] == ["click-1", "click-2", "click-3"]  # each exactly once
    batches = env.recorded("kinesis-batch")
    assert batches[0] == data  # one batch first (batching window), then bisection
    assert ["poison-1"] in batches  # isolated down to the poison record alone
    assert all(len(b) < len(data) for b in batches[1:])
    info = json.loads(failures[0]["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["requestContext"]["functionArn"].endswith(":" + env.function("KinesisFunction"))
    batch = info["KinesisBatchInfo"]
    assert batch["batchSize"] == 1
    assert batch["startSequenceNumber"] == batch["endSequenceNumber"] == seqs[2]
    assert batch["streamArn"].endswith(f":stream/{stream}")
    rec = done[0]["record"]
    assert rec["eventSource"] == "aws:kinesis" and rec["eventName"] == "aws:kinesis:record"
    assert rec["kinesis"]["sequenceNumber"] == seqs[0]
    assert rec["kinesis"]["partitionKey"] == "user-1"
    assert base64.b64decode(rec["kinesis"]["data"]) == b"click-1"
    assert rec["eventID"] == f"{batch['shardId']}:{seqs[0]}"


def test_dynamodb_stream_delivers_insert_and_modify_with_images(env: Env) -> None:
    table = env.outputs["StreamTableName"]
    ddb = env.client("dynamodb")
    ddb.put_item(TableName=table, Item={"pk": {"S": "k1"}, "n": {"N": "1"}})
    ddb.update_item(TableName=table, Key={"pk": {"S": "k1"}}, UpdateExpression="SET n = :n",
                    ExpressionAttributeValues={":n": {"N": "2"}})

    def records() -> list[dict[str, Any]]:
        out = [r for e in env.recorded("ddbstream") for r in e["event"]["Records"]]
        return out if len(out) >= 2 else []

    got = wait_for(records, "two stream records")
    assert [r["eventName"] for r in got] == ["INSERT", "MODIFY"]
    insert, modify = got
    assert insert["eventSource"] == "aws:dynamodb"
    assert insert["eventSourceARN"].startswith(
        f"arn:aws:dynamodb:{env.cloud.region}:123456789012:table/{table}/stream/")
    assert insert["dynamodb"]["Keys"] == {"pk": {"S": "k1"}}
    assert insert["dynamodb"]["NewImage"] == {"pk": {"S": "k1"}, "n": {"N": "1"}}
    assert "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert modify["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    assert modify["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert int(insert["dynamodb"]["SequenceNumber"]) < int(modify["dynamodb"]["SequenceNumber"])


def test_eventbridge_rule_pattern_selects_the_events_delivered(env: Env) -> None:
    out = env.client("events").put_events(Entries=[
        {"Source": "platform.test", "DetailType": "Order Placed",
         "Detail": json.dumps({"size": "small", "order": 1})},
        {"Source": "platform.test", "DetailType": "Order Placed",
         "Detail": json.dumps({"size": "big", "order": 2})},
        {"Source": "someone.else", "DetailType": "Order Placed",
         "Detail": json.dumps({"size": "big", "order": 3})},
    ])
    assert out["FailedEntryCount"] == 0
    assert env.cloud.wait_idle(20)
    events = [e["event"] for e in env.recorded("eventbridge")]
    assert [e["detail"]["order"] for e in events] == [2]  # nothing from the disabled rule
    # Scheduled rules have no pattern: they never match PutEvents.
    assert all(e["event"].get("source") != "platform.test" for e in env.recorded("schedule"))
    event = events[0]
    assert event["id"] == out["Entries"][1]["EventId"]
    assert (event["source"], event["detail-type"]) == ("platform.test", "Order Placed")
    assert (event["account"], event["region"]) == ("123456789012", env.cloud.region)
    assert event["version"] == "0" and event["time"].endswith("Z")
    assert isinstance(event["resources"], list)


def test_schedules_fire_now_with_constant_input_or_a_scheduled_event(env: Env) -> None:
    fired = env.cloud.scheduler.fire("ScheduleFunctionNightly")
    assert fired["logicalId"] == "ScheduleFunctionNightly"
    assert fired["targets"] == [env.cloud.function_arn(env.function("ScheduleFunction"))]
    env.cloud.scheduler.fire("ScheduleFunctionHourly")
    assert env.cloud.wait_idle(20)
    events = [e["event"] for e in env.recorded("schedule")]
    assert {"job": "nightly", "items": [1, 2]} in events  # the rule's Input replaces the event
    scheduled = [e for e in events if e.get("detail-type") == "Scheduled Event"]
    assert len(scheduled) == 1 and len(events) == 2
    tick = scheduled[0]
    assert (tick["source"], tick["detail"]) == ("aws.events", {})
    rule = env.cloud.scheduler.find("ScheduleFunctionHourly").name
    assert tick["resources"] == [f"arn:aws:events:{env.cloud.region}:123456789012:rule/{rule}"]
    with pytest.raises(KeyError):
        env.cloud.scheduler.fire("NoSuchSchedule")


# API Gateway -------------------------------------------------------------------------------


def test_rest_api_v1_event_with_path_and_query_parameters(env: Env) -> None:
    base = env.outputs["RestApiUrl"]
    status, headers, body = http("GET", base + "items/abc%20d?color=red&size=2")
    assert status == 200
    assert headers["X-Handler"] == "rest"
    assert body["resource"] == "/items/{id}"
    assert body["path"] == "/items/abc%20d"
    assert body["httpMethod"] == "GET"
    assert body["pathParameters"] == {"id": "abc d"}
    assert body["queryStringParameters"] == {"color": "red", "size": "2"}
    assert body["stage"] == "test"
    assert body["authorizer"] is None
    status, _, body = http("POST", base + "items", {"Content-Type": "application/json"},
                           b'{"name": "widget"}')
    assert (status, body["httpMethod"], json.loads(body["body"])) == (
        200, "POST", {"name": "widget"})


def test_http_api_v2_event(env: Env) -> None:
    status, headers, body = http("GET", env.outputs["HttpApiUrl"] + "hello/grace?lang=en")
    assert status == 201
    assert headers["content-type"] == "application/json"
    assert body == {"version": "2.0", "routeKey": "GET /hello/{name}", "rawPath": "/hello/grace",
                    "pathParameters": {"name": "grace"}, "queryStringParameters": {"lang": "en"},
                    "method": "GET", "greeting": "hello grace"}


def test_token_authorizer_allows_denies_and_rejects(env: Env) -> None:
    url = env.outputs["RestApiUrl"] + "secure"
    status, _, body = http("GET", url)
    assert (status, body) == (401, {"message": "Unauthorized"})
    status, _, body = http("GET", url, {"Authorization": "not-a-known-token"})
    assert (status, body) == (401, {"message": "Unauthorized"})
    status, _, body = http("GET", url, {"Authorization": "deny"})
    assert status == 403 and "not authorized" in body["message"]
    status, _, body = http("GET", url, {"Authorization": "allow"})
    assert status == 200
    assert body["authorizer"]["principalId"] == "user-1"
    assert body["authorizer"]["tier"] == "gold"
    assert body["authorizer"]["tokenType"] == "TOKEN"


def test_unknown_routes_and_raising_handlers(env: Env) -> None:
    rest, httpapi = env.outputs["RestApiUrl"], env.outputs["HttpApiUrl"]
    status, _, body = http("GET", httpapi + "nope")
    assert (status, body) == (404, {"message": "Not Found"})
    # API Gateway REST APIs answer an unknown route with 403 Missing Authentication Token.
    status, _, body = http("GET", rest + "nope")
    assert (status, body) == (403, {"message": "Missing Authentication Token"})
    status, _, body = http("DELETE", rest + "items/1")
    assert status == 403
    status, _, body = http("GET", f"http://127.0.0.1:{env.cloud.api_port}/no-such-api/x")
    assert status == 404
    status, _, body = http("GET", rest + "boom")
    assert (status, body) == (502, {"message": "Internal server error"})


# Lambda Invoke through the AWS endpoint ------------------------------------------------------


@pytest.fixture(scope="module")
def lam(env: Env) -> Any:
    import boto3

    return boto3.client("lambda", endpoint_url=env.cloud.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}, read_timeout=60))


def test_invoke_request_response_runs_the_real_handler(lam: Any, env: Env) -> None:
    out = lam.invoke(FunctionName=env.function("EchoFunction"),
                     Payload=json.dumps({"hello": "world"}))
    assert out["StatusCode"] == 200 and "FunctionError" not in out
    body = json.loads(out["Payload"].read())
    assert body["event"] == {"hello": "world"}
    assert body["functionName"] == env.function("EchoFunction")
    assert body["greeting"] == "hello from the template"
    assert 0 < body["remainingMs"] <= 10_000
    by_arn = lam.invoke(FunctionName=env.cloud.function_arn(env.function("EchoFunction")),
                        Payload=b'{"n": 1}')
    assert json.loads(by_arn["Payload"].read())["event"] == {"n": 1}


def test_invoke_of_a_raising_handler_sets_function_error(lam: Any, env: Env) -> None:
    out = lam.invoke(FunctionName=env.function("RaisingFunction"),
                     Payload=json.dumps({"why": "testing"}))
    assert out["FunctionError"] == "Unhandled"
    err = json.loads(out["Payload"].read())
    assert err["errorType"] == "PlannedFailure"
    assert err["errorMessage"] == "failed on purpose: testing"
    assert isinstance(err["stackTrace"], list) and err["stackTrace"]


def test_invoke_past_the_timeout_reports_sandbox_timedout(lam: Any, env: Env) -> None:
    started = time.monotonic()
    out = lam.invoke(FunctionName=env.function("SlowFunction"), Payload=b'{"seconds": 5}')
    assert time.monotonic() - started < 4  # killed at its 1 s timeout, not after 5 s
    assert out["FunctionError"] == "Unhandled"
    err = json.loads(out["Payload"].read())
    assert err["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in err["errorMessage"]
    again = lam.invoke(FunctionName=env.function("SlowFunction"), Payload=b'{"seconds": 0}')
    assert "FunctionError" not in again  # a fresh worker replaced the killed one
    assert json.loads(again["Payload"].read()) == {"slept": True}


def test_invoke_of_an_unknown_function_is_not_found(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="no-such-function", Payload=b"{}")


def test_async_invoke_retries_then_goes_to_the_on_failure_destination(lam: Any,
                                                                        env: Env) -> None:
    out = lam.invoke(FunctionName=env.function("AsyncFailFunction"), InvocationType="Event",
                     Payload=json.dumps({"order": 99}))
    assert out["StatusCode"] == 202
    messages = env.receive_all(env.outputs["AsyncFailureQueueUrl"], expect=1, timeout=20)
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"] == env.cloud.function_arn(
        env.function("AsyncFailFunction"))
    assert record["requestPayload"] == {"order": 99}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "PlannedFailure"
    attempts = env.recorded("async-attempt")
    assert [a["event"] for a in attempts] == [{"order": 99}, {"order": 99}]  # 1 + 1 retry


# deploy-time checks --------------------------------------------------------------------------

SHORT_VISIBILITY = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 5
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.handler
      Runtime: python3.11
      Timeout: 30
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
"""


def test_sqs_mapping_with_visibility_below_function_timeout_is_refused(
        env: Env, tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text("def handler(event, context):\n    return None\n")
    (tmp_path / "template.yaml").write_text(SHORT_VISIBILITY)
    with pytest.raises(DeployError, match="visibility timeout: 5 seconds is less than function "
                                          "timeout: 30 seconds"):
        env.cloud.deploy(template=tmp_path / "template.yaml", stack_name="visibility-check")
