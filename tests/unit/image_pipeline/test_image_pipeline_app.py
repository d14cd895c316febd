"""image_pipeline handlers' plain parts, and the reject step against moto's S3 and DynamoDB."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from moto import mock_aws


def test_decode_key_and_image_id(ip_app) -> None:
    assert ip_app.decode_key("uploads/beach+photo%C3%A9.jpg") == "uploads/beach photoé.jpg"
    with pytest.raises(ip_app.UndecodableKey, match="not valid UTF-8"):
        ip_app.decode_key("uploads/%FF%FE.jpg")
    assert ip_app.image_id_of("uploads/a/b c.png") == "a/b c.png"
    for key in ("renditions/x.jpg", "uploads/"):
        with pytest.raises(ip_app.StepInputError):
            ip_app.image_id_of(key)


def test_execution_names_are_valid_and_per_version(ip_app) -> None:
    a = ip_app.execution_name("uploads/" + "é" * 100 + ".jpg", "e1")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", a)
    assert a == ip_app.execution_name("uploads/" + "é" * 100 + ".jpg", "e1")
    assert a != ip_app.execution_name("uploads/" + "é" * 100 + ".jpg", "e2")


def test_failure_reason_reads_lambda_causes_and_plain_ones(ip_app) -> None:
    cause = json.dumps({"errorMessage": "2000x8 is smaller than 16 px on a side",
                        "errorType": "ImageDimensionsOutOfRange", "stackTrace": []})
    assert ip_app.failure_reason({"Error": "ImageDimensionsOutOfRange", "Cause": cause}) == (
        "ImageDimensionsOutOfRange", "2000x8 is smaller than 16 px on a side")
    assert ip_app.failure_reason({"Error": "States.Timeout", "Cause": "took too long"}) == (
        "States.Timeout", "took too long")
    assert ip_app.failure_reason(None) == ("States.Unknown", "States.Unknown")


@mock_aws
def test_reject_removes_renditions_and_records_the_reason(ip_app, monkeypatch) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="images")
    ddb = boto3.resource("dynamodb", region_name="us-east-1")
    table = ddb.create_table(TableName="images", BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "image_id", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "image_id",
                                                    "AttributeType": "S"}])
    for name in ("thumb.jpg", "small.webp"):
        s3.put_object(Bucket="images", Key=f"renditions/cats/a.jpg/{name}", Body=b"x")
    s3.put_object(Bucket="images", Key="renditions/cats/a.jpg2/thumb.jpg", Body=b"other")
    monkeypatch.setenv("IMAGES_BUCKET", "images")
    monkeypatch.setenv("IMAGES_TABLE", "images")
    monkeypatch.setattr(ip_app, "_s3", s3)
    monkeypatch.setattr(ip_app, "_dynamodb", ddb)
    cause = json.dumps({"errorMessage": "blank image: a single flat colour (#ffffff)",
                        "errorType": "ContentRejected"})
    out = ip_app.reject_handler({"bucket": "images", "key": "uploads/cats/a.jpg",
                                 "image_id": "cats/a.jpg", "etag": "e",
                                 "error": {"Error": "ContentRejected", "Cause": cause}},
                                _Context())
    assert out == {"error": "ContentRejected",
                   "reason": "blank image: a single flat colour (#ffffff)",
                   "renditions_deleted": 2}
    left = [o["Key"] for o in s3.list_objects_v2(Bucket="images")["Contents"]]
    assert left == ["renditions/cats/a.jpg2/thumb.jpg"]  # another image's are untouched
    item = table.get_item(Key={"image_id": "cats/a.jpg"})["Item"]
    assert (item["status"], item["error"], item["reason"]) == (
        "REJECTED", "ContentRejected", "blank image: a single flat colour (#ffffff)")


def test_check_step_turns_a_failed_branch_into_the_reason(ip_app) -> None:
    cause = json.dumps({"errorMessage": "cannot write mode P as JPEG",
                        "errorType": "OSError"})
    with pytest.raises(ip_app.RenditionFailed, match="rendition thumb failed: cannot write"):
        ip_app.check_handler({"image": {"bucket": "b", "key": "uploads/x", "image_id": "x"},
                              "renditions": [{"name": "thumb", "failed": True,
                                              "error": "OSError", "cause": cause}]},
                             _Context())


class _Context:
    function_name = "test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req"
