"""The five handlers of vpn_usage: partial batch responses, validation, the API's answers."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from usage_aggregation import Usage
from usage_store import Settings, UsageStore

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "vpn_usage"

T0 = int(datetime(2026, 5, 10, 9, 0, tzinfo=UTC).timestamp())
TABLE_ENV = {"DEVICE_USAGE_TABLE": "devices", "ACCOUNTS_TABLE": "accounts",
             "FREE_QUOTA_BYTES": str(10 * 2**20)}


@pytest.fixture(scope="module")
def aggregate_app(load_module):
    return load_module("functions/vpn_usage/aggregate/app.py", "vpn_usage_aggregate_app")


@pytest.fixture(scope="module")
def ingest_app(load_module):
    return load_module("functions/vpn_usage/ingest/app.py", "vpn_usage_ingest_app")


@pytest.fixture(scope="module")
def query_app(load_module):
    return load_module("functions/vpn_usage/query/app.py", "vpn_usage_query_app")


@pytest.fixture(scope="module")
def cutoff_app(load_module):
    return load_module("functions/vpn_usage/cutoff/app.py", "vpn_usage_cutoff_app")


@pytest.fixture(scope="module")
def reopen_app(load_module):
    return load_module("functions/vpn_usage/reopen/app.py", "vpn_usage_reopen_app")


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def kinesis_record(seq: int, data: bytes) -> dict[str, Any]:
    sequence = f"{seq:056d}"
    return {"kinesis": {"sequenceNumber": sequence, "partitionKey": "p",
                        "data": base64.b64encode(data).decode()},
            "eventID": f"shardId-000000000000:{sequence}", "eventSource": "aws:kinesis"}


def usage(device: str, minute_index: int, b_in: int = 1000) -> Usage:
    minute = T0 + 60 * minute_index
    return Usage("acct-1", device, "edge-1", minute, minute + 65, b_in, 0)


def store_for(res: Any) -> UsageStore:
    return UsageStore(res.ddb, res.s3, res.sqs, Settings(
        device_table=res.device_table, accounts_table=res.accounts_table,
        lake_bucket=res.bucket, limit_queue_url=res.limit_queue_url))


# --- aggregation ----------------------------------------------------------------------------


def test_a_poison_record_is_reported_with_every_record_after_it(aggregate_app, resources):
    records = [kinesis_record(1, usage("dev-1", 0).to_json().encode()),
               kinesis_record(2, usage("dev-2", 0).to_json().encode()),
               kinesis_record(3, b"{not json"),
               kinesis_record(4, usage("dev-3", 0).to_json().encode())]
    response, result = aggregate_app.handle_batch(records, store_for(resources))
    assert response == {"batchItemFailures": [{"itemIdentifier": f"{3:056d}"},
                                              {"itemIdentifier": f"{4:056d}"}]}
    # Only what came before the poison record is counted now; the rest comes back on retry.
    assert sorted(u.device_id for u in result.counted) == ["dev-1", "dev-2"]
    assert result.lake_keys[0].endswith(f"/shardId-000000000000-{1:056d}-{2:056d}.jsonl")
    retried, again = aggregate_app.handle_batch(records[3:], store_for(resources))
    assert retried == {"batchItemFailures": []}
    assert [u.device_id for u in again.counted] == ["dev-3"]


def test_a_batch_of_poison_only_is_reported_not_raised(aggregate_app, resources):
    records = [kinesis_record(7, b"[]"), kinesis_record(8, b"")]
    response, result = aggregate_app.handle_batch(records, store_for(resources))
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [
        f"{7:056d}", f"{8:056d}"]
    assert result.counted == [] and resources.ddb.scan(TableName="devices")["Count"] == 0


def test_the_sample_event_aggregates_through_the_handler(aggregate_app, resources, context,
                                                         monkeypatch):
    monkeypatch.setattr(aggregate_app, "_store", store_for(resources))
    assert aggregate_app.handler(event("kinesis_batch.json"), context) == {
        "batchItemFailures": []}
    row = resources.ddb.get_item(TableName="devices", Key={
        "device_id": {"S": "laptop-1"}, "hour": {"S": "2026-05-01T10"}})["Item"]
    assert (row["bytes_in"]["N"], row["records"]["N"]) == ("2000000", "2")
    poison = aggregate_app.handler(event("kinesis_poison.json"), context)
    assert len(poison["batchItemFailures"]) == 2


# --- ingest ---------------------------------------------------------------------------------


class FakeKinesis:
    """PutRecords that refuses the first `refuse` records of each of the first calls."""

    def __init__(self, refuse_calls: int = 0) -> None:
        self.refuse_calls = refuse_calls
        self.calls: list[list[dict[str, Any]]] = []

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Records)
        refuse = len(self.calls) <= self.refuse_calls
        out = [{"ErrorCode": "ProvisionedThroughputExceededException"} if refuse and i == 0
               else {"SequenceNumber": str(i), "ShardId": "s"} for i in range(len(Records))]
        return {"FailedRecordCount": 1 if refuse else 0, "Records": out}


def test_ingest_splits_a_report_into_one_record_per_device(ingest_app):
    kinesis = FakeKinesis()
    response = ingest_app.ingest(event("post_usage.json"), kinesis, "usage")
    assert response["statusCode"] == 202
    assert json.loads(response["body"]) == {"accepted": 3, "server_id": "edge-fra-1",
                                            "minute": "2026-05-01T10:05:00Z"}
    (records,) = kinesis.calls
    assert [r["PartitionKey"] for r in records] == ["acct-1/laptop-1", "acct-1/phone-1",
                                                    "acct-2/laptop-7"]
    assert json.loads(records[0]["Data"]) == {
        "account_id": "acct-1", "device_id": "laptop-1", "server_id": "edge-fra-1",
        "minute": 1777629900, "reported_at": 1777629965, "bytes_in": 1200000,
        "bytes_out": 300000}


def test_ingest_retries_refused_records_then_answers_503(ingest_app):
    kinesis = FakeKinesis(refuse_calls=1)
    assert ingest_app.put_all(kinesis, "usage", [{"Data": b"x", "PartitionKey": "a"}] * 3,
                              sleep=lambda s: None) == 0
    assert [len(c) for c in kinesis.calls] == [3, 1]  # only the refused record again
    stuck = FakeKinesis(refuse_calls=99)
    assert ingest_app.put_all(stuck, "usage", [{"Data": b"x", "PartitionKey": "a"}] * 2,
                              sleep=lambda s: None) == 1
    assert len(stuck.calls) == ingest_app.PUT_ATTEMPTS


def test_chunks_respect_the_put_records_limits(ingest_app):
    small = [{"Data": b"x" * 10, "PartitionKey": "k"}] * 1201
    assert [len(c) for c in ingest_app.chunks(small)] == [500, 500, 201]
    big = [{"Data": b"x" * (2 * 2**20), "PartitionKey": "k"}] * 5
    assert [len(c) for c in ingest_app.chunks(big)] == [2, 2, 1]


REPORT = {"server_id": "edge-1", "minute": "2026-05-10T09:00:00Z",
          "usage": [{"account_id": "a", "device_id": "d", "bytes_in": 1, "bytes_out": 2}]}
NOW = int(datetime(2026, 5, 10, 9, 1, 5, tzinfo=UTC).timestamp())


@pytest.mark.parametrize("change, field", [
    ({"minute": "2026-05-10T09:00:30Z"}, "minute"),
    ({"minute": "2026-05-10 09:00"}, "minute"),
    ({"minute": "yesterday"}, "minute"),
    ({"reported_at": "2026-05-10T08:59:00Z"}, "reported_at"),
    ({"minute": "2026-05-10T10:00:00Z"}, "reported_at"),  # from the future
    ({"server_id": "edge 1"}, "server_id"),
    ({"usage": []}, "usage"),
    ({"usage": [{"account_id": "a", "device_id": "d", "bytes_in": -1, "bytes_out": 0}]},
     "bytes_in"),
    ({"usage": [{"account_id": "a", "device_id": "d", "bytes_in": 1}]}, "bytes_out"),
    ({"usage": [REPORT["usage"][0], REPORT["usage"][0]]}, "usage"),
])
def test_a_bad_report_is_a_400_naming_the_field(ingest_app, change, field):
    with pytest.raises(ingest_app.ValidationError) as err:
        ingest_app.parse_report({**REPORT, **change}, NOW)
    assert err.value.status == 400 and err.value.field == field


def test_reported_at_defaults_to_the_time_received(ingest_app):
    report = ingest_app.parse_report(REPORT, NOW)
    assert (report.minute, report.reported_at) == (NOW - 65, NOW)


def test_the_handler_answers_bad_json_with_a_json_400(ingest_app, context, monkeypatch):
    monkeypatch.setenv("USAGE_STREAM", "usage")
    bad = {**event("post_usage.json"), "body": "{"}
    response = ingest_app.handler(bad, context)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["message"] == "Request body is not valid JSON"
    invalid = ingest_app.handler(event("post_usage_invalid.json"), context)
    assert (invalid["statusCode"], json.loads(invalid["body"])["field"]) == (400, "minute")


# --- query ----------------------------------------------------------------------------------


def test_device_usage_sums_days_and_hides_the_stamps(query_app, resources, monkeypatch):
    monkeypatch.setattr("os.environ", {**TABLE_ENV})
    store = store_for(resources)
    store.process([usage("dev-1", m) for m in (0, 1, 60 * 20)], "b1")  # 09:00, 09:01, 05-11 05:00
    now = T0 + 30 * 3600  # 2026-05-11 15:00
    ev = {"routeKey": "GET /devices/{device_id}/usage", "pathParameters": {"device_id": "dev-1"}}
    body = query_app.route(ev, resources.ddb, clock=lambda: now)
    assert body["total"] == {"bytes_in": 3000, "bytes_out": 0, "bytes": 3000}
    assert body["usage"] == [
        {"date": "2026-05-10", "bytes_in": 2000, "bytes_out": 0, "bytes": 2000},
        {"date": "2026-05-11", "bytes_in": 1000, "bytes_out": 0, "bytes": 1000}]
    hourly = query_app.route({**ev, "queryStringParameters": {"granularity": "hour", "days": "1"}},
                             resources.ddb, clock=lambda: now)
    assert [row["hour"] for row in hourly["usage"]] == ["2026-05-11T05:00Z"]
    assert "stamps" not in json.dumps(hourly)


@pytest.mark.parametrize("ev, status", [
    ({"routeKey": "GET /devices/{device_id}/usage", "pathParameters": {"device_id": "nobody"}},
     404),
    ({"routeKey": "GET /devices/{device_id}/usage", "pathParameters": {"device_id": "a b"}},
     400),
    ({"routeKey": "GET /devices/{device_id}/usage", "pathParameters": {"device_id": "d"},
      "queryStringParameters": {"days": "31"}}, 400),
    ({"routeKey": "GET /devices/{device_id}/usage", "pathParameters": {"device_id": "d"},
      "queryStringParameters": {"granularity": "minute"}}, 400),
    ({"routeKey": "GET /accounts/{account_id}", "pathParameters": {"account_id": "nobody"}}, 404),
])
def test_query_errors(query_app, resources, monkeypatch, ev, status):
    monkeypatch.setattr("os.environ", {**TABLE_ENV})
    with pytest.raises(query_app.HttpError) as err:
        query_app.route(ev, resources.ddb)
    assert err.value.status == status


def test_account_shows_cycle_usage_and_block(query_app, cutoff_app, resources, monkeypatch):
    monkeypatch.setattr("os.environ", {**TABLE_ENV})
    store_for(resources).process([usage("dev-1", 0, b_in=4 * 2**20)], "b1")
    ev = {"routeKey": "GET /accounts/{account_id}", "pathParameters": {"account_id": "acct-1"}}
    now = T0 + 3600
    view = query_app.route(ev, resources.ddb, clock=lambda: now)
    assert view["status"] == "active" and view["blocked_until"] is None
    assert view["cycle"] == {"id": "2026-05", "start": "2026-05-01T00:00:00Z",
                             "end": "2026-06-01T00:00:00Z", "usage_bytes": 4 * 2**20,
                             "bytes_in": 4 * 2**20, "bytes_out": 0,
                             "quota_bytes": 10 * 2**20, "remaining_bytes": 6 * 2**20}
    cutoff = cutoff_app.parse_cutoff({"account_id": "acct-1", "cycle": "2026-05",
                                      "usage_bytes": 11 * 2**20, "quota_bytes": 10 * 2**20,
                                      "blocked_until": "2026-06-01T00:00:00+00:00"})
    assert cutoff_app.block(resources.ddb, "accounts", cutoff, datetime.fromtimestamp(now, UTC))
    blocked = query_app.route(ev, resources.ddb, clock=lambda: now)
    assert (blocked["status"], blocked["blocked_until"]) == ("blocked", "2026-06-01T00:00:00Z")
    # Next cycle: nothing used yet, still blocked until the re-open schedule runs.
    june = query_app.route(ev, resources.ddb, clock=lambda: now + 30 * 86400)
    assert june["cycle"]["id"] == "2026-06" and june["cycle"]["usage_bytes"] == 0


# --- cutoff and re-open ---------------------------------------------------------------------


def cutoff_message(account: str, until: str = "2026-06-01T00:00:00+00:00") -> dict[str, Any]:
    return {"account_id": account, "cycle": "2026-05", "usage_bytes": 11, "quota_bytes": 10,
            "blocked_until": until}


@pytest.mark.parametrize("body", [None, [], {"account_id": "a"},
                                  {**cutoff_message("a"), "cycle": "May"},
                                  {**cutoff_message("a"), "usage_bytes": "11"},
                                  {**cutoff_message("a"), "blocked_until": "2026-06-01T00:00:00"}])
def test_parse_cutoff_rejects_malformed_requests(cutoff_app, body):
    with pytest.raises(cutoff_app.BadRequest):
        cutoff_app.parse_cutoff(body)


def test_blocking_is_idempotent_never_shorter_and_skips_past_cycles(cutoff_app, resources):
    now = datetime(2026, 5, 20, tzinfo=UTC)
    first = cutoff_app.parse_cutoff(cutoff_message("a"))
    assert cutoff_app.block(resources.ddb, "accounts", first, now) is True
    assert cutoff_app.block(resources.ddb, "accounts", first, now) is False
    shorter = cutoff_app.parse_cutoff(cutoff_message("a", "2026-05-25T00:00:00+00:00"))
    assert cutoff_app.block(resources.ddb, "accounts", shorter, now) is False
    past = cutoff_app.parse_cutoff(cutoff_message("b", "2026-05-01T00:00:00+00:00"))
    assert cutoff_app.block(resources.ddb, "accounts", past, now) is False
    items = resources.ddb.scan(TableName="accounts")["Items"]
    assert [(i["account_id"]["S"], i["blocked_until"]["S"]) for i in items] == [
        ("a", "2026-06-01T00:00:00Z")]


def test_cutoff_handler_fails_only_the_malformed_message(cutoff_app, resources, context,
                                                         monkeypatch):
    monkeypatch.setattr(cutoff_app, "ddb_client", resources.ddb)
    monkeypatch.setenv("ACCOUNTS_TABLE", "accounts")
    good = event("cutoff.json")["Records"][0]
    bad = {**good, "messageId": "bad-1", "body": "not json"}
    response = cutoff_app.handler({"Records": [good, bad]}, context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
    assert resources.ddb.get_item(TableName="accounts", Key={
        "account_id": {"S": "acct-1"}, "sk": {"S": "status"}})["Item"]["status"]["S"] == "blocked"


def test_reopen_opens_what_is_due_and_nothing_else(reopen_app, cutoff_app, resources):
    may = datetime(2026, 5, 20, tzinfo=UTC)
    for account, until in (("a", "2026-06-01T00:00:00+00:00"), ("b", "2026-07-01T00:00:00+00:00")):
        cutoff_app.block(resources.ddb, "accounts",
                         cutoff_app.parse_cutoff(cutoff_message(account, until)), may)
    assert reopen_app.reopen(resources.ddb, "accounts", datetime(2026, 5, 31, 23, 59,
                                                                 tzinfo=UTC)) == []
    assert reopen_app.reopen(resources.ddb, "accounts", datetime(2026, 6, 1, tzinfo=UTC)) == ["a"]
    status = resources.ddb.get_item(TableName="accounts", Key={
        "account_id": {"S": "a"}, "sk": {"S": "status"}})["Item"]
    assert status["status"]["S"] == "active" and "block_state" not in status
    assert reopen_app.reopen(resources.ddb, "accounts", datetime(2026, 6, 2, tzinfo=UTC)) == []


def test_reopen_takes_now_from_the_scheduled_event(reopen_app):
    assert reopen_app.event_time(event("reopen_schedule.json")) == datetime(2026, 6, 1,
                                                                            tzinfo=UTC)
    assert reopen_app.event_time({"time": "garbage"}, clock=lambda: 0) == datetime(
        1970, 1, 1, tzinfo=UTC)
