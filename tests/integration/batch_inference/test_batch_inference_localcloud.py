"""batch_inference end to end on localcloud: API / S3 manifest -> jobs table -> Step Functions
(moto's ASL interpreter) -> Map of Lambda workers with a process pool -> outputs, SNS."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

WORKER = Path(__file__).resolve().parents[3] / "functions" / "batch_inference" / "worker"
if str(WORKER) not in sys.path:
    sys.path.insert(0, str(WORKER))

import model_format  # noqa: E402
import scoring  # noqa: E402
import train_model  # noqa: E402

MODEL = model_format.loads(train_model.SHIPPED.read_bytes())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
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
        cloud.deploy(apps={"batch_inference"})
        cloud.start_api()
        cloud.start_delivery()
        outputs = cloud.outputs()["batch_inference"]
        sqs, sns = cloud.client("sqs"), cloud.client("sns")
        queue = sqs.create_queue(QueueName="bi-notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=outputs["NotificationTopicArn"], Protocol="sqs",
                      Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        sample = cloud.find_function("batch_inference/SampleDataFunction").name
        written = cloud.invoke(sample, {"files": 6, "rows": 3000, "seed": 21,
                                        "formats": ["csv", "csv.gz", "parquet"]})
        assert written.ok, written.error
        yield SimpleNamespace(cloud=cloud, outputs=outputs, api=outputs["ApiUrl"],
                              s3=cloud.client("s3"), bucket=outputs["DataBucketName"],
                              sqs=sqs, queue=queue, sample=json.loads(written.payload))
    finally:
        cloud.stop()


def wait_job(env: SimpleNamespace, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, job = http("GET", env.api + f"inference-jobs/{job_id}")
        if status == 200 and job["status"] not in ("SUBMITTED", "RUNNING"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job}"
        time.sleep(0.3)


def notifications(env: SimpleNamespace, job_id: str, timeout: float = 10.0) -> list[dict]:
    deadline, found = time.monotonic() + timeout, []
    while not found and time.monotonic() < deadline:
        for msg in env.sqs.receive_message(QueueUrl=env.queue, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(msg["Body"])
            if body.get("job_id") == job_id:
                found.append(body)
    return found


def read(env: SimpleNamespace, key: str) -> pd.DataFrame:
    data = env.s3.get_object(Bucket=env.bucket, Key=key)["Body"].read()
    return scoring.read_table(data, scoring.file_format(key))


def test_a_job_scores_every_file_as_the_model_does_directly(env: SimpleNamespace) -> None:
    status, job = http("POST", env.api + "inference-jobs", {
        "model_key": env.sample["model_key"], "input_prefix": env.sample["input_prefix"],
        "output_prefix": "outputs/it/", "shard_count": 3, "name": "it"})
    assert status == 202, job
    job = wait_job(env, job["job_id"])
    assert job["status"] == "SUCCEEDED", job
    assert (job["files"], job["files_scored"], job["files_failed"]) == (6, 6, 0)
    assert (job["shards"], job["shards_succeeded"], job["rows_scored"]) == (3, 3, 18_000)
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]
    for key in env.sample["files"]:
        source = read(env, key)
        out = read(env, "outputs/it/" + key[len(env.sample["input_prefix"]):])
        pd.testing.assert_frame_equal(out[source.columns], source, check_dtype=False)
        np.testing.assert_allclose(out["prediction"].to_numpy(),
                                   MODEL.predict(source[MODEL.features].to_numpy(float)),
                                   rtol=1e-12)
    for shard in range(3):
        report = json.loads(env.s3.get_object(
            Bucket=env.bucket, Key=f"jobs/{job['job_id']}/reports/{shard:05d}.json")[
            "Body"].read())
        assert report["processes"] == 2, report  # both files of the shard, both cores
    (note,) = notifications(env, job["job_id"])
    assert note["status"] == "SUCCEEDED" and note["rows_scored"] == 18_000


def test_a_failing_shard_is_resubmitted_then_reported(env: SimpleNamespace) -> None:
    good = read(env, env.sample["files"][0])
    for i in range(3):
        buf = io.StringIO()
        good.iloc[i * 100:(i + 1) * 100].to_csv(buf, index=False)
        env.s3.put_object(Bucket=env.bucket, Key=f"inputs/mixed/ok-{i}.csv",
                          Body=buf.getvalue().encode())
    # Large enough to get a shard of its own: the shards balance bytes.
    env.s3.put_object(Bucket=env.bucket, Key="inputs/mixed/zz-bad.csv",
                      Body=b"customer_id,note\n" + b"C1,no features here\n" * 2000)
    status, job = http("POST", env.api + "inference-jobs", {
        "model_key": env.sample["model_key"], "input_prefix": "inputs/mixed/",
        "output_prefix": "outputs/mixed/", "shard_count": 2})
    assert status == 202, job
    job = wait_job(env, job["job_id"])
    assert job["status"] == "FAILED"
    assert (job["shards_failed"], job["shards_succeeded"]) == (1, 1)
    assert (job["files"], job["files_scored"], job["files_failed"]) == (4, 3, 1)
    assert job["rows_scored"] == 300
    (failure,) = job["failures"]
    assert failure["failed_files"] == ["inputs/mixed/zz-bad.csv"]
    assert "missing feature column" in failure["reason"]
    for i in range(3):
        assert len(read(env, f"outputs/mixed/ok-{i}.csv")) == 100
    history = env.cloud.client("stepfunctions").get_execution_history(
        executionArn=job["execution_arn"], maxResults=1000)["events"]
    failed_attempts = [e for e in history if e["type"] == "TaskFailed"
                       and "ShardFailed" in json.dumps(e.get("taskFailedEventDetails", {}))]
    assert len(failed_attempts) == 3  # the first run and two resubmissions
    execution = env.cloud.client("stepfunctions").describe_execution(
        executionArn=job["execution_arn"])
    assert execution["status"] == "FAILED" and execution["error"] == "ShardsFailed"
    (note,) = notifications(env, job["job_id"])
    assert note["status"] == "FAILED" and note["files_failed"] == 1


def test_a_manifest_upload_is_a_job_and_a_bad_one_is_rejected(env: SimpleNamespace) -> None:
    body = {"model_key": env.sample["model_key"], "input_prefix": env.sample["input_prefix"],
            "output_prefix": "outputs/manifest/", "shard_count": 1}
    etag = env.s3.put_object(Bucket=env.bucket, Key="manifests/nightly.json",
                             Body=json.dumps(body).encode())["ETag"]

    job_id = hashlib.sha256(f"manifests/nightly.json#{etag.strip(chr(34))}".encode()
                            ).hexdigest()[:32]
    job = wait_job(env, job_id)
    assert job["status"] == "SUCCEEDED" and job["source"].endswith("manifests/nightly.json")
    assert job["rows_scored"] == 18_000 and job["shards"] == 1
    etag = env.s3.put_object(Bucket=env.bucket, Key="manifests/broken.json",
                             Body=b"{not json")["ETag"]
    job_id = hashlib.sha256(f"manifests/broken.json#{etag.strip(chr(34))}".encode()
                            ).hexdigest()[:32]
    job = wait_job(env, job_id, timeout=30)
    assert job["status"] == "REJECTED" and "not JSON" in job["error"]["reason"]
    (note,) = notifications(env, job_id)
    assert note["status"] == "REJECTED"


def test_bad_requests_are_400_with_the_field(env: SimpleNamespace) -> None:
    status, body = http("POST", env.api + "inference-jobs", {
        "model_key": "models/none.npz", "input_prefix": "inputs/sample/",
        "output_prefix": "outputs/x/"})
    assert status == 400 and body["field"] == "model_key" and "No model artifact" in body[
        "message"]
    status, body = http("POST", env.api + "inference-jobs", {
        "model_key": env.sample["model_key"], "input_prefix": "inputs/",
        "output_prefix": "inputs/out/"})
    assert status == 400 and body["field"] == "output_prefix"
    assert http("GET", env.api + "inference-jobs/nope")[0] == 404
