"""The Kinesis consumer: items keyed by sequence number, cleaned, written through an assumed
role in idempotent batches; poison records reported alone."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)
from boto3.dynamodb.types import TypeDeserializer
from moto import mock_aws
from replica_items import BadRecord, clean, hash_key, key_of, replica_item

from localcloud import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "stream_replication"

SEQ = "49590338271490256608559692538361571095921575989136588802"
SHARD = "shardId-000000000000"
_des = TypeDeserializer()


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _des.deserialize(v) for k, v in item.items()}


@pytest.fixture(scope="module")
def app(load_module):
    return load_module("functions/stream_replication/replicate/app.py",
                       "stream_replication_replicate_app")


@pytest.fixture
def table():
    """The replica table in moto, its key schema taken from the template."""
    props = cfn_yaml.load(ROOT / "stacks" / "stream_replication.yaml")["Resources"][
        "ReplicaTable"]["Properties"]
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="replica", KeySchema=props["KeySchema"],
                         AttributeDefinitions=props["AttributeDefinitions"],
                         BillingMode="PAY_PER_REQUEST")
        yield ddb


def test_the_key_takes_two_digits_before_the_last_and_the_shard() -> None:
    assert hash_key(SEQ, SHARD) == f"80_{SHARD}"
    assert hash_key("12", "s") == "1_s"


def test_an_item_keeps_numbers_exact_and_drops_null_and_empty() -> None:
    data = json.dumps({"event": "donation", "amount": 25.1, "big": 12345678901234567890,
                       "referrer": "", "campaign": None, "ok": False, "zero": 0,
                       "device": {"os": "ios", "note": None, "tags": ["", None, "a"]},
                       "sequenceNumber": "forged", "": "no name"}).encode()
    item = plain(replica_item(data, SEQ, SHARD))
    assert item == {"event": "donation", "amount": Decimal("25.1"),
                    "big": 12345678901234567890, "ok": False, "zero": 0,
                    "device": {"os": "ios", "tags": ["", None, "a"]},
                    "sequenceNumber": SEQ, "shardId": SHARD,
                    "seqNumbershardIdHash": f"80_{SHARD}"}
    assert clean({"a": {"b": {"c": None}}}) == {"a": {"b": {}}}


@pytest.mark.parametrize("data, reason", [
    (b"<html>", "not JSON"),
    (b"\xff", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"x": NaN}', "NaN"),
    (b'{"x": 1e400}', "not storable"),
    (json.dumps({"x": 10**40}).encode(), "not storable"),
    (b'{"x": "' + b"a" * 420_000 + b'"}', "too large"),
])
def test_records_that_cannot_be_items_are_bad(data: bytes, reason: str) -> None:
    with pytest.raises(BadRecord, match=reason):
        replica_item(data, SEQ, SHARD)


class FakeDynamo:
    """BatchWriteItem that leaves the last `unprocessed` items of the first calls unprocessed."""

    def __init__(self, unprocessed: int = 0, stuck: bool = False) -> None:
        self.unprocessed, self.stuck = unprocessed, stuck
        self.requests: list[list[dict[str, Any]]] = []

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        (table, requests), = RequestItems.items()
        self.requests.append(requests)
        keep = requests[-self.unprocessed:] if self.unprocessed else []
        if not self.stuck:
            self.unprocessed = 0
        return {"UnprocessedItems": {table: keep}} if keep else {}


def items(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [replica_item(json.dumps({"n": i}).encode(), f"{i:05d}", SHARD)
            for i in range(start, start + n)]


def test_the_writer_chunks_by_25_dedupes_keys_and_retries_unprocessed(app) -> None:
    fake = FakeDynamo(unprocessed=3)
    writer = app.ReplicaWriter(fake, "replica", sleep=lambda s: None)
    batch = items(60) + items(1, start=5)  # a record delivered twice in one batch
    assert writer.write(batch) == 60
    assert [len(r) for r in fake.requests] == [25, 3, 25, 10]
    assert all(len({key_of(r["PutRequest"]["Item"]) for r in req}) == len(req)
               for req in fake.requests)


def test_the_writer_gives_up_after_its_attempts(app) -> None:
    fake = FakeDynamo(unprocessed=1, stuck=True)
    writer = app.ReplicaWriter(fake, "replica", sleep=lambda s: None)
    with pytest.raises(app.ReplicaWriteError, match="1 item"):
        writer.write(items(2))
    assert len(fake.requests) == app.WRITE_ATTEMPTS


def test_a_batch_is_written_once_and_a_replay_overwrites(app, table) -> None:
    writer = app.ReplicaWriter(table, "replica")
    event = json.loads((EVENTS / "kinesis_web_events.json").read_text())
    assert app.handle_batch(event["Records"], writer) == {"batchItemFailures": []}
    assert app.handle_batch(event["Records"], writer) == {"batchItemFailures": []}
    rows = [plain(i) for i in table.scan(TableName="replica")["Items"]]
    assert len(rows) == 2
    assert {r["event"] for r in rows} == {"page view", "donation"}
    assert next(r for r in rows if r["event"] == "donation")["amount"] == Decimal("25.5")
    assert all("referrer" not in r or r["referrer"] for r in rows)


def test_a_poison_record_is_reported_and_the_others_written(app, table) -> None:
    writer = app.ReplicaWriter(table, "replica")
    event = json.loads((EVENTS / "kinesis_poison.json").read_text())
    response = app.handle_batch(event["Records"], writer)
    poison = event["Records"][1]["kinesis"]["sequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": poison}]}
    assert table.scan(TableName="replica")["Count"] == 2


def test_the_client_uses_credentials_of_the_assumed_role(app) -> None:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        arn = iam.create_role(RoleName="writer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        sts = boto3.client("sts", region_name="us-east-1")
        calls: list[str] = []
        original = sts.assume_role

        def assume_role(**kwargs: Any) -> Any:
            calls.append(kwargs["RoleArn"])
            return original(**kwargs)

        sts.assume_role = assume_role
        client = app.assumed_role_client("dynamodb", arn, "test", sts)
        creds = client._request_signer._credentials.get_frozen_credentials()
        assert calls == [arn]
        assert creds.access_key != "testing" and creds.token  # STS's temporary keys
        assert client.list_tables()["TableNames"] == []


def test_records_decode_like_the_producer_wrote_them(app) -> None:
    data = json.dumps({"event": "click"}).encode()
    record = {"kinesis": {"data": base64.b64encode(data).decode(), "sequenceNumber": SEQ},
              "eventID": f"{SHARD}:{SEQ}"}
    item = plain(app.record_handler(KinesisStreamRecord(record)))
    assert item == {"event": "click", "sequenceNumber": SEQ, "shardId": SHARD,
                    "seqNumbershardIdHash": f"80_{SHARD}"}
