"""s3_watcher end to end on localcloud: the trail deployed with its data-event selectors;
real-shaped CloudTrail records put on the bus (CloudTrail itself does not run locally) ->
the rule -> the function -> audit table and SNS alerts; a bad event -> the failure queue."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.demo import DemoContext

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ctx() -> Iterator[DemoContext]:
    cloud = LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"s3_watcher"})
        cloud.start_delivery()
        yield DemoContext(cloud, "s3_watcher")
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def demo(load_module: Any) -> Any:
    return load_module("functions/s3_watcher/demo.py", "s3_watcher_demo_it")


@pytest.fixture(scope="module")
def inbox(ctx: DemoContext, demo: Any) -> str:
    return demo.subscribe_queue(ctx, ctx.outputs["AlertTopicArn"], "watcher-it-inbox")


def test_the_trail_logs_data_events_of_the_watched_bucket_only(ctx) -> None:
    out = ctx.outputs
    ct = ctx.client("cloudtrail")
    assert ct.get_trail_status(Name=out["TrailName"])["IsLogging"] is True
    selector = ct.get_event_selectors(TrailName=out["TrailName"])["EventSelectors"][0]
    assert selector["IncludeManagementEvents"] is False and selector["ReadWriteType"] == "All"
    assert selector["DataResources"] == [{"Type": "AWS::S3::Object", "Values": [
        f"arn:aws:s3:::{out['WatchedBucketName']}/"]}]
    assert ct.get_trail(Name=out["TrailName"])["Trail"]["S3BucketName"] == out["TrailBucketName"]


def test_the_demo_scenario(ctx, demo) -> None:
    demo.run(ctx)


def test_a_redelivered_event_is_audited_and_alerted_once(ctx, demo, inbox) -> None:
    out, sqs = ctx.outputs, ctx.client("sqs")
    demo.drain(sqs, inbox)
    key = f"{uuid.uuid4().hex[:6]}/exports/ssn_list.csv"
    record = demo.cloudtrail_record("GetObject", out["WatchedBucketName"], key,
                                    demo.identity("role", "external-auditor"))
    demo.put_trail_events(ctx.client("events"), [record, record])
    ctx.wait_for("audit", lambda: demo.audit_of(ctx.client("dynamodb"), out["AuditTableName"],
                                                record["eventID"]))
    ctx.cloud.wait_idle()
    got = demo.drain(sqs, inbox)
    assert len(got) == 1
    assert got[0]["reasons"] == ["watched_principal", "pii_key"]
    assert got[0]["principal"]["issuer_arn"].endswith(":role/external-auditor")
    assert got[0]["pii_keys"] == {key: ["keyword:ssn"]}
    items = demo.audit_of(ctx.client("dynamodb"), out["AuditTableName"], record["eventID"])
    assert len(items) == 1 and int(items[0]["alerted_at"]) > 0


def test_events_the_rule_does_not_match_reach_nobody(ctx, demo, inbox) -> None:
    out = ctx.outputs
    record = demo.cloudtrail_record("ListObjects", out["WatchedBucketName"], "x",
                                    demo.identity("user", "contractor-eve"))
    demo.put_trail_events(ctx.client("events"), [record])
    time.sleep(0.5)
    ctx.cloud.wait_idle()
    assert demo.audit_of(ctx.client("dynamodb"), out["AuditTableName"], record["eventID"]) == []


def test_a_record_that_is_not_cloudtrail_ends_in_the_failure_queue(ctx, demo) -> None:
    out = ctx.outputs
    bad = demo.cloudtrail_record("PutObject", out["WatchedBucketName"], "k",
                                 demo.identity("user", "analyst"))
    del bad["requestParameters"]["bucketName"]
    demo.put_trail_events(ctx.client("events"), [bad])
    got: list[dict[str, Any]] = []
    ctx.wait_for("failure record", lambda: got.extend(
        demo.drain(ctx.client("sqs"), out["FailureQueueUrl"])) or got, timeout=30)
    assert got[0]["responsePayload"]["errorType"] == "BadEvent"
    assert "names no bucket" in got[0]["responsePayload"]["errorMessage"]
    assert got[0]["requestPayload"]["detail"]["eventID"] == bad["eventID"]
    assert json.dumps(got[0]["requestPayload"]["detail"]) == json.dumps(bad)
