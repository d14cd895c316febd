"""Plan (list, deduplicate, batch, manifests that never collide) and summarize."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest


def _store(app: Any, aws: SimpleNamespace) -> Any:
    return app.Store(aws.s3, aws.bucket)


@pytest.mark.parametrize("request_", [
    None, {}, {"Paths": []}, {"Paths": "images"}, {"Paths": [""]}, {"Paths": ["/"]},
    {"Paths": ["a"], "BatchSize": 0}, {"Paths": ["a"], "BatchSize": True},
])
def test_bad_inputs_are_step_errors(workflow_app: Any, request_: Any) -> None:
    with pytest.raises(workflow_app.StepError):
        workflow_app.parse_input(request_, workflow_app.Settings())


def test_paths_become_prefixes_once(workflow_app: Any) -> None:
    assert workflow_app.parse_input({"Paths": ["images", "/images/", "b/c"]},
                                    workflow_app.Settings()) == (["images/", "b/c/"], 1000)


def test_batches_per_path_and_duplicate_stems(workflow_app: Any) -> None:
    listing = [("a/", ["a/x.jpg", "a/y.png", "a/z.jpg"]), ("b/", ["b/x.png", "b/w.jpg"])]
    batches, duplicates = workflow_app.plan_batches(listing, 2)
    assert batches == [(0, ["a/x.jpg", "a/y.png"]), (0, ["a/z.jpg"]), (1, ["b/w.jpg"])]
    assert duplicates == [{"key": "b/x.png", "same_image_id_as": "a/x.jpg"}]


def test_plan_writes_manifests_that_never_collide(workflow_app: Any,
                                                  aws: SimpleNamespace) -> None:
    for n, prefix in enumerate(("images/", "images2/", "more/images/")):
        for i in range(5):
            aws.s3.put_object(Bucket=aws.bucket, Key=f"{prefix}p{n}-{i}.jpg", Body=b"x")
    aws.s3.put_object(Bucket=aws.bucket, Key="images/readme.txt", Body=b"x")
    store = _store(workflow_app, aws)
    out = workflow_app.plan({"run_id": "r1", "request": {
        "Paths": ["images", "images2", "more/images", "empty"], "BatchSize": 2}},
        store, workflow_app.Settings(max_concurrency=3))
    manifests = [b["manifest"] for b in out["batches"]]
    assert len(manifests) == len(set(manifests)) == 9  # 3 paths x ceil(5 / 2)
    assert out["images"] == 15 and out["empty_paths"] == ["empty/"]
    assert out["max_concurrency"] == 3 and out["duplicates"] == 0
    assert [b["batch"] for b in out["batches"]] == list(range(9))
    folders = {m.rsplit("/", 1)[0] for m in manifests}
    assert len(folders) == 3 and all(f.startswith("manifests/r1/") for f in folders)
    listed = []
    for m in manifests:
        body = aws.s3.get_object(Bucket=aws.bucket, Key=m)["Body"].read().decode()
        listed += body.split()
    assert len(listed) == 15 and len(set(listed)) == 15
    again = workflow_app.plan({"run_id": "r2", "request": {"Paths": ["images"]}}, store,
                              workflow_app.Settings())
    assert not set(b["manifest"] for b in again["batches"]) & set(manifests)


def test_plan_without_images_fails(workflow_app: Any, aws: SimpleNamespace) -> None:
    with pytest.raises(workflow_app.StepError, match="no image"):
        workflow_app.plan({"run_id": "r", "request": {"Paths": ["nothing"]}},
                          _store(workflow_app, aws), workflow_app.Settings())


def test_summarize_counts_skips_and_a_failed_batch(workflow_app: Any,
                                                   aws: SimpleNamespace) -> None:
    aws.s3.put_object(Bucket=aws.bucket, Key="runs/r/reports/00000.json", Body=json.dumps(
        {"skipped_images": [{"key": "images/bad.jpg", "reason": "corrupt image: x"}]}))
    cause = json.dumps({"errorMessage": "boom", "errorType": "RuntimeError"})
    out = workflow_app.summarize({"run_id": "r", "plan": {
        "paths": ["images/"], "images": 7, "duplicates": 1, "duplicate_images": []},
        "results": [
            {"batch": 0, "status": "SUCCEEDED", "images": 4, "embedded": 3, "skipped": 1,
             "skipped_by_reason": {"corrupt image": 1}},
            {"batch": 1, "status": "FAILED", "manifest": "m", "images": 3,
             "error": {"Error": "RuntimeError", "Cause": cause}}]}, _store(workflow_app, aws))
    assert out["status"] == "FAILED" and out["error"] == "BatchesFailed"
    assert (out["images_listed"], out["embedded"], out["skipped"], out["batches_failed"]) == (
        8, 3, 1, 1)
    assert out["skipped_images"] == [{"key": "images/bad.jpg", "reason": "corrupt image: x"}]
    assert out["failed_batches"][0]["reason"] == "RuntimeError: boom"
    saved = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key="runs/r/summary.json")[
        "Body"].read())
    assert saved["embedded"] == 3
