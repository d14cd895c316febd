"""The bookkeeping steps of the job state machine (statemachines/batch_inference.asl.json).

Each Task sends {"step": <name>, "input": <state input>}:
- plan: list the input files, shard them by S3 key (whole files per shard, balanced by
  bytes), write one manifest per shard to S3, the job is RUNNING;
- finalize: add up the shards' results (a failed shard's last report included), the job is
  SUCCEEDED or FAILED with its counts; the output is the notification;
- fail: the job FAILED with the reason of an error the workflow caught (planning failed).

State payloads stay small (shard numbers and counts): file lists live in S3.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

STEPS = ("plan", "finalize", "fail")
SUFFIXES = (".csv", ".csv.gz", ".parquet")
MAX_REASON = 1000
MAX_LISTED_FAILURES = 20


class StepError(ValueError):
    """The job cannot go on (no input files, bad state input); retrying will not help."""


@dataclass(frozen=True)
class Settings:
    shard_count: int = 4
    max_concurrency: int = 4
    max_files: int = 100_000

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(shard_count=int(env.get("SHARD_COUNT", cls.shard_count)),
                   max_concurrency=int(env.get("SHARD_MAX_CONCURRENCY", cls.max_concurrency)),
                   max_files=int(env.get("MAX_FILES_PER_JOB", cls.max_files)))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def shard_files(files: list[tuple[str, int]], shards: int) -> list[list[tuple[str, int]]]:
    """Whole files into at most `shards` shards, as even in bytes as a greedy fill makes them.

    Largest files first, each to the lightest shard (ties: the lower shard), then each shard
    in key order. Deterministic for a given listing, so a re-run shards the same way.
    """
    count = max(1, min(shards, len(files)))
    buckets: list[list[tuple[str, int]]] = [[] for _ in range(count)]
    loads = [0] * count
    for key, size in sorted(files, key=lambda f: (-f[1], f[0])):
        target = min(range(count), key=lambda i: (loads[i], i))
        buckets[target].append((key, size))
        loads[target] += size
    return [sorted(b) for b in buckets if b]


def output_key(key: str, input_prefix: str, output_prefix: str) -> str:
    return output_prefix + key[len(input_prefix):]


def failure_reason(failure: Any) -> tuple[str, str]:
    """(error, reason) of a Catch's {"Error", "Cause"}; a Lambda Cause is JSON with
    errorMessage, other causes are plain text."""
    if not isinstance(failure, dict):
        return "JobFailed", "the workflow failed without an error description"
    error = str(failure.get("Error") or "JobFailed")
    cause = failure.get("Cause") if isinstance(failure.get("Cause"), str) else ""
    try:
        parsed = json.loads(cause) if cause else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        cause = str(parsed["errorMessage"])
    return error, (cause or error)[:MAX_REASON]


class Store:
    """The jobs table and the data bucket, behind the calls the steps make."""

    def __init__(self, dynamodb: Any, s3: Any, jobs_table: str, bucket: str) -> None:
        self.jobs = dynamodb.Table(jobs_table)
        self.s3 = s3
        self.bucket = bucket

    @classmethod
    def from_env(cls) -> Store:
        return cls(aws.resource("dynamodb"), aws.client("s3"),
                   os.environ.get("JOBS_TABLE", ""), os.environ.get("DATA_BUCKET", ""))

    def get_job(self, job_id: str) -> dict[str, Any]:
        item = self.jobs.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise StepError(f"no job {job_id!r}")
        return item

    def list_inputs(self, prefix: str, limit: int) -> list[tuple[str, int]]:
        files = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=prefix):
            for obj in page.get("Contents", []):
                if obj["Key"].lower().endswith(SUFFIXES) and obj["Size"] > 0:
                    files.append((obj["Key"], int(obj["Size"])))
                    if len(files) > limit:
                        raise StepError(f"more than {limit} input files under {prefix}; "
                                        "split the job")
        return files

    def put_json(self, key: str, value: Any) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(value).encode(),
                           ContentType="application/json")

    def read_json(self, key: str) -> Any | None:
        try:
            return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as err:
            if err.response["Error"]["Code"] in ("NoSuchKey", "404", "AccessDenied", "403"):
                return None
            raise

    def set_status(self, job_id: str, status: str, allowed_from: tuple[str, ...],
                   fields: dict[str, Any]) -> bool:
        """Move the job to `status` (from one of `allowed_from`) and set `fields`."""
        names = {"#status": "status", **{f"#{k}": k for k in fields}}
        values = {":status": status, ":now": _now(),
                  **{f":{k}": v for k, v in fields.items()},
                  **{f":from{i}": s for i, s in enumerate(allowed_from)}}
        sets = "".join(f", #{k} = :{k}" for k in fields)
        froms = ", ".join(f":from{i}" for i in range(len(allowed_from)))
        try:
            self.jobs.update_item(Key={"job_id": job_id},
                                  UpdateExpression=f"SET #status = :status, updated_at = :now"
                                                   f"{sets}",
                                  ConditionExpression=f"#status IN ({froms})",
                                  ExpressionAttributeNames=names,
                                  ExpressionAttributeValues=values)
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _require(data: Any, *names: str) -> dict[str, Any]:
    if not isinstance(data, dict) or any(data.get(n) is None for n in names):
        raise StepError(f"input must be an object with {', '.join(names)}")
    return data


def plan(data: Any, store: Store, settings: Settings) -> dict[str, Any]:
    """List and shard the job's input files; one manifest per shard in S3."""
    job_id = _require(data, "job_id")["job_id"]
    job = store.get_job(job_id)
    files = store.list_inputs(job["input_prefix"], settings.max_files)
    if not files:
        raise StepError(f"no .csv, .csv.gz or .parquet file under {job['input_prefix']}")
    wanted = int(job.get("shard_count") or settings.shard_count)
    shards = shard_files(files, wanted)
    for i, shard in enumerate(shards):
        store.put_json(f"jobs/{job_id}/shards/{i:05d}.json", {
            "job_id": job_id, "shard": i, "model_key": job["model_key"],
            "files": [{"key": key, "size": size,
                       "output_key": output_key(key, job["input_prefix"], job["output_prefix"])}
                      for key, size in shard]})
    total = sum(size for _, size in files)
    if not store.set_status(job_id, "RUNNING", ("SUBMITTED",), {
            "file_count": len(files), "bytes_total": total, "shard_count": len(shards),
            "shards_done": 0, "files_scored": 0, "rows_scored": 0, "started_at": _now()}):
        raise StepError(f"job {job_id} is no longer SUBMITTED")
    logger.info("Job planned", extra={"job_id": job_id, "files": len(files), "bytes": total,
                                      "shards": len(shards)})
    return {"job_id": job_id, "max_concurrency": settings.max_concurrency,
            "shards": [{"shard": i, "files": len(s), "bytes": sum(size for _, size in s)}
                       for i, s in enumerate(shards)]}


