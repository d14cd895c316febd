"""functions/survival_api/openapi.yaml: a valid document that says what the API really does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from localcloud import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
SPEC = yaml.safe_load((ROOT / "functions" / "survival_api" / "openapi.yaml").read_text())
STACK = cfn_yaml.load(ROOT / "stacks" / "survival_api.yaml")
EVENTS = ROOT / "events" / "survival_api"


def _validator(name: str) -> OAS30Validator:
    # The components travel with the schema so its $refs resolve.
    return OAS30Validator({"$ref": f"#/components/schemas/{name}",
                           "components": SPEC["components"]})


def _body(event_name: str) -> dict:
    return json.loads(json.loads((EVENTS / event_name).read_text())["body"])


def test_the_document_is_valid_openapi_3_0():
    validate(SPEC)
    assert SPEC["openapi"].startswith("3.0")


def test_its_operations_are_the_template_routes():
    events = STACK["Resources"]["SurvivalFunction"]["Properties"]["Events"]
    routes = {(e["Properties"]["Method"].lower(), e["Properties"]["Path"])
              for e in events.values() if e["Type"] == "HttpApi"}
    documented = {(method, path) for path, ops in SPEC["paths"].items() for method in ops}
    assert documented == routes == {("post", "/survival"), ("post", "/survival/plot")}


def test_documented_limits_are_the_deployed_defaults(load_module):
    req = load_module("functions/survival_api/survival/survival_request.py",
                      "survival_api_request_openapi")
    params = STACK["Parameters"]
    schemas = SPEC["components"]["schemas"]
    assert (schemas["StatisticsRequest"]["properties"]["values_by_record"]["maxItems"]
            == params["MaxRows"]["Default"] == req.DEFAULT_MAX_ROWS)
    assert schemas["Times"]["maxItems"] == params["MaxSamples"]["Default"] == \
        req.DEFAULT_MAX_SAMPLES
    assert schemas["Times"]["minItems"] == req.MIN_SAMPLES


def test_sample_requests_fit_the_request_schemas():
    _validator("StatisticsRequest").validate(_body("statistics.json"))
    _validator("PlotRequest").validate(_body("plot.json"))
    example = SPEC["paths"]["/survival"]["post"]["requestBody"]["content"]["application/json"]
    _validator("StatisticsRequest").validate(example["example"])


@pytest.mark.parametrize("name", ["events_not_binary.json", "non_numeric.json"])
def test_bad_sample_requests_break_the_schema(name):
    assert list(_validator("StatisticsRequest").iter_errors(_body(name)))


def test_real_responses_fit_the_response_schemas(app, lambda_context):
    event = json.loads((EVENTS / "statistics.json").read_text())
    body = json.loads(app.handler(event, lambda_context)["body"])
    _validator("StatisticsResponse").validate(body)
    assert body["statistics_list"][2]["hazard"] is None  # nullable is exercised
    bad = json.loads((EVENTS / "no_events.json").read_text())
    _validator("Error").validate(json.loads(app.handler(bad, lambda_context)["body"]))
