"""The finder: a new job in the jobs table (its stream's INSERT) -> candidate sites -> scoring.

For each QUEUED job it finds every SpCas9 site of the sequence, writes them to the targets
table and to the data bucket (jobs/<id>/targets.json, which the workflow batches), marks the
job SCORING and starts the scoring workflow with the job id as the execution name.

Every step is idempotent (puts, a conditional status change, a named execution), so a record
delivered again does no harm. A record that fails for a transient reason is reported in the
partial batch response and retried; a job that can never run (no usable sequence) is marked
FAILED with the reason and its record counts as processed.
"""

from __future__ import annotations

import json
import os
import re
import time
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from botocore.exceptions import ClientError
from cas9_sites import Candidate, find_candidates

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

_SEQUENCE = re.compile(r"[ACGTN]{23,}")


class JobStore:
    """What the finder reads and writes: tables, the data bucket and the state machine."""

    def __init__(self, dynamodb: Any, s3: Any, sfn: Any, jobs_table: str, targets_table: str,
                 bucket: str, state_machine_arn: str) -> None:
        self.jobs = dynamodb.Table(jobs_table)
        self.targets = dynamodb.Table(targets_table)
        self.s3 = s3
        self.sfn = sfn
        self.bucket = bucket
        self.state_machine_arn = state_machine_arn

    @classmethod
    def from_env(cls) -> JobStore:
        env = os.environ
        return cls(aws.resource("dynamodb"), aws.client("s3"), aws.client("stepfunctions"),
                   env.get("JOBS_TABLE", ""), env.get("TARGETS_TABLE", ""),
                   env.get("DATA_BUCKET", ""), env.get("STATE_MACHINE_ARN", ""))

    def write_targets(self, job_id: str, candidates: list[Candidate], expires_at: Any) -> None:
        with self.targets.batch_writer() as batch:
            for c in candidates:
                item = {**c.to_dict(), "job_id": job_id, "gc": Decimal(str(c.gc))}
                if expires_at is not None:
                    item["expires_at"] = expires_at
                batch.put_item(Item=item)
        payload = {"job_id": job_id, "targets": [c.to_dict() for c in candidates]}
        self.s3.put_object(Bucket=self.bucket, Key=f"jobs/{job_id}/targets.json",
                           Body=json.dumps(payload).encode(), ContentType="application/json")

    def mark(self, job_id: str, status: str, allowed_from: tuple[str, ...],
             **fields: Any) -> bool:
        """Set the job's status (and `fields`) if it is now one of `allowed_from`."""
        values = {f":{name}": value for name, value in fields.items()}
        sets = ", ".join(f"#{name} = :{name}" for name in fields)
        names = {f"#{name}": name for name in fields}
        allowed = {f":from{i}": s for i, s in enumerate(allowed_from)}
        try:
            self.jobs.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET #status = :status, updated_at = :now"
                                 + (f", {sets}" if sets else ""),
                ConditionExpression=f"#status IN ({', '.join(allowed)})",
                ExpressionAttributeNames={"#status": "status", **names},
                ExpressionAttributeValues={":status": status, ":now": _now(), **values,
                                           **allowed},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def execution_arn(self, job_id: str) -> str:
        # arn:aws:states:<region>:<account>:stateMachine:<name> -> ...:execution:<name>:<job>
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"

    def start_scoring(self, job_id: str) -> None:
        try:
            self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=job_id,
                                     input=json.dumps({"job_id": job_id}))
        except ClientError as err:
            if err.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            logger.info("Scoring already started", extra={"job_id": job_id})


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def process_job(image: dict[str, Any], store: JobStore) -> str:
    """Find the targets of one new job and start its scoring; returns what happened."""
    job_id = image.get("job_id")
    if not isinstance(job_id, str) or image.get("status") != "QUEUED":
        return "skipped"
    sequence = image.get("sequence")
    if not isinstance(sequence, str) or not _SEQUENCE.fullmatch(sequence):
        reason = "the job has no usable sequence (23+ nt of A, C, G, T or N)"
        store.mark(job_id, "FAILED", ("QUEUED",), error={"error": "InvalidJob", "reason": reason})
        logger.error("Job failed", extra={"job_id": job_id, "reason": reason})
        metrics.add_metric(name="JobsFailed", unit="Count", value=1)
        return "failed"
    candidates = find_candidates(sequence)
    if not candidates:
        store.mark(job_id, "DONE", ("QUEUED",), target_count=0)
        logger.info("Job has no candidate sites", extra={"job_id": job_id})
        return "done"
    store.write_targets(job_id, candidates, image.get("expires_at"))
    if not store.mark(job_id, "SCORING", ("QUEUED", "SCORING"), target_count=len(candidates),
                      execution_arn=store.execution_arn(job_id)):
        return "skipped"  # an earlier delivery already took the job further
    store.start_scoring(job_id)
    logger.info("Targets found, scoring started",
                extra={"job_id": job_id, "targets": len(candidates)})
    metrics.add_metric(name="TargetsFound", unit="Count", value=len(candidates))
    return "scoring"


STORE = JobStore.from_env()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> str:
    """One stream record; only INSERTs are jobs to run (the template's filter says the same)."""
    if record.event_name is None or record.event_name.name != "INSERT":
        return "skipped"
    return process_job(record.dynamodb.new_image, STORE)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: a DynamoDB stream batch -> a partial batch response."""
    metrics.add_metric(name="JobStreamRecords", unit="Count",
                       value=len(event.get("Records") or []))
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=processor, context=context)
