"""Submitting jobs: request checks, the API (400/202/404), the manifest trigger."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import jobs
import manifest
import pytest

from common.validation import ValidationError

GOOD = {"model_key": "models/m.npz", "input_prefix": "in", "output_prefix": "out/"}


@pytest.mark.parametrize(("body", "field"), [
    ({**GOOD, "model_key": "models/m.pkl"}, "model_key"),
    ({**GOOD, "output_prefix": "in/sub/"}, "output_prefix"),
    ({**GOOD, "input_prefix": "jobs/x/"}, "input_prefix"),
    ({**GOOD, "input_prefix": "a/../b"}, "input_prefix"),
    ({**GOOD, "shard_count": 0}, "shard_count"),
    ({**GOOD, "extra": 1}, "extra"),
    ({"model_key": "m.npz"}, "input_prefix"),
])
def test_bad_requests_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        jobs.parse_request(body, max_shards=8)
    assert err.value.field == field


def test_prefixes_get_their_slash() -> None:
    request = jobs.parse_request(GOOD, max_shards=8)
    assert (request.input_prefix, request.output_prefix) == ("in/", "out/")


def _service(aws: SimpleNamespace) -> jobs.JobService:
    return jobs.JobService(aws.table, aws.s3, aws.sfn, aws.sns, aws.bucket,
                           aws.state_machine_arn, aws.topic)


def _event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": method, "path": path}, "requestId": "r1",
                               "stage": "$default"},
            "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False}


def test_api_submits_a_job_and_shows_it(api_app: Any, aws: SimpleNamespace,
                                        monkeypatch: pytest.MonkeyPatch,
                                        lambda_context: Any) -> None:
    monkeypatch.setattr(api_app, "service", _service(aws))
    status = api_app.handler(_event("POST", "/inference-jobs", GOOD), lambda_context)
    assert status["statusCode"] == 400
    assert json.loads(status["body"])["field"] == "model_key"  # no artifact yet
    aws.s3.put_object(Bucket=aws.bucket, Key="models/m.npz", Body=b"x")
    status = api_app.handler(_event("POST", "/inference-jobs", GOOD), lambda_context)
    assert json.loads(status["body"])["field"] == "input_prefix"  # no input yet
    aws.s3.put_object(Bucket=aws.bucket, Key="in/a.csv", Body=b"x")
    created = api_app.handler(_event("POST", "/inference-jobs", {**GOOD, "shard_count": 2}),
                              lambda_context)
    assert created["statusCode"] == 202
    job = json.loads(created["body"])
    assert job["status"] == "SUBMITTED" and job["shard_count"] == 2
    execution = aws.sfn.describe_execution(executionArn=job["execution_arn"])
    assert json.loads(execution["input"]) == {"job_id": job["job_id"]}
    shown = api_app.handler(_event("GET", f"/inference-jobs/{job['job_id']}"), lambda_context)
    assert json.loads(shown["body"])["input_prefix"] == "in/"
    missing = api_app.handler(_event("GET", "/inference-jobs/" + "0" * 32), lambda_context)
    assert missing["statusCode"] == 404
    bad_json = _event("POST", "/inference-jobs")
    bad_json["body"] = "{"
    assert api_app.handler(bad_json, lambda_context)["statusCode"] == 400


def test_a_manifest_submits_once_and_a_bad_one_is_rejected(aws: SimpleNamespace) -> None:
    service = _service(aws)
    aws.s3.put_object(Bucket=aws.bucket, Key="models/m.npz", Body=b"x")
    aws.s3.put_object(Bucket=aws.bucket, Key="in/a.csv", Body=b"x")
    etag = aws.s3.put_object(Bucket=aws.bucket, Key="manifests/j.json",
                             Body=json.dumps(GOOD).encode())["ETag"]
    first = manifest.submit_manifest(service, aws.bucket, "manifests/j.json", etag)
    again = manifest.submit_manifest(service, aws.bucket, "manifests/j.json", etag)
    assert first["created"] and not again["created"]
    assert first["job_id"] == again["job_id"] == jobs.manifest_job_id("manifests/j.json", etag)
    assert len(aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]) == 1
    etag = aws.s3.put_object(Bucket=aws.bucket, Key="manifests/bad.json",
                             Body=b'{"model_key": 3}')["ETag"]
    rejected = manifest.submit_manifest(service, aws.bucket, "manifests/bad.json", etag)
    assert rejected["status"] == "REJECTED" and "model_key" in rejected["reason"]
    item = aws.table.get_item(Key={"job_id": rejected["job_id"]})["Item"]
    assert item["status"] == "REJECTED" and item["source"].endswith("manifests/bad.json")
