"""The workflow steps on moto: plan -> score every (batch, chunk) -> aggregate; fail."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from brute_force import brute_force
from cas9_sites import find_candidates
from synthetic_genome import make_genome

EVENTS = Path(__file__).resolve().parents[3] / "events" / "crispr_targets"

JOB = "0123456789abcdef0123456789abcdef"
GENOME = {"seed": 5, "length": 120_000, "chunk_size": 30_000, "query_length": 300}


@pytest.fixture
def env(aws: Any, workflow_app: Any, genome_app: Any) -> Any:
    """A loaded synthetic genome and a SCORING job whose targets the finder wrote."""
    genome_app.load({"genome_id": "g", **GENOME}, genome_app.Loader(aws.s3, aws.bucket),
                    1_000_000)
    genome = make_genome(**GENOME)
    candidates = find_candidates(genome.query)
    aws.jobs().put_item(Item={"job_id": JOB, "status": "SCORING", "genome": "g",
                              "max_mismatches": 3, "expires_at": 1_900_000_000})
    aws.s3.put_object(Bucket=aws.bucket, Key=f"jobs/{JOB}/targets.json", Body=json.dumps(
        {"job_id": JOB, "targets": [c.to_dict() for c in candidates]}).encode())
    store = workflow_app.Store(aws.dynamodb, aws.s3, aws.jobs_table, aws.targets_table,
                               aws.bucket)
    settings = workflow_app.Settings(target_batch_size=10, max_work_items=1000,
                                     max_concurrency=3, max_hits=20)
    return SimpleNamespace(aws=aws, app=workflow_app, store=store, settings=settings,
                           genome=genome, candidates=candidates)


def _run(env: Any) -> dict[str, Any]:
    """The state machine's data flow, step by step, as the ASL wires it."""
    run = env.app.run_step
    state = run("plan", {"job_id": JOB}, env.store, env.settings)
    scored = [run("score", {"job_id": state["job_id"], "genome": state["genome"],
                            "k": state["k"], **item}, env.store, env.settings)
              for item in state["work"]]
    return run("aggregate", {"job_id": JOB, "k": state["k"], "batch_count": state["batch_count"],
                             "chunk_count": state["chunk_count"], "scored": scored},
               env.store, env.settings)


