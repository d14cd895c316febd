"""The API: run requests checked, runs started and shown, 404s, bad k."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from common.validation import ValidationError


def _event(method: str, path: str, body: Any = None, query: dict | None = None) -> dict:
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "queryStringParameters": query, "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": method, "path": path}, "requestId": "r1",
                               "stage": "$default"},
            "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False}


@pytest.mark.parametrize("body", [
    [], {"Paths": []}, {"Paths": ["ok", 3]}, {"Paths": ["a"], "BatchSize": 0},
    {"Paths": ["a"], "Other": 1}, {"Paths": ["  "]},
])
def test_bad_run_requests(api_app: Any, body: Any) -> None:
    with pytest.raises(ValidationError):
        api_app.parse_run(body)


def test_routes(api_app: Any, aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch,
                lambda_context: Any) -> None:
    monkeypatch.setattr(api_app, "sfn", aws.sfn)
    monkeypatch.setattr(api_app, "dynamodb", aws.ddb)
    monkeypatch.setattr(api_app, "STATE_MACHINE_ARN", aws.state_machine_arn)
    monkeypatch.setattr(api_app, "TABLE", aws.table)
    bad = api_app.handler(_event("POST", "/runs", {"Paths": "images"}), lambda_context)
    assert bad["statusCode"] == 400 and json.loads(bad["body"])["field"] == "Paths"
    started = api_app.handler(_event("POST", "/runs", {"Paths": ["images"], "BatchSize": 10}),
                              lambda_context)
    assert started["statusCode"] == 202
    run = json.loads(started["body"])
    execution = aws.sfn.describe_execution(executionArn=run["execution_arn"])
    assert json.loads(execution["input"]) == {"Paths": ["images"], "BatchSize": 10}
    shown = json.loads(api_app.handler(_event("GET", f"/runs/{run['run_id']}"),
                                       lambda_context)["body"])
    assert shown["run_id"] == run["run_id"] and shown["status"] in ("RUNNING", "SUCCEEDED")
    assert api_app.handler(_event("GET", "/runs/" + "0" * 32), lambda_context)[
        "statusCode"] == 404
    v = np.arange(512, dtype=np.float32)
    for name, vec in (("a", v), ("b", v + 1), ("c", -v)):
        aws.ddb.put_item(TableName=aws.table, Item={
            "ImageId": {"S": name}, "Vector": {"B": vec.tobytes()},
            "DataType": {"S": "float32"}, "Dimension": {"N": "512"}})
    image = json.loads(api_app.handler(_event("GET", "/images/a"), lambda_context)["body"])
    assert image["dimension"] == 512 and image["norm"] == pytest.approx(np.linalg.norm(v))
    near = json.loads(api_app.handler(_event("GET", "/images/a/neighbours", query={"k": "2"}),
                                      lambda_context)["body"])
    assert [n["image_id"] for n in near["neighbours"]] == ["b", "c"]
    assert near["neighbours"][1]["cosine"] == pytest.approx(-1.0)
    assert api_app.handler(_event("GET", "/images/a/neighbours", query={"k": "0"}),
                           lambda_context)["statusCode"] == 400
    assert api_app.handler(_event("GET", "/images/zz/neighbours"), lambda_context)[
        "statusCode"] == 404
