"""document_watermark on localcloud: the API with generated JWTs (JWKS in the stack's SSM
parameter), the Object Lambda function on real getObjectContext events (presigned URLs of the
local S3), watermarked PDFs behind presigned URLs, the access log, and every refusal."""

from __future__ import annotations

import importlib.util
import io
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from localcloud.demo import DemoContext
from localcloud.testing import running_cloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("document_watermark_demo_it",
                                                  ROOT / "functions/document_watermark/demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()



@pytest.fixture(scope="module")
def cloud():
    with running_cloud({"document_watermark"}) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def ctx(cloud) -> DemoContext:
    ctx = DemoContext(cloud, "document_watermark")
    ctx.steps = []  # type: ignore[attr-defined]
    ctx.step = ctx.steps.append  # type: ignore[method-assign, attr-defined]
    return ctx


@pytest.fixture(scope="module")
def idp(ctx):
    idp = demo.IdentityProvider()
    demo.setup(ctx, idp)
    return idp


def test_scenario(ctx, idp) -> None:
    demo.run(ctx, idp)
    assert sum("watermark on every page" in s for s in ctx.steps) == 4


def _object_lambda_event(ctx, key: str, watermark: str) -> tuple[dict[str, Any], str, str]:
    """The event S3 sends the function: a presigned URL of the original, route and token."""
    route, token = f"io-test-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    url = ctx.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": ctx.outputs["DocumentsBucketName"], "Key": key},
        ExpiresIn=60)
    return ({"xAmzRequestId": uuid.uuid4().hex, "protocolVersion": "1.00",
             "getObjectContext": {"inputS3Url": url, "outputRoute": route,
                                  "outputToken": token},
             "configuration": {"accessPointArn": ctx.outputs["ObjectLambdaAccessPointArn"],
                               "supportingAccessPointArn": "ap", "payload": ""},
             "userRequest": {"url": f"https://olap.s3-object-lambda.us-east-1.amazonaws.com/"
                                    f"{key}", "headers": {"X-Watermark-Text": watermark}},
             "userIdentity": {"type": "AssumedRole", "principalId": "test"}}, route, token)


def _written(cloud, route: str, token: str) -> tuple[dict[str, Any], bytes]:
    # Where the localcloud stand-in of WriteGetObjectResponse puts the answer
    # (layers/common/common/object_lambda.py).
    base = cloud.state_dir / "s3-object-lambda" / route / token
    return (json.loads(base.with_suffix(".json").read_text()),
            base.with_suffix(".body").read_bytes())


def test_object_lambda_function_on_a_real_event(ctx, cloud, idp) -> None:
    event, route, token = _object_lambda_event(ctx, "reports/plan.md", "dave%40example.com")
    assert ctx.invoke("WatermarkFunction", event) == {"status_code": 200}
    meta, body = _written(cloud, route, token)
    assert (meta["status_code"], meta["content_type"]) == (200, "application/pdf")
    assert meta["metadata"] == {"source-key": "reports/plan.md", "watermarked": "true"}
    text = PdfReader(io.BytesIO(body)).pages[0].extract_text()
    assert "Launch plan" in text and "dave@example.com" in text

    event, route, token = _object_lambda_event(ctx, "reports/absent.md", "dave")
    assert ctx.invoke("WatermarkFunction", event) == {"status_code": 404}
    meta, body = _written(cloud, route, token)
    assert (meta["error_code"], body) == ("NoSuchKey", b"")


def test_each_user_gets_their_own_copy_and_log(ctx, idp) -> None:
    pages = {}
    for sub, email in (("user-erin", "erin@example.com"), ("user-frank", "frank@example.com")):
        location, pages[sub] = demo.fetch_pdf(ctx, "reports/figures.pdf",
                                              idp.token(sub=sub, email=email))
        assert "/rendered/" in location and "Signature=" in location
        entries = demo.log_entries(ctx, sub)
        assert [(e["document"], e["outcome"], e["username"], e["watermark"])
                for e in entries] == [("reports/figures.pdf", "served", email, email)]
        when = datetime.fromisoformat(entries[0]["accessed_at"].split("#")[0])
        assert abs((datetime.now(UTC) - when).total_seconds()) < 120
        assert entries[0]["rendered_key"].startswith("rendered/")
    assert all("erin@example.com" in p and "frank" not in p for p in pages["user-erin"])
    assert all("frank@example.com" in p for p in pages["user-frank"])


def test_refusals_and_failed_attempts_are_logged(ctx, idp) -> None:
    for case, (key, token, status, phrase) in demo.refusals(ctx, idp).items():
        got, headers, body = demo.get(f"{ctx.outputs['ApiUrl']}/documents/{key}", token)
        assert got == status, case
        assert phrase in json.loads(body)["message"], case
        if status == 401:
            assert headers.get("WWW-Authenticate", "").startswith("Bearer"), case
    outcomes = {e["document"]: (e["outcome"], e.get("reason", ""))
                for e in demo.log_entries(ctx, "user-alice")}
    assert outcomes["reports/nothing-here.txt"][0] == "not_found"
    assert outcomes["images/logo.png"][0] == "refused"
    assert "not a readable PDF" in outcomes["reports/broken.pdf"][1]
