"""The jobs API on moto: POST /jobs (inline and S3 FASTA), GET the job, page through targets."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

EVENTS = Path(__file__).resolve().parents[3] / "events" / "crispr_targets"

CONTEXT = SimpleNamespace(aws_request_id="lambda-1", function_name="ApiFunction",
                          memory_limit_in_mb=256,
                          invoked_function_arn="arn:aws:lambda:us-east-1:123:function:Api")
SEQUENCE = "ACGTACGTACGTACGTACGTTGGACCAGTCAGTCAGTCAGTCAGTCAG"


def _event(name: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((EVENTS / name).read_text())
    if "body" in changes:
        event["body"] = json.dumps(changes.pop("body"))
    event.update(changes)
    return event


@pytest.fixture
def env(aws: Any, api_app: Any) -> Any:
    store = api_app.JobStore(aws.dynamodb, aws.s3, aws.jobs_table, aws.targets_table, aws.bucket)
    aws.s3.put_object(Bucket=aws.bucket, Key="genomes/synthetic-v1/manifest.json", Body=b"{}")
    settings = api_app.Settings(max_sequence_length=1_000)

    def call(event: dict[str, Any]) -> tuple[int, Any]:
        # Through api_handler, as the handler does: errors become JSON responses.
        response = api_app.api_handler(lambda e, c: api_app.route(e, store, settings))(
            event, CONTEXT)
        return response["statusCode"], json.loads(response["body"])

    return SimpleNamespace(aws=aws, store=store, settings=settings, call=call, app=api_app)


def test_post_inline_sequence_queues_a_job(env: Any) -> None:
    status, job = env.call(_event("post_job.json", body={"sequence": SEQUENCE.lower(),
                                                         "name": "n1"}))
    assert status == 202
    assert job["status"] == "QUEUED"
    assert (job["sequence_length"], job["source"], job["genome"], job["max_mismatches"]) == (
        len(SEQUENCE), "inline", "synthetic-v1", 3)
    assert "sequence" not in job and "expires_at" not in job
    item = env.aws.jobs().get_item(Key={"job_id": job["job_id"]})["Item"]
    assert item["sequence"] == SEQUENCE  # upper-cased before storing
    assert item["status"] == "QUEUED" and item["name"] == "n1"
    assert item["expires_at"] > 0
    assert job["links"]["targets"] == f"/jobs/{job['job_id']}/targets"


def test_post_fasta_event_and_s3_fasta(env: Any) -> None:
    event = _event("post_job_fasta.json")
    fasta = json.loads(event["body"])["sequence"]
    status, job = env.call(event)
    assert status == 202
    assert job["sequence_length"] == len("".join(fasta.splitlines()[1:])) == 71
    env.aws.s3.put_object(Bucket=env.aws.bucket, Key="inputs/q.fa",
                          Body=(">q\n" + SEQUENCE[:20] + "\n" + SEQUENCE[20:] + "\n").encode())
    status, job = env.call(_event("post_job.json", body={"s3_key": "inputs/q.fa",
                                                         "max_mismatches": 0}))
    assert status == 202
    assert (job["source"], job["sequence_length"], job["max_mismatches"]) == (
        "inputs/q.fa", len(SEQUENCE), 0)


@pytest.mark.parametrize(("body", "message"), [
    ({}, "Give exactly one of 'sequence'"),
    ({"sequence": SEQUENCE, "s3_key": "inputs/q.fa"}, "Give exactly one of 'sequence'"),
    ({"sequence": 42}, "Field 'sequence' must be a string"),
    ({"sequence": ""}, "must not be empty"),
    ({"sequence": SEQUENCE + "Z"}, f"found 'Z' at position {len(SEQUENCE) + 1}"),
    ({"sequence": "A" * 1_001}, "the limit is 1000 nt"),
    ({"sequence": "ACGT"}, "at least 23 nt"),
    ({"sequence": SEQUENCE, "max_mismatches": 6}, "must be at most 5"),
    ({"sequence": SEQUENCE, "max_mismatches": -1}, "must be at least 0"),
    ({"sequence": SEQUENCE, "max_mismatches": True}, "must be an integer"),
    ({"sequence": SEQUENCE, "genome": "no/such"}, "Field 'genome' must be"),
    ({"sequence": SEQUENCE, "genome": "hg38"}, "Genome 'hg38' is not loaded"),
    ({"s3_key": "genomes/synthetic-v1/manifest.json"}, "must be a key under inputs/"),
    ({"s3_key": "inputs/../genomes/x"}, "must be a key under inputs/"),
    ({"s3_key": "inputs/missing.fa"}, "No object 'inputs/missing.fa'"),
    ({"s3_key": "inputs/bad.fa"}, "found 'J' at position 3"),
    ({"s3_key": "inputs/huge.fa"}, "the limit is"),
    ([SEQUENCE], "body must be an object"),
])
def test_bad_requests_are_400_with_a_json_message(env: Any, body: Any, message: str) -> None:
    env.aws.s3.put_object(Bucket=env.aws.bucket, Key="inputs/bad.fa", Body=b">x\nACJT\n")
    env.aws.s3.put_object(Bucket=env.aws.bucket, Key="inputs/huge.fa", Body=b"A" * 100_000)
    status, answer = env.call(_event("post_job.json", body=body))
    assert status == 400, answer
    assert answer["code"] == 400
    assert message in answer["message"]
    assert answer["request-id"] == "Tb9mFhQqoAMEVxA="
    assert env.aws.jobs().scan()["Count"] == 0  # nothing queued


def test_malformed_json_is_400(env: Any) -> None:
    event = _event("post_job.json")
    event["body"] = "{not json"
    status, answer = env.call(event)
    assert (status, answer["message"]) == (400, "Request body is not valid JSON")


def test_get_job_and_404s(env: Any) -> None:
    _, job = env.call(_event("post_job.json", body={"sequence": SEQUENCE}))
    status, got = env.call(_event("get_job.json", pathParameters={"job_id": job["job_id"]}))
    assert status == 200 and got == job
    status, answer = env.call(_event("get_job.json"))  # a well-formed id nobody created
    assert (status, answer["code"]) == (404, 404)
    status, _ = env.call(_event("get_job.json", pathParameters={"job_id": "../../etc"}))
    assert status == 404
    status, _ = env.call(_event("list_targets.json"))
    assert status == 404


def _seed_targets(env: Any, job_id: str, n: int) -> None:
    with env.aws.targets().batch_writer() as batch:
        for i in range(1, n + 1):
            batch.put_item(Item={"job_id": job_id, "target_id": f"T{i:05d}", "position": i,
                                 "strand": "+", "protospacer": "A" * 20, "pam": "AGG",
                                 "gc": Decimal("0.5"), "activity": "high",
                                 "offtarget_counts": [1, 0, 0, 0],
                                 "specificity": Decimal("100.0"), "offtarget_hits": []})


def test_targets_are_paged_in_position_order(env: Any) -> None:
    _, job = env.call(_event("post_job.json", body={"sequence": SEQUENCE}))
    _seed_targets(env, job["job_id"], 7)
    event = _event("list_targets.json", pathParameters={"job_id": job["job_id"]},
                   queryStringParameters={"limit": "3"})
    seen, pages = [], 0
    while True:
        status, page = env.call(event)
        assert status == 200
        pages += 1
        seen.extend(t["target_id"] for t in page["targets"])
        if not page["next_token"]:
            break
        event = copy.deepcopy(event)
        event["queryStringParameters"]["next_token"] = page["next_token"]
    assert seen == [f"T{i:05d}" for i in range(1, 8)]
    assert pages >= 3
    assert page["status"] == "QUEUED"
    first = env.call(_event("list_targets.json", pathParameters={"job_id": job["job_id"]}))[1]
    assert first["targets"][0] == {
        "target_id": "T00001", "position": 1, "strand": "+", "protospacer": "A" * 20,
        "pam": "AGG", "gc": 0.5, "activity": "high", "offtarget_counts": [1, 0, 0, 0],
        "specificity": 100, "offtarget_hits": []}


@pytest.mark.parametrize(("query", "message"), [
    ({"limit": "0"}, "'limit' must be 1 to 500"),
    ({"limit": "x"}, "'limit' must be an integer"),
    ({"next_token": "!!!"}, "'next_token' is not valid"),
    ({"next_token": "eyJhIjogMX0="}, "'next_token' is not valid"),  # {"a": 1}
])
def test_bad_paging_parameters_are_400(env: Any, query: dict, message: str) -> None:
    _, job = env.call(_event("post_job.json", body={"sequence": SEQUENCE}))
    status, answer = env.call(_event("list_targets.json", pathParameters={"job_id": job["job_id"]},
                                     queryStringParameters=query))
    assert status == 400 and message in answer["message"]


def test_a_token_of_another_job_is_refused(env: Any) -> None:
    token = env.app.encode_token({"job_id": "f" * 32, "target_id": "T00001"})
    with pytest.raises(env.app.ValidationError):
        env.app.decode_token(token, "e" * 32)
    assert env.app.decode_token(token, "f" * 32) == {"job_id": "f" * 32, "target_id": "T00001"}


def test_unknown_route_is_404(env: Any) -> None:
    status, answer = env.call(_event("get_job.json", routeKey="DELETE /jobs/{job_id}"))
    assert status == 404 and "No route" in answer["message"]


def test_settings_from_env(api_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_SEQUENCE_LENGTH", "123")
    monkeypatch.setenv("DEFAULT_MAX_MISMATCHES", "2")
    monkeypatch.setenv("DEFAULT_GENOME", "g2")
    settings = api_app.Settings.from_env()
    assert (settings.max_sequence_length, settings.default_max_mismatches,
            settings.default_genome) == (123, 2, "g2")


def test_an_input_s3_refuses_is_400_like_a_missing_one(api_app: Any, aws: Any) -> None:
    class DeniedS3:
        def head_object(self, **kwargs: Any) -> Any:
            raise api_app.ClientError({"Error": {"Code": "403", "Message": "Forbidden"}},
                                      "HeadObject")

    store = api_app.JobStore(aws.dynamodb, DeniedS3(), aws.jobs_table, aws.targets_table,
                             aws.bucket)
    with pytest.raises(api_app.ValidationError, match="No object 'inputs/x.fa'"):
        store.read_input("inputs/x.fa", 1000)
    assert store.genome_loaded("synthetic-v1") is False
