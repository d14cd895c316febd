"""The archive function: stream images flattened to JSON lines, sent to Firehose within its
limits, refused records retried and then reported; deletions skipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "stream_replication"


@pytest.fixture(scope="module")
def app(load_module):
    return load_module("functions/stream_replication/archive/app.py",
                       "stream_replication_archive_app")


def event() -> dict[str, Any]:
    return json.loads((EVENTS / "ddb_stream_new_images.json").read_text())


def test_an_image_becomes_one_flat_json_line(app) -> None:
    image = event()["Records"][0]["dynamodb"]["NewImage"]
    line = app.json_line(image)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {
        "seqNumbershardIdHash": "80_shardId-000000000000",
        "sequenceNumber": "49590338271490256608559692538361571095921575989136588802",
        "shardId": "shardId-000000000000", "event": "donation", "amount": 25.5,
        "nanotimestamp_": 1700000000001000003, "device": {"os": "ios", "beta": False},
        "tags": ["a", "b"], "blob": "AAE="}
    assert app.flatten({"x": {"NULL": True}, "l": {"L": [{"N": "1"}, {"S": "a"}]},
                        "ns": {"NS": ["3", "1.5"]}}) == {"x": None, "l": [1, "a"],
                                                        "ns": [1.5, 3]}


class FakeFirehose:
    """PutRecordBatch refusing the records whose data contains b"refuse" `times` times."""

    def __init__(self, times: int = 1) -> None:
        self.times = times
        self.calls: list[list[bytes]] = []

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict]) -> dict:
        self.calls.append([r["Data"] for r in Records])
        refuse = [b"refuse" in r["Data"] and self.times > 0 for r in Records]
        self.times -= 1
        return {"FailedPutCount": sum(refuse), "RequestResponses": [
            {"ErrorCode": "ServiceUnavailableException"} if bad else {"RecordId": "r"}
            for bad in refuse]}


def test_batches_respect_500_records_and_4_mib(app) -> None:
    small = [(str(i), b"x" * 10) for i in range(1001)]
    assert [len(b) for b in app.put_batches(small)] == [500, 500, 1]
    big = [(str(i), b"x" * (1024 * 1024)) for i in range(9)]
    assert [len(b) for b in app.put_batches(big)] == [4, 4, 1]


def test_refused_records_are_sent_again_and_reported_when_they_stay_refused(app) -> None:
    lines = [("1", b"ok\n"), ("2", b"refuse\n"), ("3", b"ok\n")]
    once = FakeFirehose(times=1)
    assert app.deliver(once, "s", lines, sleep=lambda s: None) == ([], 2)
    assert once.calls == [[b"ok\n", b"refuse\n", b"ok\n"], [b"refuse\n"]]
    always = FakeFirehose(times=99)
    refused, calls = app.deliver(always, "s", lines, sleep=lambda s: None)
    assert (refused, calls) == (["2"], app.PUT_ATTEMPTS)


def test_removes_are_skipped_and_refused_records_reported(app) -> None:
    records = event()["Records"]
    insert = records[0]
    refusing = json.loads(json.dumps(insert))
    refusing["dynamodb"]["SequenceNumber"] = "100000000000000000003"
    refusing["dynamodb"]["NewImage"]["event"] = {"S": "refuse"}
    fake = FakeFirehose(times=99)
    response = app.handle_batch([insert, records[1], refusing], fake, "s", sleep=lambda s: None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "100000000000000000003"}]}
    assert len(fake.calls[0]) == 2  # the REMOVE record sent nothing


def test_a_record_without_an_image_is_a_poison_record(app) -> None:
    broken = json.loads(json.dumps(event()["Records"][0]))
    del broken["dynamodb"]["NewImage"]
    fake = FakeFirehose(times=0)
    response = app.handle_batch([broken, event()["Records"][0]], fake, "s")
    assert response == {"batchItemFailures": [
        {"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]}
    assert len(fake.calls) == 1 and len(fake.calls[0]) == 1


def test_lines_reach_s3_through_a_firehose_delivery_stream(app) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="archive")
        firehose = boto3.client("firehose", region_name="us-east-1")
        firehose.create_delivery_stream(
            DeliveryStreamName="archive", DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "BucketARN": "arn:aws:s3:::archive", "Prefix": "replicated/",
                "RoleARN": "arn:aws:iam::123456789012:role/firehose"})
        assert app.handle_batch(event()["Records"], firehose, "archive") == {
            "batchItemFailures": []}
        (obj,) = s3.list_objects_v2(Bucket="archive")["Contents"]
        assert obj["Key"].startswith("replicated/")
        body = s3.get_object(Bucket="archive", Key=obj["Key"])["Body"].read()
        assert [json.loads(line)["event"] for line in body.splitlines()] == ["donation"]
