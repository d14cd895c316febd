"""dynamic_etl end to end on localcloud: keys table -> state machine (Map, Lambda tasks, SNS)
-> S3 objects and the embedded warehouse, with 0, 1 and several keys, a failing one among them,
and the schedule starting the run."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from localcloud.demo import DemoContext
from localcloud.testing import running_cloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
DAY = "2026-06-15"


def _load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("dynamic_etl_demo_it",
                                                  ROOT / "functions/dynamic_etl/demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()



@pytest.fixture(scope="module")
def cloud():
    with running_cloud({"dynamic_etl"}) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def outputs(cloud) -> dict[str, Any]:
    return cloud.outputs()["dynamic_etl"]


@pytest.fixture(scope="module")
def summaries(cloud, outputs) -> Any:
    """Every SNS message of the summary topic, through an SQS subscription."""
    sqs, sns = cloud.client("sqs"), cloud.client("sns")
    url = sqs.create_queue(QueueName="etl-summaries")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    sns.subscribe(TopicArn=outputs["SummaryTopicArn"], Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})

    def read(run_id: str) -> dict[str, Any]:
        seen = []
        for _ in range(20):
            for msg in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", []):
                body = json.loads(msg["Body"])
                seen.append(body)
                if body.get("run_id") == run_id:
                    return body
        raise AssertionError(f"no summary for {run_id} on the topic (saw {seen})")

    return read


def _seed(cloud, outputs, keys, rows) -> None:
    demo.seed(cloud.client("s3"), cloud.client("dynamodb"), outputs["DataBucketName"],
              outputs["KeysTableName"], keys, rows, demo.source_columns())


def _run(cloud, outputs, execution_input: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    sfn = cloud.client("stepfunctions")
    name = f"test-{uuid.uuid4()}"
    started = sfn.start_execution(stateMachineArn=outputs["EtlStateMachineArn"], name=name,
                                  input=json.dumps(execution_input))
    return name, demo.wait_for_execution(sfn, started["executionArn"], timeout=120)


def _warehouse(cloud, outputs) -> sqlite3.Connection:
    return sqlite3.connect(Path(cloud.state_dir) / outputs["WarehouseSqliteFile"])


def test_no_keys_today_succeeds_with_nothing_loaded(cloud, outputs, summaries) -> None:
    _seed(cloud, outputs, [], [])
    name, described = _run(cloud, outputs, {"date": DAY})
    assert described["status"] == "SUCCEEDED", described
    summary = json.loads(described["output"])
    assert summary["status"] == "NOTHING_TO_DO" and summary["keys_total"] == 0
    assert summary["message"] == f"No active campaign keys for {DAY}: nothing loaded."
    assert summaries(name)["message"] == summary["message"]


def test_one_key_loads_with_its_rules(cloud, outputs, summaries) -> None:
    spring = demo.sample_keys(DAY)[0]
    rows = demo.generate_rows({"SPRING": (spring["start_date"], spring["end_date"]),
                               "OTHER": (spring["start_date"], spring["end_date"])}, 500)
    _seed(cloud, outputs, [spring], rows)
    name, described = _run(cloud, outputs, {"date": DAY})
    assert described["status"] == "SUCCEEDED", described
    expected = demo.expected_spring(rows, "SPRING")
    summary = json.loads(described["output"])
    assert summary["rows_per_key"] == {"SPRING": expected} and summary["status"] == "SUCCEEDED"
    stored = cloud.client("dynamodb").get_item(TableName=outputs["RunsTableName"],
                                               Key={"run_id": {"S": name}})["Item"]
    assert stored["status"] == {"S": "SUCCEEDED"}
    assert stored["rows_per_key"] == {"M": {"SPRING": {"N": str(expected)}}}
    conn = _warehouse(cloud, outputs)
    try:
        assert conn.execute("SELECT COUNT(*) FROM campaign_sales").fetchone()[0] == expected
        # the rules, checked on the warehouse's rows against the generated source
        sample = next(r for r in rows if r["campaign"] == "SPRING" and r["region"] == "EU"
                      and r["units"].isdigit())
        got = conn.execute("SELECT campaign_key, sold_on, product, units, revenue, channel_code "
                           "FROM campaign_sales WHERE sale_id = ?", (int(sample["id"]),)
                           ).fetchone()
        assert got[:4] == ("SPRING", sample["sale_date"], sample["sku"], int(sample["units"]))
        assert got[4] == pytest.approx(int(sample["units"]) * float(sample["unit_price"]))
        assert got[5] == sample["channel"].upper()
        regions = {r[0] for r in conn.execute("SELECT DISTINCT region FROM campaign_sales")}
        assert regions == {"EU", "US"}
    finally:
        conn.close()
    body = cloud.client("s3").get_object(Bucket=outputs["DataBucketName"],
                                         Key=f"runs/{name}/SPRING.csv")["Body"].read()
    assert len(body.decode().splitlines()) == expected + 1  # the header, then one line a row
    assert summaries(name)["rows_total"] == expected


def test_many_keys_on_schedule_with_a_failing_key(cloud) -> None:
    """The demo scenario: the schedule fires, SPRING and WINTER load, BROKEN fails alone."""
    ctx = DemoContext(cloud, "dynamic_etl")
    steps: list[str] = []
    ctx.step = steps.append  # type: ignore[method-assign]
    demo.run(ctx, rows_per_campaign=300)
    assert any(s.startswith("warehouse tables: {'campaign_sales'") for s in steps), steps
    assert any("failed: BROKEN" in s for s in steps), steps


def _clone_function(cloud, logical_id: str, name: str, env: dict[str, str]) -> str:
    """A copy of one of the app's functions with other settings, deployed beside it."""
    import dataclasses

    spec = cloud.find_function(f"dynamic_etl/{logical_id}")
    arn = cloud.function_arn(name)
    cloud.register_function(dataclasses.replace(
        spec, name=name, arn=arn, environment={**spec.environment, **env}))
    lam = cloud.client("lambda")
    role = lam.get_function(FunctionName=spec.name)["Configuration"]["Role"]
    import io
    import zipfile

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w"):
        pass
    lam.create_function(FunctionName=name, Role=role, Handler=spec.handler, Runtime="python3.11",
                        Code={"ZipFile": code.getvalue()})
    return arn


