"""The workflow steps: sharding, plan, finalize (a failed shard counted from its report), fail."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest


def _store(app: Any, aws: SimpleNamespace) -> Any:
    return app.Store(aws.dynamodb, aws.s3, aws.table.name, aws.bucket)


def _job(aws: SimpleNamespace, job_id: str = "a" * 32, **extra: Any) -> dict[str, Any]:
    item = {"job_id": job_id, "status": "SUBMITTED", "model_key": "models/m.npz",
            "input_prefix": "in/", "output_prefix": "out/", **extra}
    aws.table.put_item(Item=item)
    return item


def test_shards_hold_whole_files_balanced_by_bytes(workflow_app: Any) -> None:
    files = [(f"in/f{i:02d}.csv", size) for i, size in enumerate([90, 10, 50, 50, 40, 30, 20])]
    shards = workflow_app.shard_files(files, 3)
    assert sorted(k for s in shards for k, _ in s) == sorted(k for k, _ in files)
    totals = [sum(size for _, size in s) for s in shards]
    assert max(totals) - min(totals) <= 20, totals
    assert all(s == sorted(s) for s in shards)
    assert workflow_app.shard_files(list(reversed(files)), 3) == shards  # listing order moot


def test_never_more_shards_than_files(workflow_app: Any) -> None:
    assert len(workflow_app.shard_files([("a.csv", 1), ("b.csv", 1)], 8)) == 2


def test_plan_writes_a_manifest_per_shard_and_runs_the_job(workflow_app: Any,
                                                           aws: SimpleNamespace) -> None:
    _job(aws, shard_count=2)
    for i in range(5):
        aws.s3.put_object(Bucket=aws.bucket, Key=f"in/d/p{i}.csv", Body=b"x" * (i + 1))
    aws.s3.put_object(Bucket=aws.bucket, Key="in/readme.txt", Body=b"not input")
    aws.s3.put_object(Bucket=aws.bucket, Key="in/empty.csv", Body=b"")
    out = workflow_app.plan({"job_id": "a" * 32}, _store(workflow_app, aws),
                            workflow_app.Settings(shard_count=4, max_concurrency=3))
    assert out["max_concurrency"] == 3 and len(out["shards"]) == 2
    assert sum(s["files"] for s in out["shards"]) == 5
    manifest = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=f"jobs/{'a' * 32}/shards/"
                                            "00000.json")["Body"].read())
    assert manifest["model_key"] == "models/m.npz"
    assert all(f["output_key"] == "out/" + f["key"][3:] for f in manifest["files"])
    job = aws.table.get_item(Key={"job_id": "a" * 32})["Item"]
    assert (job["status"], job["file_count"], job["shard_count"]) == ("RUNNING", 5, 2)
    assert job["bytes_total"] == 15 and "started_at" in job


def test_plan_without_input_files_is_a_step_error(workflow_app: Any,
                                                  aws: SimpleNamespace) -> None:
    _job(aws)
    with pytest.raises(workflow_app.StepError, match="no .csv"):
        workflow_app.plan({"job_id": "a" * 32}, _store(workflow_app, aws),
                          workflow_app.Settings())


def test_finalize_counts_a_failed_shard_from_its_last_report(workflow_app: Any,
                                                             aws: SimpleNamespace) -> None:
    _job(aws, status="RUNNING")
    job_id = "a" * 32
    aws.s3.put_object(Bucket=aws.bucket, Key=f"jobs/{job_id}/reports/00001.json", Body=json.dumps(
        {"files_scored": 2, "rows_scored": 200, "file_reports": [
            {"key": "in/x.csv", "status": "SCORED"}, {"key": "in/y.csv", "status": "SCORED"},
            {"key": "in/bad.csv", "status": "FAILED", "error": "InputFileError: ..."}]}))
    cause = json.dumps({"errorMessage": "shard 1: 1 of 3 files failed: in/bad.csv: ...",
                        "errorType": "ShardFailed"})
    results = [{"shard": 0, "status": "SUCCEEDED", "files": 2, "files_scored": 2,
                "rows_scored": 150},
               {"shard": 1, "files": 3, "status": "FAILED",
                "error": {"Error": "ShardFailed", "Cause": cause}}]
    out = workflow_app.finalize({"job_id": job_id, "shard_results": results},
                                _store(workflow_app, aws))
    assert out["status"] == "FAILED" and out["error"] == "ShardsFailed"
    assert out["counts"] == {"shards": 2, "shards_succeeded": 1, "shards_failed": 1,
                             "files": 5, "files_scored": 4, "files_failed": 1,
                             "rows_scored": 350}
    assert "shard 1: 1 of 3 files failed" in out["cause"]
    assert json.loads(out["message"])["files_failed"] == 1
    job = aws.table.get_item(Key={"job_id": job_id})["Item"]
    assert job["status"] == "FAILED" and job["failures"][0]["failed_files"] == ["in/bad.csv"]
    assert job["rows_scored"] == 350 and "finished_at" in job


def test_finalize_all_good_is_succeeded(workflow_app: Any, aws: SimpleNamespace) -> None:
    _job(aws, status="RUNNING")
    out = workflow_app.finalize({"job_id": "a" * 32, "shard_results": [
        {"shard": 0, "status": "SUCCEEDED", "files": 1, "files_scored": 1, "rows_scored": 9}]},
        _store(workflow_app, aws))
    assert out["status"] == "SUCCEEDED" and "error" not in out
    assert out["subject"].endswith("SUCCEEDED")


def test_fail_records_the_reason(workflow_app: Any, aws: SimpleNamespace) -> None:
    _job(aws)
    cause = json.dumps({"errorMessage": "no .csv under in/", "errorType": "StepError"})
    out = workflow_app.fail({"job_id": "a" * 32, "failure": {"Error": "StepError",
                                                             "Cause": cause}},
                            _store(workflow_app, aws))
    assert (out["status"], out["error"], out["cause"]) == ("FAILED", "StepError",
                                                          "no .csv under in/")
    job = aws.table.get_item(Key={"job_id": "a" * 32})["Item"]
    assert job["status"] == "FAILED" and job["error"]["reason"] == "no .csv under in/"


def test_unknown_step(workflow_app: Any, aws: SimpleNamespace) -> None:
    with pytest.raises(workflow_app.StepError, match="unknown step"):
        workflow_app.run_step("score", {}, _store(workflow_app, aws), workflow_app.Settings())