def _notification(job: dict[str, Any], status: str, counts: dict[str, int],
                  error: str | None, reason: str | None) -> dict[str, Any]:
    body = {"job_id": job["job_id"], "status": status, "name": job.get("name"),
            "model_key": job.get("model_key"), "input_prefix": job.get("input_prefix"),
            "output_prefix": job.get("output_prefix"), **counts}
    if error:
        body["error"] = {"error": error, "reason": reason}
    subject = f"Batch inference job {job['job_id'][:12]} {status}"
    out = {"job_id": job["job_id"], "status": status, "subject": subject,
           "message": json.dumps(body, default=str), "counts": counts}
    if error:
        out["error"], out["cause"] = error, reason
    return out


def finalize(data: Any, store: Store) -> dict[str, Any]:
    """Add up the shards; the job SUCCEEDED (every file scored) or FAILED with counts."""
    data = _require(data, "job_id", "shard_results")
    job_id, results = data["job_id"], data["shard_results"]
    job = store.get_job(job_id)
    counts = {"shards": len(results), "shards_succeeded": 0, "shards_failed": 0,
              "files": 0, "files_scored": 0, "files_failed": 0, "rows_scored": 0}
    failures = []
    for result in results:
        shard = int(result["shard"])
        report = result if result.get("status") == "SUCCEEDED" else (
            store.read_json(f"jobs/{job_id}/reports/{shard:05d}.json") or {})
        planned = int(result.get("files") or report.get("files") or 0)
        counts["files"] += planned
        counts["files_scored"] += int(report.get("files_scored", 0))
        counts["files_failed"] += planned - int(report.get("files_scored", 0))
        counts["rows_scored"] += int(report.get("rows_scored", 0))
        if result.get("status") == "SUCCEEDED":
            counts["shards_succeeded"] += 1
            continue
        counts["shards_failed"] += 1
        error, reason = failure_reason(result.get("error"))
        failures.append({"shard": shard, "error": error, "reason": reason,
                         "failed_files": [f["key"] for f in report.get("file_reports", [])
                                          if f.get("status") == "FAILED"][:MAX_LISTED_FAILURES]})
    status = "FAILED" if counts["shards_failed"] else "SUCCEEDED"
    fields: dict[str, Any] = {**counts, "finished_at": _now()}
    error = reason = None
    if failures:
        error = "ShardsFailed"
        reason = (f"{counts['shards_failed']} of {counts['shards']} shards failed after "
                  f"retries; first: shard {failures[0]['shard']}: {failures[0]['reason']}"
                  )[:MAX_REASON]
        fields["failures"] = failures[:MAX_LISTED_FAILURES]
        fields["error"] = {"error": error, "reason": reason}
    if not store.set_status(job_id, status, ("RUNNING",), fields):
        raise StepError(f"job {job_id} is no longer RUNNING")
    metrics.add_metric(name="JobsSucceeded" if status == "SUCCEEDED" else "JobsFailed",
                       unit="Count", value=1)
    metrics.add_metric(name="RowsScoredPerJob", unit="Count", value=counts["rows_scored"])
    logger.info("Job finished", extra={"job_id": job_id, "status": status, **counts})
    return _notification(job, status, counts, error, reason)


