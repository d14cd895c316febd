from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from common.warehouse import SqliteWarehouse

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "data_quality"
BUCKET = "data-quality-local"


@dataclass
class LambdaContext:
    function_name: str = "GateFunction"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:Gate"
    aws_request_id: str = "00000000-0000-0000-0000-000000000002"


@pytest.fixture
def aws(dq_demo):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        rules = ddb.create_table(
            TableName="rules", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                  {"AttributeName": "dataset_name", "AttributeType": "S"}],
            GlobalSecondaryIndexes=[{"IndexName": "by_dataset", "KeySchema": [
                {"AttributeName": "dataset_name", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}}])
        dq_demo.put_rules(boto3.client("dynamodb", region_name="us-east-1"), "rules",
                          dq_demo.seed_rules())
        yield {"s3": s3, "rules": rules, "ddb": ddb}


def _keys(s3, prefix=""):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get(
        "Contents", []))


def test_parse_key_and_execution_names(dq_app) -> None:
    assert dq_app.parse_key("raw/job_reqs/postings.csv") == ("job_reqs", "postings")
    for bad in ("raw/postings.csv", "raw/Job-Reqs/a.csv", "other/job_reqs/a.csv",
                "raw/job_reqs/a.txt"):
        with pytest.raises(dq_app.GateInputError):
            dq_app.parse_key(bad)
    name = dq_app.execution_name("job_reqs", "my postings (2)", "etag")
    assert name.startswith("job_reqs-my-postings--2--") and len(name) <= 80
    assert name == dq_app.execution_name("job_reqs", "my postings (2)", "etag")
    assert name != dq_app.execution_name("job_reqs", "my postings (2)", "etag2")


def test_judged_file_outputs_and_load(dq_app, dq_demo, aws, tmp_path) -> None:
    data, expected = dq_demo.sample_csv(1200, seed=3)
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/job_reqs/postings.csv", Body=data)
    state = dq_app.gate_object(BUCKET, "raw/job_reqs/postings.csv", "e1", s3=aws["s3"],
                               rules_table=aws["rules"], chunk_rows=500, poll_seconds=3)
    report = state["report"]
    dq_demo.check_report(report, expected)
    assert report["chunks"] == 3 and state["poll_seconds"] == 3
    assert [r["column"] for r in report["rules"]] == ["job_type", "location", "organization",
                                                      "uniq_id"]  # sorted by item id
    assert report["outputs"] == {
        "accepted": f"s3://{BUCKET}/accepted/job_reqs/postings.parquet",
        "rejected": f"s3://{BUCKET}/rejected/job_reqs/postings.parquet"}
    assert state["load"] == {"table": "job_reqs_accepted", "columns": dq_demo.COLUMNS,
                             "bucket": BUCKET, "key": "accepted/job_reqs/postings.parquet"}
    assert _keys(aws["s3"], "raw/") == ["raw/job_reqs/postings.csv"]  # the source stays
    wh = SqliteWarehouse(tmp_path / "wh.sqlite", s3=aws["s3"])
    statement = dq_app.load_accepted(state["load"], wh)
    assert statement["Status"] == "FINISHED" and statement["ResultRows"] == expected.accepted
    assert wh.query("SELECT COUNT(*) FROM job_reqs_accepted WHERE organization IS NULL") == [
        (0,)]
    # a second file of the dataset replaces the table (a file is a snapshot of its dataset)
    data2, expected2 = dq_demo.sample_csv(100, seed=4)
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/job_reqs/next.csv", Body=data2)
    state2 = dq_app.gate_object(BUCKET, "raw/job_reqs/next.csv", "e2", s3=aws["s3"],
                                rules_table=aws["rules"])
    dq_app.load_accepted(state2["load"], wh)
    assert wh.query("SELECT COUNT(*) FROM job_reqs_accepted") == [(expected2.accepted,)]


def test_unknown_expectation_is_reported_before_judging(dq_app, aws) -> None:
    aws["rules"].put_item(Item={"id": "job_reqs-salary", "dataset_name": "job_reqs",
                                "column_name": "salary",
                                "rules": [{"name": "expect_column_values_to_be_money"}]})
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/job_reqs/p.csv", Body=b"garbage\x00\xff")
    state = dq_app.gate_object(BUCKET, "raw/job_reqs/p.csv", "e", s3=aws["s3"],
                               rules_table=aws["rules"])
    assert state["report"]["status"] == "CONFIG_ERROR" and state["load"] is None
    assert "unknown expectation 'expect_column_values_to_be_money'" in state["report"]["error"]
    # nothing judged, nothing moved: the (even unreadable) file waits for fixed rules
    assert _keys(aws["s3"]) == ["raw/job_reqs/p.csv"]
    other = dq_app.gate_object(BUCKET, "raw/no_rules/p.csv", "e", s3=aws["s3"],
                               rules_table=aws["rules"])
    assert other["report"]["error"] == "no rules for dataset 'no_rules' in the rules table"


