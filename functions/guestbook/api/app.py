"""The guestbook API (Powertools APIGatewayRestResolver behind a REST API with X-Ray on).

POST /sign {"message": "..."}   -> 201 {"ID", "Message", "Epoch"}
GET  /list?limit=&next=         -> {"messages": [...newest first], "next": token | null}

Traced with Powertools Tracer (X-Ray, `Tracing: Active`): the handler, each route, and the id
generation in a subsegment of its own (`## generate_id`), as the seed instruments randString.
The logic lives in book.py.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from book import generate_id as _generate_id
from book import list_page, parse_message, parse_page_query, sign

from common import aws
from common.http import HttpError, parse_json_body
from common.observability import get_logger, get_metrics, get_tracer

warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
table = aws.resource("dynamodb").Table(os.environ["GUESTBOOK_TABLE_NAME"])
app = APIGatewayRestResolver()


@tracer.capture_method
def generate_id() -> str:
    """The signature id, in its own X-Ray subsegment (`## generate_id`)."""
    return _generate_id()


@app.post("/sign")
@tracer.capture_method
def sign_book() -> Response:
    message = parse_message(parse_json_body(app.current_event.raw_event))
    item = sign(table, message, make_id=generate_id)
    tracer.put_annotation(key="signature_id", value=item["ID"])
    metrics.add_metric(name="MessageSigned", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="MessageLength", unit=MetricUnit.Count, value=len(message))
    logger.info("Guestbook signed", extra={"id": item["ID"], "length": len(message)})
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=item,
                    headers={"Location": f"/list#{item['ID']}"})


@app.get("/list")
@tracer.capture_method
def list_book() -> dict[str, Any]:
    limit, start = parse_page_query(app.current_event.query_string_parameters)
    return list_page(table, limit, start)


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
    if isinstance(err, ServiceError):  # Powertools' own 4xx (e.g. 404, 405): its response
        raise err
    logger.exception("Unhandled error")
    return _error(500, "Internal server error")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST,
                               clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point: the REST API's proxy event -> the route's response."""
    return app.resolve(event, context)