def test_redshift_loads_are_polled_by_the_state_machine(cloud, outputs) -> None:
    """The Redshift path with moto's redshift-data at the edge: the Execute step submits the
    COPY and returns; the Wait + DescribeStatement loop of the definition runs until the
    statement ends (moto never ends one: the test finishes them, one FINISHED, one FAILED)."""
    from moto.redshiftdata.models import redshiftdata_backends

    keys = demo.sample_keys(DAY)[:2]  # SPRING, WINTER
    rows = demo.generate_rows({k["campaign_key"]: (k["start_date"], k["end_date"])
                               for k in keys}, 100)
    _seed(cloud, outputs, keys, rows)
    record = cloud.stacks["dynamic_etl"]
    subs = {
        # Start stays on the embedded engine (moto has no BatchExecuteStatement) with a short
        # poll interval; Execute loads through the Redshift Data API.
        "StartFunctionArn": _clone_function(cloud, "StartFunction", "etl-start-fast",
                                            {"POLL_SECONDS": "1"}),
        "ExecuteFunctionArn": _clone_function(cloud, "ExecuteFunction", "etl-execute-redshift", {
            "WAREHOUSE_ENGINE": "redshift", "REDSHIFT_CLUSTER": "etl-cluster",
            "REDSHIFT_DB_USER": "etl", "REDSHIFT_COPY_ROLE_ARN":
                "arn:aws:iam::123456789012:role/redshift-copy"}),
        "SummarizeFunctionArn": cloud.function_arn(record.functions["SummarizeFunction"]),
        "SummaryTopicArn": outputs["SummaryTopicArn"],
    }
    text = (ROOT / "statemachines" / "dynamic_etl.asl.json").read_text()
    for key, value in subs.items():
        text = text.replace("${" + key + "}", value)
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(name="etl-redshift", definition=text,
                                       roleArn="arn:aws:iam::123456789012:role/sfn")
    name = f"redshift-{uuid.uuid4()}"
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=name,
                                    input=json.dumps({"date": DAY}))["executionArn"]
    backend = redshiftdata_backends["123456789012"]["us-east-1"]

    def copies() -> dict[str, Any]:
        return {s.query_string.split('"')[1]: s for s in list(backend.statements.values())
                if s.query_string.startswith("COPY") and f"/runs/{name}/" in s.query_string}

    def polls() -> int:
        events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        return sum(1 for e in events if e["type"] == "WaitStateEntered")

    import time

    deadline = time.monotonic() + 60
    while (len(copies()) < 2 or polls() < 4) and time.monotonic() < deadline:
        time.sleep(0.2)
    statements = copies()
    assert sorted(statements) == ["campaign_sales", "web_sales"]
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    spring = statements["campaign_sales"]
    assert spring.query_string == (
        'COPY "campaign_sales" ("campaign_key", "sale_id", "sold_on", "region", "product", '
        f'"units", "revenue", "channel_code") FROM \'s3://{outputs["DataBucketName"]}/runs/'
        f"{name}/SPRING.csv' IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-copy' "
        "FORMAT AS CSV IGNOREHEADER 1 EMPTYASNULL")
    assert (spring.cluster_identifier, spring.db_user) == ("etl-cluster", "etl")
    spring.status = "FINISHED"
    statements["web_sales"].status = "FAILED"  # (moto's DescribeStatement has no Error field)
    described = demo.wait_for_execution(sfn, execution, timeout=60)
    assert (described["status"], described.get("error")) == ("FAILED", "KeysFailed")
    stored = cloud.client("dynamodb").get_item(TableName=outputs["RunsTableName"],
                                               Key={"run_id": {"S": name}})["Item"]
    assert stored["rows_per_key"] == {"M": {"SPRING": {"N": str(demo.expected_spring(
        rows, "SPRING"))}}}
    (failure,) = stored["failures"]["L"]
    assert failure["M"]["campaign_key"] == {"S": "WINTER"}
    assert failure["M"]["error_type"] == {"S": "LoadFailed"}
    error = json.loads(failure["M"]["error"]["S"])  # the described statement, as JSON
    assert (error["Id"], error["Status"]) == (statements["web_sales"].id, "FAILED")
    assert error["Detail"]["QueryString"].startswith('COPY "web_sales"')
