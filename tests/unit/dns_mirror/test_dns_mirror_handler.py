"""The handler: bad input becomes a clear error in the result, the logs and the metrics."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from common import observability

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "dns_mirror"


@dataclass
class Context:
    function_name: str = "SyncFunction"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:SyncFunction"
    aws_request_id: str = "00000000-0000-0000-0000-000000000003"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture(scope="module")
def app(load_module: Any) -> Any:
    saved = dict(os.environ)
    os.environ.update({"POWERTOOLS_SERVICE_NAME": "dns_mirror",
                       "POWERTOOLS_METRICS_NAMESPACE": "ServerlessCollection",
                       "POWERTOOLS_TRACE_DISABLED": "true"})
    observability.reset()
    try:
        yield load_module("functions/dns_mirror/sync/app.py", "dns_mirror_app")
    finally:
        os.environ.clear()
        os.environ.update(saved)
        observability.reset()


def test_missing_and_malformed_keys_are_reported_with_a_failure_metric(
        app: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    event = json.loads((EVENTS / "missing_keys.json").read_text())
    result = app.handler(event, Context())
    assert result["status"] == "error" and result["error"]["type"] == "InvalidEvent"
    for word in ("MasterDns", "ZoneId", "ZoneSerial", "IgnoreTTL"):
        assert word in result["error"]["problems"]
    assert (result["created"], result["updated"], result["deleted"]) == (0, 0, 0)
    record = next(r for r in caplog.records if r.levelname == "ERROR")
    log = json.loads(app.logger.registered_formatter.format(record))
    assert log["service"] == "dns_mirror" and log["result"]["status"] == "error"
    assert log["function_request_id"] == Context.aws_request_id
    emf = next(json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith('{"_aws"'))
    assert emf["SyncFailures"] == [1.0] and emf["RecordsChanged"] == [0.0]
    assert emf["Zone"] == "corp.example.internal"
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ServerlessCollection"


def test_a_non_object_event(app: Any) -> None:
    result = app.mirror(["not", "an", "object"])
    assert result.status == "error" and "JSON object" in result.message


def test_axfr_lifetime_leaves_time_to_write(app: Any) -> None:
    assert app._lifetime(Context()) == app.AXFR_LIFETIME_SECONDS

    class Short(Context):
        def get_remaining_time_in_millis(self) -> int:
            return 45_000

    assert app._lifetime(Short()) == 15.0


@pytest.mark.parametrize("name", ["forward.json", "reverse.json", "seed.json", "tsig.json"])
def test_sample_events_parse(app: Any, name: str) -> None:
    from dns_mirror.config import parse_event

    cfg = parse_event(json.loads((EVENTS / name).read_text()))
    assert cfg.zone_id and cfg.master
