"""common.object_lambda: WriteGetObjectResponse and the GET through an Object Lambda access
point as sent to AWS (botocore, nothing reaches a network), and the localcloud stand-in."""

from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from common import object_lambda as ol

OLAP = "arn:aws:s3-object-lambda:us-east-1:123456789012:accesspoint/docs-olap"


def _s3():
    return boto3.client("s3", region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="y")


def test_write_on_aws_sends_body_or_error(monkeypatch) -> None:
    monkeypatch.delenv("LOCALCLOUD", raising=False)
    s3 = _s3()
    with Stubber(s3) as stub:
        stub.add_response("write_get_object_response", {}, {
            "RequestRoute": "io-1", "RequestToken": "t", "StatusCode": 200,
            "Body": b"%PDF", "ContentType": "application/pdf", "Metadata": {"a": "b"}})
        stub.add_response("write_get_object_response", {}, {
            "RequestRoute": "io-1", "RequestToken": "t", "StatusCode": 404,
            "ErrorCode": "NoSuchKey", "ErrorMessage": "gone"})
        ol.write_get_object_response(s3, "io-1", "t", ol.ObjectResponse(
            body=b"%PDF", content_type="application/pdf", metadata={"a": "b"}))
        ol.write_get_object_response(s3, "io-1", "t", ol.ObjectResponse(
            status_code=404, error_code="NoSuchKey", error_message="gone"))
        stub.assert_no_pending_responses()


def test_get_on_aws_goes_to_the_access_point_with_the_headers(monkeypatch) -> None:
    monkeypatch.delenv("LOCALCLOUD", raising=False)
    s3 = _s3()
    sent = []

    def answer(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 200, {"Content-Type": "application/pdf"},
                           _Raw(b"%PDF-stamped"))

    s3.meta.events.register("before-send.s3.GetObject", answer)
    got = ol.get_object(s3, OLAP, "reports/a b.txt", {"X-Watermark-Text": "alice"})
    assert got.body == b"%PDF-stamped" and got.content_type == "application/pdf"
    assert sent[0].url.startswith(
        "https://docs-olap-123456789012.s3-object-lambda.us-east-1.amazonaws.com/reports/a%20b")
    assert sent[0].headers["X-Watermark-Text"] in ("alice", b"alice")
    # The header belonged to that request only.
    ol.get_object(s3, OLAP, "x.txt", {})
    assert "X-Watermark-Text" not in sent[1].headers


def test_local_round_trip_and_a_silent_function(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LOCALCLOUD", "1")
    monkeypatch.setenv("LOCALCLOUD_STATE_DIR", str(tmp_path))
    s3 = _s3()
    events = []

    def transform(event):
        events.append(event)
        ctx = event["getObjectContext"]
        ol.write_get_object_response(None, ctx["outputRoute"], ctx["outputToken"],
                                     ol.ObjectResponse(body=b"done", content_type="text/x"))

    got = ol.get_object(s3, OLAP, "dir/doc.md", {"X-Watermark-Text": "bob"},
                        local_invoke=transform, supporting_bucket="docs")
    assert (got.body, got.content_type) == (b"done", "text/x")
    event = events[0]
    assert event["userRequest"]["headers"]["X-Watermark-Text"] == "bob"
    assert event["userRequest"]["url"].endswith("/dir/doc.md")
    assert "docs.s3.amazonaws.com/dir/doc.md?" in event["getObjectContext"]["inputS3Url"]
    assert event["configuration"]["accessPointArn"] == OLAP
    assert list(tmp_path.rglob("*.json")) == []  # read once, then removed
    with pytest.raises(ol.ObjectLambdaError, match="500 LambdaResponseNotReceived"):
        ol.get_object(s3, OLAP, "x", {}, local_invoke=lambda e: None,
                      supporting_bucket="docs")

    def refuse(event):
        ctx = event["getObjectContext"]
        ol.write_get_object_response(None, ctx["outputRoute"], ctx["outputToken"],
                                     ol.ObjectResponse(status_code=415, error_code="Nope",
                                                       error_message="no"))

    with pytest.raises(ol.ObjectLambdaError) as err:
        ol.get_object(s3, OLAP, "x", {}, local_invoke=refuse, supporting_bucket="docs")
    assert (err.value.status_code, err.value.code, err.value.message) == (415, "Nope", "no")
    assert json.loads(json.dumps(event))  # the event is plain JSON, as Lambda receives it


class _Raw(io.BytesIO):
    """What botocore reads a response body from (urllib3's response, in a real call)."""

    def stream(self, **_):
        yield self.getvalue()
