"""The S3 trigger: a JSON manifest uploaded under manifests/ submits a job.

The manifest holds the same fields as POST /inference-jobs. The job id is derived from the
manifest's key and ETag, so a redelivered notification finds its job and starts nothing
again. A manifest that is not a valid job is recorded as a REJECTED job with the reason and
announced on the topic (the manifest stays where it is); an error that may pass (S3, DynamoDB,
Step Functions) is raised, so Lambda retries the event and finally sends it to the on-failure
queue.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from jobs import JobService, manifest_job_id, parse_request

from common import aws
from common.http import HttpError
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

MAX_MANIFEST_BYTES = 64 * 1024

service = JobService(
    table=aws.resource("dynamodb").Table(os.environ.get("JOBS_TABLE", "jobs")),
    s3=aws.client("s3"), sfn=aws.client("stepfunctions"), sns=aws.client("sns"),
    bucket=os.environ.get("DATA_BUCKET", ""),
    state_machine_arn=os.environ.get("STATE_MACHINE_ARN", ""),
    topic_arn=os.environ.get("TOPIC_ARN", ""),
    max_shards=int(os.environ.get("MAX_SHARD_COUNT", "64")),
    ttl_days=int(os.environ.get("JOB_TTL_DAYS", "90")))


def submit_manifest(service: JobService, bucket: str, key: str, etag: str) -> dict[str, Any]:
    """Submit (or reject) the job one manifest object describes; a summary back."""
    job_id = manifest_job_id(key, etag)
    source = f"s3://{bucket}/{key}"
    head = service.s3.head_object(Bucket=bucket, Key=key)
    try:
        if head["ContentLength"] > MAX_MANIFEST_BYTES:
            raise HttpError(400, f"the manifest is over {MAX_MANIFEST_BYTES} bytes")
        raw = service.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise HttpError(400, f"the manifest is not JSON: {err}") from err
        request = parse_request(body, service.max_shards)
        item, created = service.submit(request, job_id, source=source)
    except HttpError as err:  # a ValidationError too: the manifest itself is wrong
        service.reject(job_id, source, err.message)
        logger.warning("Manifest rejected", extra={"job_id": job_id, "key": key,
                                                   "reason": err.message})
        metrics.add_metric(name="ManifestsRejected", unit="Count", value=1)
        return {"job_id": job_id, "key": key, "status": "REJECTED", "reason": err.message}
    if created:
        metrics.add_metric(name="JobsSubmitted", unit="Count", value=1)
    logger.info("Manifest submitted" if created else "Manifest already submitted",
                extra={"job_id": job_id, "key": key})
    return {"job_id": job_id, "key": key, "status": item["status"], "created": created}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_source(data_class=S3Event)
def handler(event: S3Event, context: Any) -> dict[str, Any]:
    """Lambda entry point: S3 ObjectCreated notifications for manifests/*.json."""
    results = [submit_manifest(service, record.s3.bucket.name,
                               unquote_plus(record.s3.get_object.key),
                               record.s3.get_object.etag or "")
               for record in event.records]
    return {"manifests": results}