def fail(data: Any, store: Store) -> dict[str, Any]:
    """The job FAILED with the caught error's reason; the output is the notification."""
    data = _require(data, "job_id")
    job = store.get_job(data["job_id"])
    error, reason = failure_reason(data.get("failure"))
    store.set_status(job["job_id"], "FAILED", ("SUBMITTED", "RUNNING"),
                     {"error": {"error": error, "reason": reason}, "finished_at": _now()})
    logger.error("Job failed", extra={"job_id": job["job_id"], "error": error,
                                      "reason": reason})
    metrics.add_metric(name="JobsFailed", unit="Count", value=1)
    counts = {k: int(job.get(k, 0)) for k in ("file_count", "files_scored", "rows_scored")}
    return _notification(job, "FAILED", counts, error, reason)


def run_step(step: Any, data: Any, store: Store, settings: Settings) -> dict[str, Any]:
    if step == "plan":
        return plan(data, store, settings)
    if step == "finalize":
        return finalize(data, store)
    if step == "fail":
        return fail(data, store)
    raise StepError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")


STORE = Store.from_env()
SETTINGS = Settings.from_env()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: {"step": ..., "input": ...} -> the step's result."""
    if not isinstance(event, dict) or "step" not in event:
        raise StepError('the event must be {"step": <step>, "input": <state input>}')
    data = event.get("input")
    logger.append_keys(step=event["step"],
                       job_id=data.get("job_id") if isinstance(data, dict) else None)
    return run_step(event["step"], data, STORE, SETTINGS)
