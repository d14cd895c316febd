"""The Lambda worker: one Map iteration of the state machine scores one shard.

Event: {"job_id": "...", "shard": 0}. The shard's manifest (jobs/<id>/shards/<n>.json) lists
its files; shard.py scores them with a process per core and writes a report. On success the
job's progress counters grow by this shard's counts; on failure ShardFailed is raised (after
the report is written) and the state machine resubmits the shard, then reports it.
"""

from __future__ import annotations

import os
import time
from typing import Any

from shard import Settings, score_shard

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

SETTINGS = Settings.from_env()
jobs = aws.resource("dynamodb").Table(os.environ.get("JOBS_TABLE", "jobs"))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def record_progress(table: Any, summary: dict[str, Any]) -> None:
    """Add a finished shard's counts to its job (ADD is atomic across concurrent shards)."""
    table.update_item(
        Key={"job_id": summary["job_id"]},
        UpdateExpression="ADD shards_done :one, files_scored :files, rows_scored :rows "
                         "SET updated_at = :now",
        ConditionExpression="attribute_exists(job_id)",
        ExpressionAttributeValues={":one": 1, ":files": summary["files_scored"],
                                   ":rows": summary["rows_scored"], ":now": _now()})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: {"job_id", "shard"} -> the shard's summary (or ShardFailed)."""
    job_id, shard = str(event["job_id"]), int(event["shard"])
    logger.append_keys(job_id=job_id, shard=shard)
    summary = score_shard(job_id, shard, SETTINGS)
    record_progress(jobs, summary)
    metrics.add_metric(name="RowsScored", unit="Count", value=summary["rows_scored"])
    logger.info("Shard scored", extra=summary)
    return summary