def test_plan_batches_targets_and_lists_every_pair(env: Any) -> None:
    state = env.app.plan({"job_id": JOB}, env.store, env.settings)
    n = len(env.candidates)
    assert (state["target_count"], state["chunk_count"], state["k"]) == (n, 4, 3)
    assert state["batch_count"] == -(-n // 10)
    assert state["work"] == [{"b": b, "c": c} for b in range(state["batch_count"])
                             for c in range(4)]
    assert state["max_concurrency"] == 3
    batches = [json.loads(env.aws.s3.get_object(
        Bucket=env.aws.bucket, Key=f"jobs/{JOB}/batches/{b:05d}.json")["Body"].read())["targets"]
        for b in range(state["batch_count"])]
    assert [t["target_id"] for batch in batches for t in batch] == [
        c.target_id for c in env.candidates]


def test_batch_size_grows_to_bound_the_work_items(workflow_app: Any) -> None:
    settings = workflow_app.Settings(target_batch_size=50, max_work_items=1000)
    assert workflow_app.batch_size(120, 8, settings) == 50  # 3 batches x 8 chunks
    assert workflow_app.batch_size(20_000, 8, settings) == 160  # 125 batches x 8 = 1000
    assert workflow_app.batch_size(10, 5_000, settings) == 50
    assert workflow_app.batch_size(1_000, 5_000, settings) == 1_000  # one batch


def test_whole_flow_scores_every_target_like_the_brute_force(env: Any) -> None:
    out = _run(env)
    n = len(env.candidates)
    assert out == {"job_id": JOB, "status": "DONE", "target_count": n, "comparisons": n * 4}
    job = env.aws.jobs().get_item(Key={"job_id": JOB})["Item"]
    assert job["status"] == "DONE" and int(job["comparisons"]) == n * 4
    assert len(job["best_targets"]) == 5
    items = env.aws.targets().query(KeyConditionExpression="job_id = :j",
                                    ExpressionAttributeValues={":j": JOB})["Items"]
    assert [i["target_id"] for i in items] == [c.target_id for c in env.candidates]
    ref = brute_force(env.genome.sequence, [c.protospacer for c in env.candidates], 3)
    for item, r in zip(items, ref, strict=True):
        assert [int(x) for x in item["offtarget_counts"]] == r["counts"]
        hits = [(int(h["position"]), h["strand"], int(h["mismatches"]))
                for h in item["offtarget_hits"]]
        assert hits == r["hits"][:20]
        assert float(item["specificity"]) == env.app.specificity(r["counts"])
        assert int(item["expires_at"]) == 1_900_000_000
    # The planted guides: their own site, one exact copy, and the 1/2/2/3-mismatch plants.
    for g, guide in enumerate(env.genome.guides):
        item = next(i for i in items if i["protospacer"] == guide)
        assert [int(x) for x in item["offtarget_counts"]] == env.genome.expected_counts(g, 3)


def test_score_reads_the_event_shape(env: Any) -> None:
    env.app.plan({"job_id": JOB}, env.store, env.settings)
    event = json.loads((EVENTS / "workflow_score.json").read_text())
    event["input"].update(genome="g", c=1)
    out = env.app.run_step(event["step"], event["input"], env.store, env.settings)
    assert (out["b"], out["c"]) == (0, 1) and out["sites"] > 1000
    partial = json.loads(env.aws.s3.get_object(
        Bucket=env.aws.bucket, Key=f"jobs/{JOB}/partials/00000-00001.json")["Body"].read())
    assert len(partial["counts"]) == 10 and partial["sites"] == out["sites"]


def test_a_missing_chunk_is_a_chunk_error(env: Any) -> None:
    env.app.plan({"job_id": JOB}, env.store, env.settings)
    env.aws.s3.delete_object(Bucket=env.aws.bucket, Key="genomes/g/chunks/00002.txt")
    with pytest.raises(env.app.ChunkUnavailable, match="genomes/g/chunks/00002.txt is missing"):
        env.app.score({"job_id": JOB, "genome": "g", "k": 3, "b": 0, "c": 2}, env.store,
                      env.settings)


def test_plan_of_an_unloaded_genome_or_unknown_job_is_a_step_error(env: Any) -> None:
    env.aws.jobs().put_item(Item={"job_id": "e" * 32, "status": "SCORING", "genome": "nope",
                                  "max_mismatches": 3})
    with pytest.raises(env.app.StepError, match="genome manifest genomes/nope/manifest.json"):
        env.app.plan({"job_id": "e" * 32}, env.store, env.settings)
    with pytest.raises(env.app.StepError, match="no job"):
        env.app.plan({"job_id": "d" * 32}, env.store, env.settings)


def test_aggregate_refuses_a_short_map_result(env: Any) -> None:
    state = env.app.plan({"job_id": JOB}, env.store, env.settings)
    with pytest.raises(env.app.StepError, match="expected"):
        env.app.aggregate({"job_id": JOB, "k": 3, "batch_count": state["batch_count"],
                           "chunk_count": 4, "scored": []}, env.store, env.settings)


def test_fail_records_the_reason_on_the_job(env: Any) -> None:
    event = json.loads((EVENTS / "workflow_fail.json").read_text())
    out = env.app.run_step("fail", {**event["input"], "job_id": JOB}, env.store, env.settings)
    reason = "genome chunk genomes/synthetic-v1/chunks/00002.txt is missing"
    assert out == {"error": "ChunkUnavailable", "cause": reason}
    job = env.aws.jobs().get_item(Key={"job_id": JOB})["Item"]
    assert job["status"] == "FAILED"
    assert job["error"] == {"error": "ChunkUnavailable", "reason": reason}


@pytest.mark.parametrize(("failure", "expected"), [
    ({"Error": "States.Timeout", "Cause": "Task timed out"}, ("States.Timeout", "Task timed out")),
    ({"Error": "X", "Cause": json.dumps({"errorMessage": "boom", "errorType": "X"})},
     ("X", "boom")),
    ({"Error": "X"}, ("X", "X")),
    (None, ("WorkflowFailed", "the workflow failed without an error description")),
])
def test_failure_reason(workflow_app: Any, failure: Any, expected: tuple[str, str]) -> None:
    assert workflow_app.failure_reason(failure) == expected


def test_specificity(workflow_app: Any) -> None:
    assert workflow_app.specificity([1, 0, 0, 0]) == 100.0  # only its own site
    assert workflow_app.specificity([0, 0, 0, 0]) == 100.0  # not in this genome at all
    assert workflow_app.specificity([2, 0, 0, 0]) == 50.0  # one more perfect copy
    assert workflow_app.specificity([1, 1, 2, 1]) == round(100 / (1 + 0.5 + 0.5 + 0.125), 2)


def test_unknown_step_and_bad_input(env: Any) -> None:
    with pytest.raises(env.app.StepError, match="unknown step"):
        env.app.run_step("nope", {}, env.store, env.settings)
    with pytest.raises(env.app.StepError, match="input must be an object with job_id"):
        env.app.run_step("score", {"job_id": JOB}, env.store, env.settings)


class _DeniedS3:
    """S3 as it answers a missing key when the role lacks s3:ListBucket: 403."""

    def get_object(self, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}},
                          "GetObject")


def test_a_chunk_s3_refuses_is_a_chunk_error_too(workflow_app: Any, aws: Any) -> None:
    store = workflow_app.Store(aws.dynamodb, _DeniedS3(), aws.jobs_table, aws.targets_table,
                               aws.bucket)
    with pytest.raises(workflow_app.ChunkUnavailable, match="is missing or not readable"):
        store.read_chunk("genomes/g/chunks/00000.txt")
    with pytest.raises(workflow_app.StepError, match="target batch x is missing or not"):
        store.read_json("x", "target batch")
