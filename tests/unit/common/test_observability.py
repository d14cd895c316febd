from __future__ import annotations

import json

import pytest
from aws_lambda_powertools import Logger, Metrics, Tracer

from common import observability


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "orders")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
    observability.reset()
    yield
    observability.reset()


def test_logger_uses_service_from_env_and_is_shared():
    logger = observability.get_logger()
    assert isinstance(logger, Logger)
    assert logger.service == "orders"
    assert observability.get_logger() is logger
    assert observability.get_logger("other") is not logger


def test_logger_writes_structured_json(caplog):
    logger = observability.get_logger()
    logger.info("hello", extra={"order": 7})
    # The handler writes to the stdout of when it was created; format the captured record instead.
    line = json.loads(logger.registered_formatter.format(caplog.records[-1]))
    assert line["service"] == "orders"
    assert line["message"] == "hello"
    assert line["order"] == 7


def test_tracer_is_disabled_outside_lambda_and_shared():
    tracer = observability.get_tracer()
    assert isinstance(tracer, Tracer)
    assert tracer.service == "orders"
    assert tracer.disabled
    assert observability.get_tracer() is tracer


def test_metrics_namespace_from_env_or_argument():
    metrics = observability.get_metrics()
    assert isinstance(metrics, Metrics)
    assert metrics.namespace == "ServerlessCollection"
    assert observability.get_metrics() is metrics
    other = observability.get_metrics("Airline")
    assert other.namespace == "Airline"
    assert other is not metrics


def test_service_name_default(monkeypatch):
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME")
    assert observability.service_name() == "service_undefined"
    assert observability.service_name("explicit") == "explicit"
