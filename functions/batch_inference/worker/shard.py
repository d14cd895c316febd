"""Score one shard (a list of whole input files) with every core: the worker's logic.

Used by the Lambda worker (app.py) and by the container entry point (container.py) in its
S3 mode. The model is read from S3 once per execution environment (cached by key and ETag)
and shared with the forked scoring processes; each process opens its own S3 client, since a
client must not cross a fork.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from model_format import Model, ModelError, loads
from process_pool import Outcome, run_tasks
from scoring import InputFileError, score_bytes

S3_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class ShardFailed(RuntimeError):
    """Some files of the shard could not be scored; the state machine resubmits the shard."""


@dataclass(frozen=True)
class Settings:
    bucket: str
    processes: int = 0  # 0 = every core
    max_file_bytes: int = 512 * 1024 * 1024

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(bucket=env.get("DATA_BUCKET", ""),
                   processes=int(env.get("WORKER_PROCESSES", "0") or 0),
                   max_file_bytes=int(env.get("MAX_FILE_BYTES", cls.max_file_bytes)))


# Per process: the model (set before the fork, so children inherit it) and an S3 client.
_model: tuple[str, str, Model] | None = None
_s3: tuple[int, Any] | None = None


def s3_client() -> Any:
    """This process's S3 client (a forked child builds its own)."""
    global _s3
    if _s3 is None or _s3[0] != os.getpid():
        _s3 = (os.getpid(), boto3.session.Session().client("s3", config=S3_CONFIG))
    return _s3[1]


def load_model(bucket: str, key: str) -> Model:
    """The model artifact at s3://bucket/key, read once per environment (and per new ETag)."""
    global _model
    s3 = s3_client()
    try:
        etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    except s3.exceptions.ClientError as err:
        raise ModelError(f"model artifact {key} cannot be read: "
                         f"{err.response['Error']['Code']}") from err
    if _model is None or _model[:2] != (key, etag):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        _model = (key, etag, loads(body))
    return _model[2]


def score_task(task: dict[str, Any]) -> dict[str, Any]:
    """Score one file (runs in a pool process): read, predict, write; a summary back."""
    assert _model is not None, "load_model runs before the pool starts"
    model = _model[2]
    started = time.perf_counter()
    if task["size"] > task["max_bytes"]:
        raise InputFileError(f"{task['size']} bytes is over this worker's {task['max_bytes']} "
                             "byte limit; run the job on the container worker")
    s3 = s3_client()
    body = s3.get_object(Bucket=task["bucket"], Key=task["key"])["Body"].read()
    scored = score_bytes(model, body, task["key"])
    s3.put_object(Bucket=task["bucket"], Key=task["output_key"], Body=scored.data)
    return {"rows": scored.rows, "missing": scored.missing, "pid": os.getpid(),
            "ms": round((time.perf_counter() - started) * 1000, 1)}


def file_report(task: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    report = {"key": task["key"], "output_key": task["output_key"],
              "status": "SCORED" if outcome.ok else "FAILED"}
    if outcome.ok:
        report.update(outcome.value)
    else:
        report["error"] = f"{outcome.error_type}: {outcome.error}"[:500]
    return report


def report_key(job_id: str, shard: int) -> str:
    return f"jobs/{job_id}/reports/{shard:05d}.json"


def manifest_key(job_id: str, shard: int) -> str:
    return f"jobs/{job_id}/shards/{shard:05d}.json"


def score_shard(job_id: str, shard: int, settings: Settings) -> dict[str, Any]:
    """Score every file of the shard; the report goes to S3 whatever happens to the files.

    Returns the shard's summary, or raises ShardFailed (after writing the report) when any
    file failed, so that the state machine resubmits the shard and finally reports it.
    """
    s3 = s3_client()
    manifest = json.loads(s3.get_object(Bucket=settings.bucket,
                                        Key=manifest_key(job_id, shard))["Body"].read())
    load_model(settings.bucket, manifest["model_key"])
    tasks = [{"bucket": settings.bucket, "key": f["key"], "size": int(f["size"]),
              "output_key": f["output_key"], "max_bytes": settings.max_file_bytes}
             for f in manifest["files"]]
    started = time.perf_counter()
    outcomes = run_tasks(score_task, tasks, settings.processes)
    files = [file_report(t, o) for t, o in zip(tasks, outcomes, strict=True)]
    scored = [f for f in files if f["status"] == "SCORED"]
    failed = [f for f in files if f["status"] == "FAILED"]
    summary = {
        "job_id": job_id, "shard": shard, "status": "FAILED" if failed else "SUCCEEDED",
        "files": len(files), "files_scored": len(scored), "files_failed": len(failed),
        "rows_scored": sum(f["rows"] for f in scored),
        "rows_missing_features": sum(f["missing"] for f in scored),
        "processes": len({f["pid"] for f in scored}) or 0,
        "seconds": round(time.perf_counter() - started, 3),
    }
    s3.put_object(Bucket=settings.bucket, Key=report_key(job_id, shard),
                  Body=json.dumps({**summary, "file_reports": files}).encode(),
                  ContentType="application/json")
    if failed:
        names = "; ".join(f"{f['key']}: {f['error']}" for f in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise ShardFailed(f"shard {shard}: {len(failed)} of {len(files)} files failed: "
                          f"{names}{more}"[:2000])
    return summary
