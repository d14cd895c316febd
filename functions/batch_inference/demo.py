"""The batch_inference scenario for `localcloud demo`.

1. SampleDataFunction writes the shipped churn model and 8 generated customer files (CSV, gzip
   CSV, Parquet; 5,000 rows each) under inputs/demo/.
2. POST /inference-jobs with 4 shards; poll GET /inference-jobs/{id} until it ends; check it
   SUCCEEDED with the right counts, and that every output equals the model applied directly
   to the input read back from S3, and that each worker used two processes.
3. A manifest under manifests/ with a file that has no feature columns: the job ends FAILED
   after the bad shard was resubmitted twice, with the counts and the bad file named; the
   good shards' outputs are there.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

WORKER = Path(__file__).resolve().parent / "worker"


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def invoke(self, function: str, event: Any) -> Any: ...

    def http(self, method: str, url: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]: ...


def _worker_modules() -> tuple[Any, Any, Any]:
    if str(WORKER) not in sys.path:
        sys.path.insert(0, str(WORKER))
    import model_format
    import scoring
    import train_model
    return model_format, scoring, train_model


def wait_job(ctx: DemoContext, url: str, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, job = ctx.http("GET", url)
        if status == 200 and job["status"] not in ("SUBMITTED", "RUNNING"):
            return job
        if status not in (200, 404) or time.monotonic() > deadline:
            raise AssertionError(f"GET {url} answered {status}: {job}")
        time.sleep(0.5)


def run(ctx: DemoContext) -> None:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    api, bucket = ctx.outputs.get("ApiUrl"), ctx.outputs.get("DataBucketName")
    if not api or not bucket:
        raise AssertionError("stack outputs ApiUrl / DataBucketName are missing")
    model_format, scoring, train_model = _worker_modules()
    model = model_format.loads(train_model.SHIPPED.read_bytes())
    s3 = ctx.client("s3")

    sample = ctx.invoke("SampleDataFunction", {
        "input_prefix": "inputs/demo/", "files": 8, "rows": 5000, "seed": 3,
        "formats": ["csv", "csv.gz", "parquet"]})
    ctx.step(f"model {sample['model_key']} (test AUC {model.training['test_auc']}) and "
             f"{len(sample['files'])} input files, {sample['rows']:,} rows, written")

    status, job = ctx.http("POST", api + "inference-jobs", {
        "model_key": sample["model_key"], "input_prefix": "inputs/demo/",
        "output_prefix": "outputs/demo/", "shard_count": 4, "name": "demo"})
    if status != 202:
        raise AssertionError(f"POST /inference-jobs answered {status}: {job}")
    started = time.monotonic()
    job = wait_job(ctx, api + f"inference-jobs/{job['job_id']}")
    if job["status"] != "SUCCEEDED" or job["rows_scored"] != sample["rows"]:
        raise AssertionError(f"job ended {job['status']}: {job}")
    ctx.step(f"job {job['job_id'][:12]} SUCCEEDED in {time.monotonic() - started:.1f} s: "
             f"{job['files_scored']} files in {job['shards']} shards, "
             f"{job['rows_scored']:,} rows")

    processes = set()
    for shard in range(job["shards"]):
        report = json.loads(s3.get_object(
            Bucket=bucket, Key=f"jobs/{job['job_id']}/reports/{shard:05d}.json")["Body"].read())
        processes.add(report["processes"])
    for key in sample["files"]:
        fmt = scoring.file_format(key)
        source = scoring.read_table(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), fmt)
        out_key = "outputs/demo/" + key[len("inputs/demo/"):]
        out = scoring.read_table(s3.get_object(Bucket=bucket, Key=out_key)["Body"].read(), fmt)
        expected = model.predict(source[model.features].to_numpy(float))
        if len(out) != len(source) or not np.allclose(out["prediction"], expected, rtol=1e-12):
            raise AssertionError(f"{out_key} differs from the model applied to {key}")
    ctx.step(f"every output equals the model applied directly to its input; workers used "
             f"{sorted(processes)} processes each")

    good = scoring.read_table(s3.get_object(Bucket=bucket, Key=sample["files"][0])["Body"]
                              .read(), "csv")
    for i in range(3):
        buf = io.StringIO()
        good.iloc[i * 500:(i + 1) * 500].to_csv(buf, index=False)
        s3.put_object(Bucket=bucket, Key=f"inputs/demo-mixed/ok-{i}.csv",
                      Body=buf.getvalue().encode())
    s3.put_object(Bucket=bucket, Key="inputs/demo-mixed/zz-bad.csv",
                  Body=b"customer_id,comment\n" + b"C1,this file has no features\n" * 3000)
    etag = s3.put_object(Bucket=bucket, Key="manifests/demo-mixed.json", Body=json.dumps({
        "model_key": sample["model_key"], "input_prefix": "inputs/demo-mixed/",
        "output_prefix": "outputs/demo-mixed/", "shard_count": 2}).encode())["ETag"]
    job_id = hashlib.sha256(f"manifests/demo-mixed.json#{etag.strip(chr(34))}".encode()
                            ).hexdigest()[:32]
    ctx.step("manifest manifests/demo-mixed.json uploaded (3 good files, 1 without features)")
    job = wait_job(ctx, api + f"inference-jobs/{job_id}")
    failures = job.get("failures") or [{}]
    if (job["status"] != "FAILED" or job.get("files_failed") != 1
            or job.get("files_scored") != 3
            or failures[0].get("failed_files") != ["inputs/demo-mixed/zz-bad.csv"]):
        raise AssertionError(f"the mixed job should fail with one bad file: {job}")
    history = ctx.client("stepfunctions").get_execution_history(
        executionArn=job["execution_arn"], maxResults=1000)["events"]
    attempts = sum(1 for e in history if e["type"] == "TaskFailed"
                   and "ShardFailed" in json.dumps(e.get("taskFailedEventDetails", {})))
    if attempts != 3:
        raise AssertionError(f"the bad shard ran {attempts} times, expected 3")
    ctx.step(f"job {job_id[:12]} FAILED after the bad shard ran {attempts} times: "
             f"{job['files_scored']} files scored, {job['files_failed']} failed "
             f"({failures[0]['reason'][:80]}...)")
