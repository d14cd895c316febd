"""The worker as a container job, for inputs too large for Lambda (the seed's >1 TB case).

Two modes, the same scoring code as the Lambda worker:

SageMaker Processing (ShardedByS3Key: SageMaker copies each instance's share of the input
files to a local folder, and the output folder back to S3):

    python container.py local --model /opt/ml/processing/model/model.npz \
        --input /opt/ml/processing/input --output /opt/ml/processing/output

AWS Batch (or ECS) in place of the state machine's Lambda task, same shard manifests:

    DATA_BUCKET=... JOBS_TABLE=... python container.py shard --job-id <id> --shard <n>

Both print a JSON summary on stdout and exit 1 when any file failed (the job system's retry
then resubmits it). `--processes` defaults to every core of the instance.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import model_format
import shard
from process_pool import run_tasks
from scoring import SUFFIXES, score_bytes

_local_model: model_format.Model | None = None


def _score_local(task: dict[str, str]) -> dict[str, Any]:
    assert _local_model is not None
    src, dst = Path(task["src"]), Path(task["dst"])
    scored = score_bytes(_local_model, src.read_bytes(), src.name)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    tmp.write_bytes(scored.data)
    tmp.replace(dst)  # a reader never sees half a file
    return {"rows": scored.rows, "missing": scored.missing, "pid": os.getpid()}


def run_local(model_path: Path, input_dir: Path, output_dir: Path,
              processes: int = 0) -> dict[str, Any]:
    """Score every input file under input_dir into the same relative path under output_dir."""
    global _local_model
    _local_model = model_format.loads(model_path.read_bytes())
    files = sorted(p for p in input_dir.rglob("*")
                   if p.is_file() and p.name.lower().endswith(SUFFIXES))
    tasks = [{"src": str(p), "dst": str(output_dir / p.relative_to(input_dir))} for p in files]
    started = time.perf_counter()
    outcomes = run_tasks(_score_local, tasks, processes)
    reports = []
    for task, outcome in zip(tasks, outcomes, strict=True):
        report: dict[str, Any] = {"file": task["src"], "status": "SCORED" if outcome.ok
                                  else "FAILED"}
        if outcome.ok:
            report.update(outcome.value)
        else:
            report["error"] = f"{outcome.error_type}: {outcome.error}"
        reports.append(report)
    scored = [r for r in reports if r["status"] == "SCORED"]
    return {"files": len(reports), "files_scored": len(scored),
            "files_failed": len(reports) - len(scored),
            "rows_scored": sum(r["rows"] for r in scored),
            "processes": len({r["pid"] for r in scored}),
            "seconds": round(time.perf_counter() - started, 3), "file_reports": reports}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    local = modes.add_parser("local", help="score local folders (SageMaker Processing)")
    local.add_argument("--model", type=Path, default=Path("/opt/ml/processing/model/model.npz"))
    local.add_argument("--input", type=Path, default=Path("/opt/ml/processing/input"))
    local.add_argument("--output", type=Path, default=Path("/opt/ml/processing/output"))
    local.add_argument("--processes", type=int, default=0)
    remote = modes.add_parser("shard", help="score one shard of a job from S3 (AWS Batch)")
    remote.add_argument("--job-id", required=True)
    remote.add_argument("--shard", type=int, required=True)
    remote.add_argument("--processes", type=int, default=0)
    args = parser.parse_args(argv)
    if args.mode == "local":
        summary = run_local(args.model, args.input, args.output, args.processes)
        print(json.dumps(summary))
        return 1 if summary["files_failed"] else 0
    settings = shard.Settings.from_env()
    settings = shard.Settings(bucket=settings.bucket, processes=args.processes,
                              max_file_bytes=sys.maxsize)  # no Lambda memory limit here
    try:
        summary = shard.score_shard(args.job_id, args.shard, settings)
    except shard.ShardFailed as err:
        print(json.dumps({"job_id": args.job_id, "shard": args.shard, "status": "FAILED",
                          "error": str(err)}))
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
