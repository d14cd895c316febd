"""survival_api's handler with the sample events of events/survival_api/ (real R, no AWS)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

EVENTS = Path(__file__).resolve().parents[3] / "events" / "survival_api"


@dataclass
class LambdaContext:
    function_name: str = "SurvivalFunction"
    memory_limit_in_mb: int = 1769
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:SurvivalFunction"
    aws_request_id: str = "00000000-0000-0000-0000-000000000004"


def _event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def _call(app, event):
    response = app.handler(event, LambdaContext())
    return response, json.loads(response["body"]) if not response.get("isBase64Encoded") else None


def test_statistics_event_gives_r_numbers_and_a_failed_constant_row(app, cohorts):
    event = _event("statistics.json")
    response, body = _call(app, event)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    request = json.loads(event["body"])
    expected = cohorts.rscript_statistics(
        [float(t) for t in request["times"]], request["events"], request["values_by_record"])
    got = [(s["hazard"], s["pval"]) for s in body["statistics_list"]]
    assert got == expected
    assert got[2] == (None, None)
    assert body["failed_rows"] == [2]
    assert body["statistics_list"][2]["error"].startswith("row 2: coxph gave no estimate")
    assert "error" not in body["statistics_list"][0]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("unequal_lengths.json",
         "events has 11 entries but times has 12; they must have one entry per sample"),
        ("events_not_binary.json", "events[0] must be 0 (censored) or 1 (event), got 2"),
        ("no_events.json", "events has no event (all 0): a survival model needs at least one"),
        ("non_numeric.json", "values_by_record[1][5] must be a number, got a string"),
        ("nan_value.json", "values_by_record[0][0] must be a finite number, got nan"),
    ],
)
def test_bad_events_get_400_with_the_request_id(app, name, message):
    event = _event(name)
    response, body = _call(app, event)
    assert response["statusCode"] == 400
    assert body["code"] == 400
    assert body["message"] == message
    assert body["request-id"] == event["requestContext"]["requestId"]


def test_malformed_json_and_unknown_route(app):
    event = _event("statistics.json")
    response, body = _call(app, {**event, "body": "{not json"})
    assert (response["statusCode"], body["message"]) == (400, "Request body is not valid JSON")
    response, body = _call(app, {**event, "routeKey": "GET /survival"})
    assert (response["statusCode"], body["message"]) == (404, "No route GET /survival")


def test_too_many_rows_is_413(app, monkeypatch):
    monkeypatch.setattr(app, "LIMITS", app.LIMITS.__class__(max_rows=2, max_samples=2000))
    response, body = _call(app, _event("statistics.json"))
    assert response["statusCode"] == 413
    assert body["message"].startswith("Too many rows: 3; the limit is 2 per request")


def test_plot_event_returns_a_png_with_r_numbers_in_headers(app, cohorts, png_check):
    event = _event("plot.json")
    response, _ = _call(app, event)
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    headers = response["headers"]
    assert headers["Content-Type"] == "image/png"
    png = base64.b64decode(response["body"])
    image = png_check.decode(png)
    assert (image.width, image.height) == (800, 600)
    assert image.count(png_check.LOW_COLOUR) > 50 and image.count(png_check.HIGH_COLOUR) > 50
    request = json.loads(event["body"])
    reference = cohorts.rscript_logrank([float(t) for t in request["times"]], request["events"],
                                        request["values"])
    assert float(headers["X-Cutoff"]) == reference["cutoff"]
    assert float(headers["X-Logrank-Pvalue"]) == reference["pval"]
    low, high = reference["sizes"]
    assert headers["X-Group-Sizes"] == f"low={low},high={high}"
    e_low, e_high = reference["events"]
    assert headers["X-Group-Events"] == f"low={e_low},high={e_high}"


def test_plot_cutoff_outside_the_values_is_400(app):
    event = _event("plot.json")
    request = json.loads(event["body"])
    response, body = _call(app, {**event, "body": json.dumps({**request, "cutoff": 99.0})})
    assert response["statusCode"] == 400
    assert body["message"].startswith("cutoff 99.0 leaves the high (> cutoff) group empty")
    assert body["field"] == "cutoff"


def test_route_of_both_event_versions(app):
    assert app.route_of({"routeKey": "POST /survival/plot"}) == ("POST", "/survival/plot")
    assert app.route_of({"httpMethod": "post", "resource": "/survival"}) == ("POST", "/survival")
