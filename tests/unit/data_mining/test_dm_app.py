from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "data_mining"
DATA = "data-mining-local"


@dataclass
class LambdaContext:
    function_name: str = "ScrapeFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:Scrape"
    aws_request_id: str = "00000000-0000-0000-0000-000000000003"


def _table(ddb, name, *keys):
    return ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(
            keys, ("HASH", "RANGE"), strict=False)],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "N" if k == "window"
                               else "S"} for k in keys])


@pytest.fixture
def env(dm_app, dm_demo, monkeypatch):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (DATA, "responses"):
            s3.create_bucket(Bucket=bucket)
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        _table(ddb, "items", "item_id")
        _table(ddb, "sources", "name")
        _table(ddb, "mapping", "source", "name")
        _table(ddb, "rate", "source", "window")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="mining", roleArn="arn:aws:iam::123456789012:role/sfn",
            definition=(ROOT / "statemachines" / "data_mining.asl.json").read_text())
        for key, value in {"ITEMS_TABLE": "items", "SOURCES_TABLE": "sources",
                           "MAPPING_TABLE": "mapping", "RATE_TABLE": "rate",
                           "RESPONSES_BUCKET": "responses", "DATA_BUCKET": DATA,
                           "MINING_STATE_MACHINE_ARN": machine["stateMachineArn"]}.items():
            monkeypatch.setenv(key, value)
        for name, value in (("_s3", s3), ("_dynamodb", ddb), ("_sfn", sfn),
                            ("_sources_cache", (0.0, []))):
            monkeypatch.setattr(dm_app, name, value)
        yield {"s3": s3, "ddb": ddb, "sfn": sfn, "machine": machine["stateMachineArn"]}


def test_upload_starts_one_execution_per_object_version(dm_app, env) -> None:
    event = json.loads((EVENTS / "s3_upload.json").read_text())
    (arn,) = dm_app.start_handler(event, LambdaContext())["started"]
    described = env["sfn"].describe_execution(executionArn=arn)
    assert json.loads(described["input"]) == {"bucket": DATA, "key": "uploads/products.csv"}
    # a repeated event: same name, same input, so StartExecution returns the same execution
    assert dm_app.start_handler(event, LambdaContext())["started"] == [arn]
    assert len(env["sfn"].list_executions(stateMachineArn=env["machine"])["executions"]) == 1


def test_steps_with_the_sample_events_against_local_sources(dm_app, dm_demo, env,
                                                            served) -> None:
    base, catalog, _ = served
    data, identifiers = dm_demo.dataset(12)
    env["s3"].put_object(Bucket=DATA, Key="uploads/products.csv", Body=data)
    for item in dm_demo.source_items(base, flaky_rate=100):
        env["ddb"].Table("sources").put_item(Item=json.loads(json.dumps(item),
                                                             parse_float=str))
    for item in dm_demo.mapping_items():
        env["ddb"].Table("mapping").put_item(Item=item)
    etl = dm_app.etl_handler(json.loads((EVENTS / "etl.json").read_text()), LambdaContext())
    assert etl["items"] == 12
    scrape_event = json.loads((EVENTS / "scrape.json").read_text())
    assert scrape_event["identifier"] in identifiers
    for identifier in identifiers:
        out = dm_app.scrape_handler({**scrape_event, "identifier": identifier}, LambdaContext())
        assert out["statuses"] == dm_demo.expected_statuses(identifier, catalog)
    stored = json.loads(env["s3"].get_object(
        Bucket="responses", Key=f"specs_api/{identifiers[0]}.json")["Body"].read())
    assert stored["status"] == "found" and stored["url"].endswith(f"/specs/{identifiers[0]}")
    summary = dm_app.populate_handler(json.loads((EVENTS / "populate.json").read_text()),
                                      LambdaContext())
    assert summary["items"] == 12
    items = {i["item_id"]: i for i in env["ddb"].Table("items").scan()["Items"]}
    for identifier in identifiers:
        want = dm_demo.expected_properties(identifier, catalog)
        got = json.loads(json.dumps(items[identifier]["properties"], default=float))
        assert got == pytest.approx(want) if want else got == {}
    again = dm_app.populate_handler(json.loads((EVENTS / "populate_all.json").read_text()),
                                    LambdaContext())
    assert again["items"] == 12 and again["run_id"] is None
    with pytest.raises(dm_app.StepInputError):
        dm_app.populate_handler({}, LambdaContext())
    with pytest.raises(dm_app.StepInputError):
        dm_app.scrape_handler({}, LambdaContext())
