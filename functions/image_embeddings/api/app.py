"""The embeddings API (Powertools APIGatewayHttpResolver behind an HTTP API).

POST /runs                         {"Paths": ["images"], "BatchSize"?} -> 202, starts a run
GET  /runs/{run_id}                the run's status and, once finished, its counts
GET  /images/{image_id}            the stored vector's metadata (and the vector, ?vector=true)
GET  /images/{image_id}/neighbours ?k=5: nearest stored images by cosine similarity
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from vectors import get_vectors, nearest, scan_vectors

from common import aws
from common.http import HttpError, parse_json_body
from common.observability import get_logger, get_metrics, get_tracer
from common.validation import ValidationError

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

_RUN_ID = re.compile(r"[0-9a-f]{32}")
_IMAGE_ID = re.compile(r"[^/]{1,512}")
MAX_PATHS, MAX_BATCH, MAX_K = 100, 10_000, 100

sfn = aws.client("stepfunctions")
dynamodb = aws.client("dynamodb")
STATE_MACHINE_ARN = os.environ.get("STATE_MACHINE_ARN", "")
TABLE = os.environ.get("EMBEDDINGS_TABLE", "")

app = APIGatewayHttpResolver()


def parse_run(body: Any) -> dict[str, Any]:
    """The state machine input of a POST /runs body; ValidationError (400) otherwise."""
    if not isinstance(body, dict):
        raise ValidationError("body must be an object")
    unknown = sorted(set(body) - {"Paths", "BatchSize"})
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(unknown)}", field=unknown[0])
    paths = body.get("Paths")
    if (not isinstance(paths, list) or not 1 <= len(paths) <= MAX_PATHS
            or not all(isinstance(p, str) and p.strip("/ ") and len(p) <= 900 for p in paths)):
        raise ValidationError(f"Field 'Paths' must list 1 to {MAX_PATHS} S3 prefixes",
                              field="Paths")
    run: dict[str, Any] = {"Paths": paths}
    size = body.get("BatchSize")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_BATCH:
            raise ValidationError(f"Field 'BatchSize' must be an integer from 1 to {MAX_BATCH}",
                                  field="BatchSize")
        run["BatchSize"] = size
    return run


def execution_arn(run_id: str) -> str:
    return STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:") + f":{run_id}"


@app.post("/runs")
@tracer.capture_method
def start_run() -> Response:
    run = parse_run(parse_json_body(app.current_event.raw_event))
    run_id = uuid.uuid4().hex
    started = sfn.start_execution(stateMachineArn=STATE_MACHINE_ARN, name=run_id,
                                  input=json.dumps(run))
    metrics.add_metric(name="RunsStarted", unit="Count", value=1)
    logger.info("Run started", extra={"run_id": run_id, "paths": run["Paths"]})
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON,
                    body={"run_id": run_id, "status": "RUNNING", **run,
                          "execution_arn": started["executionArn"],
                          "links": {"self": f"/runs/{run_id}"}},
                    headers={"Location": f"/runs/{run_id}"})


@app.get("/runs/<run_id>")
@tracer.capture_method
def get_run(run_id: str) -> dict[str, Any]:
    if not _RUN_ID.fullmatch(run_id):
        raise HttpError(404, f"No run {run_id!r}")
    try:
        execution = sfn.describe_execution(executionArn=execution_arn(run_id))
    except sfn.exceptions.ExecutionDoesNotExist:
        raise HttpError(404, f"No run {run_id!r}") from None
    view: dict[str, Any] = {"run_id": run_id, "status": execution["status"],
                            "started_at": execution["startDate"].isoformat()}
    if execution.get("output"):
        view["summary"] = json.loads(execution["output"])
    if execution["status"] == "FAILED":
        view["error"], view["cause"] = execution.get("error"), execution.get("cause")
    return view


def _image_id(image_id: str) -> str:
    if not _IMAGE_ID.fullmatch(image_id):
        raise HttpError(404, f"No image {image_id!r}")
    return image_id


@app.get("/images/<image_id>")
@tracer.capture_method
def get_image(image_id: str) -> dict[str, Any]:
    image_id = _image_id(image_id)
    found = get_vectors(dynamodb, TABLE, [image_id])
    if image_id not in found:
        raise HttpError(404, f"No image {image_id!r}")
    vector = found[image_id]
    view: dict[str, Any] = {"image_id": image_id, "dimension": int(vector.shape[0]),
                            "data_type": str(vector.dtype),
                            "norm": float((vector.astype("float64") ** 2).sum() ** 0.5)}
    if (app.current_event.query_string_parameters or {}).get("vector") == "true":
        view["vector"] = vector.astype(float).tolist()
    return view


@app.get("/images/<image_id>/neighbours")
@tracer.capture_method
def neighbours(image_id: str) -> dict[str, Any]:
    image_id = _image_id(image_id)
    raw_k = (app.current_event.query_string_parameters or {}).get("k", "5")
    if not raw_k.isdigit() or not 1 <= int(raw_k) <= MAX_K:
        raise ValidationError(f"Parameter 'k' must be an integer from 1 to {MAX_K}", field="k")
    found = get_vectors(dynamodb, TABLE, [image_id])
    if image_id not in found:
        raise HttpError(404, f"No image {image_id!r}")
    # A full scan: fine for the tens of thousands of images a table like this holds; beyond
    # that, a vector index (OpenSearch k-NN) is the tool.
    ids, matrix = scan_vectors(dynamodb, TABLE)
    best = nearest(found[image_id], ids, matrix, k=int(raw_k), exclude=image_id)
    return {"image_id": image_id, "compared": len(ids) - 1,
            "neighbours": [{"image_id": i, "cosine": round(s, 6)} for i, s in best]}


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
