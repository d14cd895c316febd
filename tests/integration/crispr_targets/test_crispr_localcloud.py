"""crispr_targets end to end on localcloud: HTTP API -> jobs table stream -> finder -> Step
Functions Map (moto's ASL interpreter) -> targets, against a brute-force reference."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS = ROOT / "functions" / "crispr_targets"
GENOME = json.loads((ROOT / "events" / "crispr_targets" / "genome_synthetic.json").read_text())
SMALL_GENOME = {"genome_id": "broken", "seed": 3, "length": 40_000, "chunk_size": 10_000,
                "query_length": 300}


def _module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


brute_force = _module(FUNCTIONS / "genome" / "brute_force.py", "crispr_it_brute_force")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


@pytest.fixture(scope="module")
def env() -> Iterator[SimpleNamespace]:
    cloud = LocalCloud(aws_port=0, api_port=_free_port(), quiet=True).start()
    try:
        cloud.deploy(apps={"crispr_targets"})
        cloud.start_api()
        cloud.start_delivery()
        outputs = cloud.outputs()["crispr_targets"]
        genome_fn = cloud.find_function("crispr_targets/GenomeFunction").name
        loaded = cloud.invoke(genome_fn, GENOME)
        assert loaded.ok, loaded.error
        yield SimpleNamespace(cloud=cloud, outputs=outputs, api=outputs["ApiUrl"],
                              genome=json.loads(loaded.payload), genome_fn=genome_fn)
    finally:
        cloud.stop()


def wait_job(env: SimpleNamespace, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, job = http("GET", env.api + f"jobs/{job_id}")
        assert status == 200, job
        if job["status"] in ("DONE", "FAILED"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.3)


def targets_of(env: SimpleNamespace, job_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    url = env.api + f"jobs/{job_id}/targets?limit=20"
    while True:
        status, page = http("GET", url)
        assert status == 200, page
        out.extend(page["targets"])
        if not page["next_token"]:
            return out
        url = env.api + f"jobs/{job_id}/targets?limit=20&next_token={page['next_token']}"


def genome_text(env: SimpleNamespace, genome_id: str) -> str:
    s3, bucket = env.cloud.client("s3"), env.outputs["DataBucketName"]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"genomes/{genome_id}/manifest.json")
                          ["Body"].read())
    return "".join(s3.get_object(Bucket=bucket, Key=c["key"])["Body"].read().decode()[:c["core"]]
                   for c in manifest["chunks"])


def history(env: SimpleNamespace, execution_arn: str) -> list[dict[str, Any]]:
    sfn = env.cloud.client("stepfunctions")
    events, kwargs = [], {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def test_outputs_point_at_the_local_api(env: SimpleNamespace) -> None:
    assert env.api == f"http://127.0.0.1:{env.cloud.api_port}/crispr_targets/"
    for name in ("JobsTableName", "TargetsTableName", "DataBucketName", "ScoringStateMachineArn"):
        assert env.outputs[name]


@pytest.mark.slow
def test_fasta_job_counts_equal_the_brute_force_on_the_synthetic_genome(
        env: SimpleNamespace) -> None:
    status, job = http("POST", env.api + "jobs", {"s3_key": env.genome["query_key"]})
    assert status == 202 and job["status"] == "QUEUED"
    job = wait_job(env, job["job_id"])
    assert job["status"] == "DONE", job.get("error")
    targets = targets_of(env, job["job_id"])
    assert len(targets) == job["target_count"] > 40
    assert {t["strand"] for t in targets} == {"+", "-"}
    assert job["comparisons"] == len(targets) * env.genome["chunk_count"]

    genome = genome_text(env, GENOME["genome_id"])
    assert len(genome) == GENOME["length"]
    ref = brute_force.brute_force(genome, [t["protospacer"] for t in targets], 3)
    for target, r in zip(targets, ref, strict=True):
        assert target["offtarget_counts"] == r["counts"], target["target_id"]
        hits = [(h["position"], h["strand"], h["mismatches"]) for h in target["offtarget_hits"]]
        assert hits == r["hits"][:20], target["target_id"]
    # The planted guides: own site + exact copy, 1-, 2- (one via an N) and 3-mismatch plants.
    query_start = env.genome["query"]["start"]
    for guide in env.genome["guides"]:
        target = next(t for t in targets if t["protospacer"] == guide["protospacer"])
        assert (target["position"], target["strand"]) == (
            guide["position"] - query_start + 1, guide["strand"])
        assert target["offtarget_counts"] == [2, 1, 2, 1]

    # One execution, named after the job: a Map item per (batch, chunk), all succeeded.
    sfn = env.cloud.client("stepfunctions")
    described = sfn.describe_execution(executionArn=job["execution_arn"])
    assert described["status"] == "SUCCEEDED"
    events = history(env, job["execution_arn"])
    iterations = [e for e in events if e["type"] == "MapIterationSucceeded"]
    assert len(iterations) == job["comparisons"] // len(targets) * -(-len(targets) // 50)


def test_inline_sequence_with_k0(env: SimpleNamespace) -> None:
    guide = env.genome["guides"][0]
    sequence = guide["protospacer"] + "TGG" + "ACGTACGTAC"
    status, job = http("POST", env.api + "jobs", {"sequence": sequence, "max_mismatches": 0})
    assert status == 202
    job = wait_job(env, job["job_id"])
    assert job["status"] == "DONE"
    targets = targets_of(env, job["job_id"])
    assert len(targets) == job["target_count"]
    target = targets[0]
    assert (target["position"], target["strand"], target["protospacer"], target["pam"]) == (
        1, "+", guide["protospacer"], "TGG")
    assert all(len(t["offtarget_counts"]) == 1 for t in targets)
    assert target["offtarget_counts"] == [2]  # its own site and the planted exact copy
    assert target["specificity"] == 50


def test_a_sequence_without_sites_is_done_with_no_targets(env: SimpleNamespace) -> None:
    status, job = http("POST", env.api + "jobs", {"sequence": "ACGT" * 20})
    assert status == 202
    job = wait_job(env, job["job_id"], timeout=30)
    assert (job["status"], job["target_count"]) == ("DONE", 0)
    assert "execution_arn" not in job
    assert targets_of(env, job["job_id"]) == []


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"sequence": "ACGTACGTACGTNNACGTACGTAQGG"}, 400, "found 'Q' at position 24"),
    ({"sequence": ""}, 400, "must not be empty"),
    ({"sequence": "ACGT" * 5_001}, 400, "the limit is 20000 nt"),
    ({"sequence": "ACGTACGT"}, 400, "at least 23 nt"),
    ({"sequence": "ACGT" * 10, "genome": "hg38"}, 400, "Genome 'hg38' is not loaded"),
    ({"sequence": "ACGT" * 10, "max_mismatches": 9}, 400, "must be at most 5"),
    ({"s3_key": "inputs/none.fa"}, 400, "No object 'inputs/none.fa'"),
    ({}, 400, "Give exactly one of"),
])
def test_bad_submissions_are_400_and_queue_nothing(env: SimpleNamespace, body: dict,
                                                   status: int, message: str) -> None:
    got, answer = http("POST", env.api + "jobs", body)
    assert got == status, answer
    assert answer["code"] == status and message in answer["message"]
    assert answer["request-id"]


def test_bad_json_unknown_job_and_bad_token(env: SimpleNamespace) -> None:
    status, answer = http("POST", env.api + "jobs", raw=b"{nope")
    assert (status, answer["message"]) == (400, "Request body is not valid JSON")
    status, answer = http("GET", env.api + "jobs/" + "a" * 32)
    assert (status, answer["code"]) == (404, 404)
    status, job = http("POST", env.api + "jobs", {"sequence": "ACGT" * 10})
    status, answer = http("GET", env.api + f"jobs/{job['job_id']}/targets?next_token=xyz")
    assert status == 400 and "next_token" in answer["message"]


def test_a_failing_chunk_is_retried_then_the_job_fails_with_the_reason(
        env: SimpleNamespace) -> None:
    loaded = env.cloud.invoke(env.genome_fn, SMALL_GENOME)
    assert loaded.ok, loaded.error
    s3, bucket = env.cloud.client("s3"), env.outputs["DataBucketName"]
    missing = "genomes/broken/chunks/00002.txt"
    s3.delete_object(Bucket=bucket, Key=missing)
    guide = json.loads(loaded.payload)["guides"][0]["protospacer"]
    status, job = http("POST", env.api + "jobs", {"sequence": guide + "AGG",
                                                  "genome": "broken"})
    assert status == 202
    job = wait_job(env, job["job_id"], timeout=60)
    assert job["status"] == "FAILED"
    assert job["error"] == {"error": "ChunkUnavailable",
                            "reason": f"genome chunk {missing} is missing"}
    sfn = env.cloud.client("stepfunctions")
    described = sfn.describe_execution(executionArn=job["execution_arn"])
    assert described["status"] == "FAILED"
    assert (described["error"], described["cause"]) == ("ChunkUnavailable",
                                                        f"genome chunk {missing} is missing")
    events = history(env, job["execution_arn"])
    failed = [e for e in events if e["type"] == "TaskFailed"]
    assert len(failed) == 3  # the first attempt and two retries of the same item
    assert all(e["taskFailedEventDetails"]["error"] == "ChunkUnavailable" for e in failed)


def test_nothing_went_to_the_finder_dlq(env: SimpleNamespace) -> None:
    sqs = env.cloud.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=env.outputs["FinderDLQUrl"],
                                     AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"


@pytest.mark.slow
def test_demo_passes() -> None:
    out = subprocess.run([sys.executable, "-m", "localcloud.cli", "demo", "crispr_targets"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[crispr_targets] PASSED" in out.stdout
    assert "counts of 6 targets equal the brute force" in out.stdout
