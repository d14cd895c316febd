from __future__ import annotations

import pytest
from botocore.config import Config

from common import aws


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in ("AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SFN"):
        monkeypatch.delenv(name, raising=False)
    aws.clear_cache()
    yield
    aws.clear_cache()


def test_client_is_cached_per_service_and_region():
    first = aws.client("s3")
    assert aws.client("s3") is first
    assert aws.client("sqs") is not first
    assert aws.client("s3", region_name="eu-west-1") is not first
    assert aws.client("s3", region_name="eu-west-1").meta.region_name == "eu-west-1"


def test_region_prefers_lambda_region(monkeypatch):
    assert aws.client("s3").meta.region_name == "us-east-1"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert aws.region() == "eu-central-1"
    assert aws.client("s3").meta.region_name == "eu-central-1"


def test_retries_are_standard_mode():
    retries = aws.client("dynamodb").meta.config.retries
    assert retries["mode"] == "standard"


def test_caller_config_is_merged_and_cached():
    config = Config(read_timeout=5)
    dynamodb = aws.client("dynamodb", config=config)
    assert dynamodb.meta.config.read_timeout == 5
    assert dynamodb.meta.config.retries["mode"] == "standard"
    assert aws.client("dynamodb", config=config) is dynamodb


def test_endpoint_from_global_env(monkeypatch):
    default = aws.client("sqs")
    assert "127.0.0.1" not in default.meta.endpoint_url
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    local = aws.client("sqs")
    assert local is not default
    assert local.meta.endpoint_url == "http://127.0.0.1:4566"


def test_service_specific_endpoint_env(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SFN", "http://127.0.0.1:8083")
    assert aws.client("stepfunctions").meta.endpoint_url == "http://127.0.0.1:8083"
    assert aws.client("sqs").meta.endpoint_url == "http://127.0.0.1:4566"


def test_explicit_endpoint_wins(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    sqs = aws.client("sqs", endpoint_url="http://127.0.0.1:9999")
    assert sqs.meta.endpoint_url == "http://127.0.0.1:9999"


def test_resource_is_cached():
    table_api = aws.resource("dynamodb")
    assert aws.resource("dynamodb") is table_api
    assert table_api.meta.client.meta.config.retries["mode"] == "standard"
