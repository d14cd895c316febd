"""data_quality end to end on localcloud: S3 upload -> gate (S3 notification) -> Parquet, report
-> load state machine -> embedded warehouse and SNS; a malformed file quarantined; rules with
an unknown expectation reported before any row is judged."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import pytest

from localcloud.demo import DemoContext
from localcloud.testing import running_cloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("data_quality_demo_it",
                                                  ROOT / "functions/data_quality/demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()



@pytest.fixture(scope="module")
def cloud():
    with running_cloud({"data_quality"}) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def outputs(cloud) -> dict[str, Any]:
    return cloud.outputs()["data_quality"]


@pytest.fixture(scope="module")
def messages(cloud, outputs) -> Any:
    """The report topic's messages, through an SQS subscription: read(predicate)."""
    sqs, sns = cloud.client("sqs"), cloud.client("sns")
    url = sqs.create_queue(QueueName="dq-reports")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    sns.subscribe(TopicArn=outputs["ReportTopicArn"], Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})
    seen: list[dict[str, Any]] = []

    def read(match) -> dict[str, Any]:
        for _ in range(30):
            for body in seen:
                if match(body):
                    return body
            for msg in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", []):
                seen.append(json.loads(msg["Body"]))
        raise AssertionError(f"no matching message on the report topic (saw {seen})")

    return read


def test_demo_scenario_exact_counts_and_quarantine(cloud, outputs, messages) -> None:
    ctx = DemoContext(cloud, "data_quality")
    steps: list[str] = []
    ctx.step = steps.append  # type: ignore[method-assign]
    demo.run(ctx, rows=4000)
    assert any(s.startswith("warehouse table job_reqs_accepted") for s in steps), steps
    judged = messages(lambda m: m["report"]["source"].endswith("raw/job_reqs/postings.csv"))
    assert judged["warehouse"] == {"status": "LOADED", "table": "job_reqs_accepted",
                                   "rows": judged["report"]["accepted_rows"]}
    quarantined = messages(lambda m: m["report"]["status"] == "QUARANTINED")
    assert demo.MALFORMED_REASON in quarantined["report"]["error"]


def test_unknown_expectation_fails_before_any_row_is_judged(cloud, outputs, messages) -> None:
    s3, ddb, sfn = cloud.client("s3"), cloud.client("dynamodb"), cloud.client("stepfunctions")
    bucket = outputs["DataBucketName"]
    rules = demo.seed_rules("bad_rules")
    rules[0]["rules"].append({"name": "expect_column_values_to_be_shiny", "kwargs": {}})
    demo.put_rules(ddb, outputs["RulesTableName"], rules)
    body, _ = demo.sample_csv(100)
    s3.put_object(Bucket=bucket, Key="raw/bad_rules/postings.csv", Body=body)
    message = messages(lambda m: m["report"]["dataset"] == "bad_rules")
    assert message["report"]["status"] == "CONFIG_ERROR"
    assert "unknown expectation 'expect_column_values_to_be_shiny'" in message["report"]["error"]
    described = demo.wait_execution(sfn, message["report"].get("execution") or _execution(
        sfn, outputs, "bad_rules"))
    assert (described["status"], described.get("error")) == ("FAILED", "RulesInvalid")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
            if "bad_rules" in o["Key"]]
    # the file stays where it landed; nothing was judged or written but the report
    assert sorted(keys) == ["raw/bad_rules/postings.csv", "reports/bad_rules/postings.json"]


def _execution(sfn, outputs, dataset: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for e in sfn.list_executions(stateMachineArn=outputs["LoadStateMachineArn"])[
                "executions"]:
            if e["name"].startswith(dataset):
                return e["executionArn"]
        time.sleep(0.2)
    raise AssertionError(f"no execution for {dataset}")


def test_url_encoded_key_and_a_file_with_no_accepted_rows(cloud, outputs, messages) -> None:
    s3 = cloud.client("s3")
    bucket = outputs["DataBucketName"]
    demo.put_rules(cloud.client("dynamodb"), outputs["RulesTableName"],
                   demo.seed_rules("all_bad"))
    header = ",".join(demo.COLUMNS)
    bad_row = ",".join("x" if c != "organization" else "" for c in demo.COLUMNS)
    s3.put_object(Bucket=bucket, Key="raw/all_bad/june 2026+extra.csv",
                  Body=f"{header}\n{bad_row}\n{bad_row}\n".encode())
    message = messages(lambda m: m["report"]["dataset"] == "all_bad")
    report = message["report"]
    assert report["source"] == f"s3://{bucket}/raw/all_bad/june 2026+extra.csv"
    assert (report["rows"], report["accepted_rows"], report["rejected_rows"]) == (2, 0, 2)
    assert "warehouse" not in message  # nothing to load
    rejected = s3.get_object(Bucket=bucket, Key="rejected/all_bad/june 2026+extra.parquet")
    assert rejected["ContentLength"] > 0