def test_malformed_file_is_moved_to_quarantine_with_its_reason(dq_app, dq_demo, aws) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/job_reqs/broken.csv", Body=dq_demo.MALFORMED_CSV)
    state = dq_app.gate_object(BUCKET, "raw/job_reqs/broken.csv", "e", s3=aws["s3"],
                               rules_table=aws["rules"])
    report = state["report"]
    assert report["status"] == "QUARANTINED" and dq_demo.MALFORMED_REASON in report["error"]
    assert _keys(aws["s3"]) == ["quarantine/job_reqs/broken.csv",
                                "quarantine/job_reqs/broken.csv.reason.json"]
    moved = aws["s3"].get_object(Bucket=BUCKET, Key="quarantine/job_reqs/broken.csv")
    assert moved["Body"].read() == dq_demo.MALFORMED_CSV
    assert dq_demo.MALFORMED_REASON in moved["Metadata"]["quarantine-reason"]
    reason = json.loads(aws["s3"].get_object(
        Bucket=BUCKET, Key="quarantine/job_reqs/broken.csv.reason.json")["Body"].read())
    assert reason["source"] == f"s3://{BUCKET}/raw/job_reqs/broken.csv"


def test_file_outside_the_layout_is_quarantined(dq_app, aws) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/Loose File.csv", Body=b"a\n1\n")
    state = dq_app.gate_object(BUCKET, "raw/Loose File.csv", "e", s3=aws["s3"],
                               rules_table=aws["rules"])
    assert state["report"]["status"] == "QUARANTINED"
    assert state["report"]["dataset"] == "_invalid"
    assert _keys(aws["s3"], "quarantine/") == ["quarantine/_invalid/Loose File.csv",
                                               "quarantine/_invalid/Loose File.csv.reason.json"]


def test_handler_starts_one_execution_per_object_version(dq_app, dq_demo, aws,
                                                         monkeypatch) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(
        name="load", roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=(ROOT / "statemachines" / "data_quality.asl.json").read_text())
    monkeypatch.setenv("RULES_TABLE", "rules")
    monkeypatch.setenv("LOAD_STATE_MACHINE_ARN", machine["stateMachineArn"])
    monkeypatch.setattr(dq_app, "_s3", aws["s3"])
    monkeypatch.setattr(dq_app, "_sfn", sfn)
    monkeypatch.setattr(dq_app, "_dynamodb", aws["ddb"])
    data, expected = dq_demo.sample_csv(300)
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/job_reqs/postings.csv", Body=data)
    event = json.loads((EVENTS / "s3_put.json").read_text())
    (result,) = dq_app.gate_handler(event, LambdaContext())["results"]
    assert (result["status"], result["accepted_rows"]) == ("JUDGED", expected.accepted)
    execution = sfn.describe_execution(executionArn=result["execution"])
    sent = json.loads(execution["input"])
    assert sent["load"]["key"] == "accepted/job_reqs/postings.parquet"
    assert sent["report"]["rejected_rows"] == expected.rejected
    stored = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key="reports/job_reqs/postings.json")
                        ["Body"].read())
    assert stored["execution"] == result["execution"]
    # S3 may deliver an event twice: the second finds the execution already started
    (again,) = dq_app.gate_handler(event, LambdaContext())["results"]
    assert again["execution"] == ""
    assert len(sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]) == 1
    rejected = pq.read_table(io.BytesIO(aws["s3"].get_object(
        Bucket=BUCKET, Key="rejected/job_reqs/postings.parquet")["Body"].read()))
    assert rejected.num_rows == expected.rejected


def test_load_handler_with_the_sample_event(dq_app, dq_demo, aws, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LOCALCLOUD_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("WAREHOUSE_SQLITE_PATH", "dq.sqlite")
    monkeypatch.setattr(dq_app, "_s3", aws["s3"])
    data, expected = dq_demo.sample_csv(200)
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/job_reqs/postings.csv", Body=data)
    dq_app.gate_object(BUCKET, "raw/job_reqs/postings.csv", "e", s3=aws["s3"],
                       rules_table=aws["rules"])
    event = json.loads((EVENTS / "load.json").read_text())
    statement = dq_app.load_handler(event, LambdaContext())
    assert statement["ResultRows"] == expected.accepted
    with pytest.raises(dq_app.GateInputError):
        dq_app.load_handler({"table": "t"}, LambdaContext())
