"""The handler: destination from configuration, a raised error naming every failed key."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from common import aws


class Context:
    function_name = "replicate-anything"  # the seed took the destination from this name
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:replicate-anything"
    aws_request_id = "req-1"


def event(*keys: str) -> dict[str, Any]:
    message = {"Records": [{"eventName": "ObjectCreated:Put",
                            "s3": {"bucket": {"name": "src"}, "object": {"key": k}}}
                           for k in keys]}
    return {"Records": [{"Sns": {"Message": json.dumps(message)}}]}


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, load_module: Any) -> Any:
    monkeypatch.setenv("DESTINATION_BUCKET", "configured-dst")
    with mock_aws():
        aws.clear_cache()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="src")
        s3.create_bucket(Bucket="configured-dst")
        s3.put_object(Bucket="src", Key="a.txt", Body=b"a")
        yield load_module("functions/s3_fanout_replication/replicate/app.py",
                          "s3_fanout_replication_app")
        aws.clear_cache()


def test_copies_to_the_configured_destination(app: Any) -> None:
    out = app.handler(event("a.txt"), Context())
    assert out == {"destination": "configured-dst", "copied": 1, "skipped": 0,
                   "keys": ["a.txt"]}
    body = boto3.client("s3").get_object(Bucket="configured-dst", Key="a.txt")["Body"].read()
    assert body == b"a"


def test_raises_after_trying_every_record(app: Any) -> None:
    with pytest.raises(app.ReplicationFailed) as err:
        app.handler(event("missing.txt", "a.txt", "bad%FF"), Context())
    text = str(err.value)
    assert "2 of 3 records not copied to configured-dst" in text
    assert "'missing.txt'" in text and "'bad%FF'" in text
    # the good record in between was copied all the same
    assert boto3.client("s3").head_object(Bucket="configured-dst", Key="a.txt")
