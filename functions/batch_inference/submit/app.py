"""The jobs API (Powertools APIGatewayHttpResolver behind an HTTP API).

POST /inference-jobs            check the request (jobs.py), record the job, start it -> 202
GET  /inference-jobs/{job_id}   the job: status, counts, timestamps, error

Bad input is a 400 JSON error ({"code", "message", "request-id", "field"}) and starts nothing.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from jobs import JobService, job_view, parse_request

from common import aws
from common.http import HttpError, parse_json_body
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

_JOB_ID = re.compile(r"[0-9a-f]{32}")

service = JobService(
    table=aws.resource("dynamodb").Table(os.environ.get("JOBS_TABLE", "jobs")),
    s3=aws.client("s3"), sfn=aws.client("stepfunctions"), sns=aws.client("sns"),
    bucket=os.environ.get("DATA_BUCKET", ""),
    state_machine_arn=os.environ.get("STATE_MACHINE_ARN", ""),
    topic_arn=os.environ.get("TOPIC_ARN", ""),
    max_shards=int(os.environ.get("MAX_SHARD_COUNT", "64")),
    ttl_days=int(os.environ.get("JOB_TTL_DAYS", "90")))

app = APIGatewayHttpResolver()


@app.post("/inference-jobs")
@tracer.capture_method
def create_job() -> Response:
    request = parse_request(parse_json_body(app.current_event.raw_event), service.max_shards)
    job_id = uuid.uuid4().hex
    logger.set_correlation_id(job_id)
    item, _ = service.submit(request, job_id, source="api")
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    logger.info("Job submitted", extra={"model_key": request.model_key,
                                        "input_prefix": request.input_prefix})
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON,
                    body=job_view(item), headers={"Location": f"/inference-jobs/{job_id}"})


@app.get("/inference-jobs/<job_id>")
@tracer.capture_method
def get_job(job_id: str) -> dict[str, Any]:
    item = service.get(job_id) if _JOB_ID.fullmatch(job_id) else None
    if item is None:
        raise HttpError(404, f"No job {job_id!r}")
    return job_view(item)


def _error(status: int, message: str, **extra: Any) -> Response:
    body = {"code": status, "message": message,
            "request-id": app.current_event.request_context.request_id, **extra}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(HttpError)
def http_error(err: HttpError) -> Response:
    logger.info("Request rejected", extra={"status": err.status, "reason": err.message})
    return _error(err.status, err.message, **err.extra)


@app.exception_handler(Exception)
def unexpected(err: Exception) -> Response:
    if isinstance(err, ServiceError):  # Powertools' own 4xx (e.g. 405): its response stands
        raise err
    logger.exception("Unhandled error")
    return _error(500, "Internal server error")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP,
                               clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point: the HTTP API's v2 proxy event -> the route's response."""
    return app.resolve(event, context)
