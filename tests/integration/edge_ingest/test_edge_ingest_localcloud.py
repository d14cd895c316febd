"""edge_ingest end to end on localcloud: PUT under incoming/ -> function -> processed/ outputs
and an SNS alert; an S3 error -> retries -> on-failure queue."""

from __future__ import annotations

import json
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
        cloud.deploy(apps={"edge_ingest"})
        cloud.start_delivery()
        yield DemoContext(cloud, "edge_ingest")
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def demo(load_module: Any) -> Any:
    return load_module("functions/edge_ingest/demo.py", "edge_ingest_demo_it")


@pytest.fixture(scope="module")
def inbox(ctx: DemoContext, demo: Any) -> str:
    return demo.subscribe_queue(ctx, ctx.outputs["AlertTopicArn"], "edge-it-inbox")


def test_the_demo_scenario(ctx, demo) -> None:
    demo.run(ctx)


def test_a_clean_file_is_summarised_without_an_alert(ctx, demo, inbox) -> None:
    s3, bucket = ctx.client("s3"), ctx.outputs["DataBucketName"]
    demo.drain(ctx.client("sqs"), inbox)
    run = uuid.uuid4().hex[:6]
    f = demo.sensor_file(300, seed=3, problems=False)
    s3.put_object(Bucket=bucket, Key=f"incoming/{run}/ok.csv", Body=f.text.encode())
    summary = demo.wait_for_summary(ctx, s3, bucket, f"processed/{run}/ok.summary.json")
    assert summary["rows_out"] == 300 and summary["findings"] == []
    ctx.cloud.wait_idle()
    assert demo.drain(ctx.client("sqs"), inbox) == []
    # outputs under processed/ trigger nothing: exactly the two objects exist
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"processed/{run}/")[
        "Contents"]]
    assert sorted(keys) == [f"processed/{run}/ok.csv", f"processed/{run}/ok.summary.json"]


def test_a_file_with_mostly_bad_rows_raises_a_problem(ctx, demo, inbox) -> None:
    s3, bucket = ctx.client("s3"), ctx.outputs["DataBucketName"]
    demo.drain(ctx.client("sqs"), inbox)
    run = uuid.uuid4().hex[:6]
    text = ",".join(demo.HEADER) + "\n" + "".join(
        f"d{i},t{i},{'x' if i % 2 else 20},100,1,ok\n" for i in range(10))
    s3.put_object(Bucket=bucket, Key=f"incoming/{run}/half bad.csv", Body=text.encode())
    summary = demo.wait_for_summary(ctx, s3, bucket, f"processed/{run}/half bad.summary.json")
    assert summary["rejected"] == {"temperature_c not a number": 5}
    alerts: list[dict[str, Any]] = []
    ctx.wait_for("alert", lambda: alerts.extend(demo.drain(ctx.client("sqs"), inbox)) or alerts)
    assert [f["rule"] for f in alerts[0]["findings"]] == ["rejected rows above 20%"]


def test_a_missing_object_is_retried_then_kept_in_the_failure_queue(ctx, demo) -> None:
    out = ctx.outputs
    event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": out["DataBucketName"]},
                                 "object": {"key": "incoming/never+there.csv"}}}]}
    ctx.client("lambda").invoke(FunctionName=out["IngestFunctionName"], InvocationType="Event",
                                Payload=json.dumps(event).encode())
    got: list[dict[str, Any]] = []
    ctx.wait_for("failure record", lambda: got.extend(
        demo.drain(ctx.client("sqs"), out["FailureQueueUrl"])) or got, timeout=30)
    record = got[0]
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorType"] == "NoSuchKey"
    assert record["requestPayload"] == event
