from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from common.warehouse import SqliteWarehouse, Statement

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "dynamic_etl"
TODAY = "2026-06-15"


@dataclass
class LambdaContext:
    function_name: str = "ExecuteFunction"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:Execute"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        keys = ddb.create_table(
            TableName="keys", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "campaign_key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "campaign_key", "AttributeType": "S"}])
        runs = ddb.create_table(
            TableName="runs", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"}])
        yield {"s3": s3, "keys": keys, "runs": runs, "ddb": ddb}


def _put_keys(aws, demo, keys) -> None:
    for key in keys:
        aws["keys"].put_item(Item=json.loads(json.dumps(key), parse_float=__import__(
            "decimal").Decimal))


def test_run_date_sources(etl_app) -> None:
    assert etl_app.run_date({"date": "2026-01-02"}) == "2026-01-02"
    assert etl_app.run_date({"time": "2026-03-04T14:00:00Z", "source": "aws.events"}) == \
        "2026-03-04"
    assert etl_app.run_date({}, now=datetime(2026, 5, 6, tzinfo=UTC)) == "2026-05-06"
    with pytest.raises(etl_app.StepInputError, match="YYYY-MM-DD"):
        etl_app.run_date({"date": "06/15/2026"})


def test_plan_with_no_many_invalid_and_conflicting_keys(etl_app, etl_demo) -> None:
    assert etl_app.plan_run([], TODAY).keys == []
    keys = etl_demo.sample_keys(TODAY)
    conflicting = {**keys[1], "campaign_key": "WINTER2", "target_table": "campaign_sales"}
    bad = {**keys[0], "campaign_key": "BADRULES", "target_table": "bad_rules",
           "rules": {"columns": [{"name": "x", "type": "money"}]}}
    disabled = {**keys[0], "campaign_key": "ZOFF", "enabled": False}
    plan = etl_app.plan_run([*keys, conflicting, bad, disabled], TODAY)
    assert [k["campaign_key"] for k in plan.keys] == ["BADRULES", "BROKEN", "SPRING", "WINTER",
                                                     "WINTER2"]
    errors = {k["campaign_key"]: k.get("error") for k in plan.keys}
    assert "type must be one of" in errors["BADRULES"]
    assert errors["WINTER2"] == ("target table campaign_sales is declared with other columns "
                                 "by key SPRING")
    assert errors["SPRING"] is None and errors["BROKEN"] is None
    # every valid key's table, the ended campaign's too (the run replaces campaign data)
    assert sorted(plan.tables) == ["broken_sales", "campaign_sales", "old_sales", "web_sales"]
    assert [c.name for c in plan.tables["web_sales"]] == ["campaign_key", "sale_id", "label",
                                                         "units"]
    assert plan.inactive == 2  # OLD ended, OFF disabled


def test_start_recreates_tables_and_hands_over_keys(etl_app, etl_demo, aws, tmp_path) -> None:
    _put_keys(aws, etl_demo, etl_demo.sample_keys(TODAY))
    wh = SqliteWarehouse(tmp_path / "wh.sqlite", s3=aws["s3"])
    wh.recreate_tables({"campaign_sales": [etl_app.Column("stale")]})
    out = etl_app.start({"run_id": "r1", "started_at": "2026-06-15T03:00:00Z",
                         "input": {"time": f"{TODAY}T03:00:00Z"}},
                        keys_table=aws["keys"], warehouse=wh, max_concurrency=3,
                        poll_seconds=7)
    assert (out["run_date"], out["key_count"], out["inactive_count"]) == (TODAY, 3, 1)
    assert [k["campaign_key"] for k in out["keys"]] == ["BROKEN", "SPRING", "WINTER"]
    assert (out["max_concurrency"], out["poll_seconds"], out["engine"]) == (3, 7, "sqlite")
    assert out["prepare"]["Status"] == "FINISHED"
    assert [r[1] for r in wh.query("PRAGMA table_info(campaign_sales)")][:2] == [
        "campaign_key", "sale_id"]
    json.dumps(out)  # the state machine gets JSON: no Decimals left


def test_start_without_keys_touches_nothing(etl_app, aws, tmp_path) -> None:
    class NoWarehouse:
        engine = "sqlite"

        def recreate_tables(self, tables):
            raise AssertionError("no table work on an empty run")

    out = etl_app.start({"run_id": "r0", "input": {"date": TODAY}}, keys_table=aws["keys"],
                        warehouse=NoWarehouse(), max_concurrency=2)
    assert (out["key_count"], out["keys"], out["prepare"]["Status"]) == (0, [], "FINISHED")


def test_execute_writes_the_object_and_loads_it(etl_app, etl_demo, aws, tmp_path) -> None:
    keys = etl_demo.sample_keys(TODAY)
    campaigns = {k["campaign_key"]: (k["start_date"], k["end_date"]) for k in keys}
    rows = etl_demo.generate_rows(campaigns, 300)
    aws["s3"].put_object(Bucket="data", Key=etl_demo.SOURCE_KEY,
                         Body=etl_demo.rows_to_csv(rows, etl_demo.source_columns()))
    wh = SqliteWarehouse(tmp_path / "wh.sqlite", s3=aws["s3"])
    plan = etl_app.plan_run(keys, TODAY)
    wh.recreate_tables(plan.tables)
    spring = next(k for k in plan.keys if k["campaign_key"] == "SPRING")
    out = etl_app.execute_key({"run_id": "r1", "key": spring}, s3=aws["s3"], bucket="data",
                              warehouse=wh, env={})
    expected = etl_demo.expected_spring(rows, "SPRING")
    assert out["rows"] == expected and out["rows_extracted"] == 300
    assert out["object"] == "s3://data/runs/r1/SPRING.csv"
    assert out["load"]["Status"] == "FINISHED" and out["load"]["ResultRows"] == expected
    body = aws["s3"].get_object(Bucket="data", Key="runs/r1/SPRING.csv")["Body"].read().decode()
    assert body.splitlines()[0] == ("campaign_key,sale_id,sold_on,region,product,units,revenue,"
                                    "channel_code")
    # revenue = units * unit_price for a row checked by hand from the generated data
    row = next(r for r in rows if r["campaign"] == "SPRING" and r["region"] in ("EU", "US")
               and r["units"].isdigit())
    got = wh.query("SELECT units, revenue, channel_code FROM campaign_sales WHERE sale_id = ?",
                   (int(row["id"]),))
    assert got == [(int(row["units"]),
                    pytest.approx(int(row["units"]) * float(row["unit_price"])),
                    row["channel"].upper())]
    assert wh.query("SELECT COUNT(*) FROM campaign_sales WHERE region NOT IN ('EU', 'US')") == [
        (0,)]


def test_execute_parquet_and_redshift_load_statement(etl_app, etl_demo, aws) -> None:
    keys = etl_demo.sample_keys(TODAY)
    rows = etl_demo.generate_rows({"WINTER": (keys[1]["start_date"], keys[1]["end_date"])}, 50)
    aws["s3"].put_object(Bucket="data", Key=etl_demo.SOURCE_KEY,
                         Body=etl_demo.rows_to_csv(rows, etl_demo.source_columns()))

    class Recorder:
        engine = "redshift"
        calls: list = []

        def copy_from_s3(self, table, columns, bucket, key, fmt="csv"):
            self.calls.append((table, [c.name for c in columns], bucket, key, fmt))
            return Statement("stmt-1", "SUBMITTED")

    wh = Recorder()
    out = etl_app.execute_key({"run_id": "r2", "key": keys[1]}, s3=aws["s3"], bucket="data",
                              warehouse=wh, env={})
    # Redshift answers at once: the state machine polls the statement, the function returns
    assert out["load"] == {"Id": "stmt-1", "Status": "SUBMITTED"}
    assert wh.calls == [("web_sales", ["campaign_key", "sale_id", "label", "units"], "data",
                         "runs/r2/WINTER.parquet", "parquet")]
    assert out["rows"] == etl_demo.expected_winter(rows, "WINTER")


def test_execute_failures_name_the_key(etl_app, aws, etl_demo) -> None:
    keys = etl_demo.sample_keys(TODAY)
    with pytest.raises(etl_app.SourceError, match="^BROKEN: cannot read"):
        etl_app.execute_key({"run_id": "r", "key": keys[2]}, s3=aws["s3"], bucket="data",
                            warehouse=None, env={})
    with pytest.raises(etl_app.KeyConfigError, match="^X: bad rules"):
        etl_app.execute_key({"run_id": "r", "key": {"campaign_key": "X", "error": "bad rules"}},
                            s3=aws["s3"], bucket="data", warehouse=None, env={})
    with pytest.raises(etl_app.StepInputError):
        etl_app.execute_key({"key": {}}, s3=aws["s3"], bucket="data", warehouse=None, env={})


def test_summaries(etl_app) -> None:
    now = datetime(2026, 6, 15, 3, 0, 42, tzinfo=UTC)
    run = {"run_id": "r", "run_date": TODAY, "started_at": "2026-06-15T03:00:00.000Z",
           "tables": ["t"], "engine": "sqlite"}
    empty = etl_app.summarize({**run, "results": []}, now)
    assert (empty["status"], empty["keys_total"], empty["rows_total"]) == ("NOTHING_TO_DO", 0, 0)
    assert empty["message"] == f"No active campaign keys for {TODAY}: nothing loaded."
    assert empty["duration_seconds"] == 42.0
    cause = json.dumps({"errorMessage": "B: cannot read", "errorType": "SourceError"})
    mixed = etl_app.summarize({**run, "results": [
        {"campaign_key": "A", "status": "LOADED", "rows": 10},
        {"campaign_key": "B", "status": "FAILED", "error_type": "SourceError", "error": cause},
        {"campaign_key": "C", "status": "LOADED", "rows": 5}]}, now)
    assert mixed["status"] == "PARTIAL" and mixed["rows_per_key"] == {"A": 10, "C": 5}
    assert mixed["failures"] == [{"campaign_key": "B", "error_type": "SourceError",
                                  "error": "B: cannot read"}]
    assert mixed["message"] == "2 of 3 keys loaded (15 rows); failed: B."


def test_handlers_with_the_sample_events(etl_app, etl_demo, aws, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KEYS_TABLE", "keys")
    monkeypatch.setenv("RUNS_TABLE", "runs")
    monkeypatch.setenv("DATA_BUCKET", "data")
    monkeypatch.setenv("LOCALCLOUD_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("WAREHOUSE_SQLITE_PATH", "etl.sqlite")
    monkeypatch.setattr(etl_app, "_s3", aws["s3"])
    monkeypatch.setattr(etl_app, "_dynamodb", aws["ddb"])
    start_event = json.loads((EVENTS / "start.json").read_text())
    keys = etl_demo.sample_keys(start_event["input"]["date"])
    _put_keys(aws, etl_demo, keys)
    campaigns = {k["campaign_key"]: (k["start_date"], k["end_date"]) for k in keys}
    rows = etl_demo.generate_rows(campaigns, 40)
    aws["s3"].put_object(Bucket="data", Key=etl_demo.SOURCE_KEY,
                         Body=etl_demo.rows_to_csv(rows, etl_demo.source_columns()))
    run = etl_app.start_handler(start_event, LambdaContext())
    assert run["key_count"] == 3
    execute_event = json.loads((EVENTS / "execute.json").read_text())
    assert execute_event["key"] == next(k for k in run["keys"] if k["campaign_key"] == "SPRING")
    result = etl_app.execute_handler(execute_event, LambdaContext())
    assert result["rows"] == etl_demo.expected_spring(rows, "SPRING")
    summary = etl_app.summarize_handler(json.loads((EVENTS / "summarize.json").read_text()),
                                        LambdaContext())
    stored = aws["runs"].get_item(Key={"run_id": summary["run_id"]})["Item"]
    assert stored["status"] == summary["status"] == "PARTIAL"
    assert stored["rows_per_key"] == summary["rows_per_key"]
    with pytest.raises(etl_app.StepInputError):
        etl_app.summarize_handler({}, LambdaContext())
