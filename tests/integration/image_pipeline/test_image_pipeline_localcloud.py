"""image_pipeline end to end on localcloud: upload -> S3 trigger -> StartFunction -> the state
machine on moto's ASL interpreter (Parallel renditions with Pillow) -> the image's item; bad
uploads FAILED with their reason and nothing left behind; bad events to the DLQ."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.demo import DemoContext
from localcloud.testing import running_cloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("image_pipeline_demo_it",
                                                  ROOT / "functions/image_pipeline/demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()



@pytest.fixture(scope="module")
def cloud():
    with running_cloud({"image_pipeline"}) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def ctx(cloud) -> DemoContext:
    ctx = DemoContext(cloud, "image_pipeline")
    ctx.steps = []  # type: ignore[attr-defined]
    ctx.step = ctx.steps.append  # type: ignore[method-assign, attr-defined]
    return ctx


@pytest.mark.slow
def test_good_and_bad_uploads_end_to_end(ctx) -> None:
    demo.run(ctx)  # raises AssertionError on any wrong rendition, item or reason
    assert sum("SUCCEEDED" in s for s in ctx.steps) == 3
    assert sum(": FAILED " in s for s in ctx.steps) == 6


def test_item_holds_the_renditions_and_content_facts(ctx) -> None:
    body = demo.photo(900, 600, seed=21, fmt="PNG")
    demo.upload(ctx, "uploads/it/facts.png", body)
    item = demo.check_good(ctx, "uploads/it/facts.png", body)
    renditions = item["renditions"]["M"]
    assert renditions["small"]["M"]["key"]["S"] == "renditions/it/facts.png/small.webp"
    assert (renditions["small"]["M"]["width"]["N"], renditions["small"]["M"]["height"]["N"]) \
        == ("320", "213")
    assert (item["format"]["S"], item["width"]["N"], item["height"]["N"]) == ("PNG", "900", "600")
    assert len(item["content"]["M"]["dhash"]["S"]) == 16


def test_a_vanished_upload_fails_with_image_missing(ctx) -> None:
    sfn = ctx.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=ctx.outputs["ImageStateMachineArn"], name="vanished",
        input=json.dumps({"bucket": ctx.outputs["ImagesBucketName"], "key": "uploads/gone.jpg",
                          "image_id": "gone.jpg", "etag": ""}))["executionArn"]
    described = demo.wait_execution(sfn, arn)
    assert (described["status"], described["error"]) == ("FAILED", "ImageMissing")
    assert "uploads/gone.jpg does not exist" in described["cause"]
    assert demo.item(ctx, "gone.jpg")["status"]["S"] == "REJECTED"


def test_repeated_event_starts_one_execution(ctx) -> None:
    body = demo.photo(300, 200, seed=33)
    demo.upload(ctx, "uploads/it/twice.jpg", body)
    first = demo.execution_for(ctx, "uploads/it/twice.jpg")
    etag = ctx.client("s3").head_object(Bucket=ctx.outputs["ImagesBucketName"],
                                        Key="uploads/it/twice.jpg")["ETag"].strip('"')
    event = {"Records": [{"s3": {"bucket": {"name": ctx.outputs["ImagesBucketName"]},
                                 "object": {"key": "uploads/it/twice.jpg", "eTag": etag,
                                            "size": len(body)}}}]}
    assert ctx.invoke("StartFunction", event) == {"started": []}
    executions = ctx.client("stepfunctions").list_executions(
        stateMachineArn=ctx.outputs["ImageStateMachineArn"])["executions"]
    assert [e["executionArn"] for e in executions].count(first["executionArn"]) == 1


def test_undecodable_key_reaches_the_dlq(ctx, cloud) -> None:
    event = {"Records": [{"s3": {"bucket": {"name": ctx.outputs["ImagesBucketName"]},
                                 "object": {"key": "uploads/%FF%FE.jpg", "eTag": "x"}}}]}
    spec = cloud.find_function("image_pipeline/StartFunction")
    ctx.client("lambda").invoke(FunctionName=spec.name, InvocationType="Event",
                                Payload=json.dumps(event).encode())
    sqs = ctx.client("sqs")

    def message() -> dict[str, Any] | None:
        got = sqs.receive_message(QueueUrl=ctx.outputs["StartFailuresQueueUrl"],
                                  WaitTimeSeconds=1).get("Messages")
        return json.loads(got[0]["Body"]) if got else None

    record = ctx.wait_for("the failed event in the DLQ", message, timeout=30)
    assert record["requestPayload"] == event
    assert "not valid UTF-8" in record["responsePayload"]["errorMessage"]
