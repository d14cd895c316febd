"""The booking HTTP API (Powertools APIGatewayHttpResolver behind an HTTP API).

POST /bookings                      validate, then start ProcessBooking -> 202 {bookingId, ...}
GET  /bookings/{bookingId}          the booking (or REQUESTED while the workflow reserves it)
GET  /customers/{customerId}/bookings
GET  /flights?from=&to=&date=

POST is idempotent per (customer, idempotency key), with Powertools idempotency: the same body
again answers with the original 202 (and `Idempotent-Replayed: true`), another body is 422.
Bad input is a 4xx JSON error and starts nothing; the logic lives in booking_requests.py.
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from booking_requests import (
    BookingRequest,
    booking_view,
    check_bookable,
    execution_input,
    flight_view,
    is_booking_id,
    parse_booking_request,
    parse_flight_query,
)
from boto3.dynamodb.conditions import Key

from common import aws
from common.http import HttpError, parse_json_body
from common.observability import get_logger, get_metrics, get_tracer

# Some outcomes publish no metric (a read, a replay); Powertools would warn on each.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

# Clients and tables once per execution environment (the seed's practice).
dynamodb = aws.resource("dynamodb")
flights = dynamodb.Table(os.environ["FLIGHT_TABLE_NAME"])
bookings = dynamodb.Table(os.environ["BOOKING_TABLE_NAME"])
sfn = aws.client("stepfunctions")
STATE_MACHINE_ARN = os.environ["PROCESS_BOOKING_STATE_MACHINE_ARN"]
CUSTOMER_BOOKINGS_LIMIT = 50


def _mark_replay(response: Any, record: DataRecord) -> Any:
    # Called only when the answer comes from the idempotency store.
    return {**response, "replayed": True} if isinstance(response, dict) else response


persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"],
                                       boto3_client=aws.client("dynamodb"))
# The key is the customer's idempotency key (keys are per customer); the flight and payment
# token must match for a repeat to be the same request.
idempotency = IdempotencyConfig(event_key_jmespath="[customerId, idempotencyKey]",
                                payload_validation_jmespath="[outboundFlightId, paymentToken]",
                                raise_on_no_idempotency_key=True, expires_after_seconds=86400,
                                response_hook=_mark_replay)

app = APIGatewayHttpResolver()


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@idempotent_function(data_keyword_argument="request", persistence_store=persistence,
                     config=idempotency)
def accept_booking(request: dict[str, str]) -> dict[str, Any]:
    """Check the flight, then start ProcessBooking; the 202 body (stored for replays)."""
    parsed = BookingRequest(customer_id=request["customerId"],
                            outbound_flight_id=request["outboundFlightId"],
                            payment_token=request["paymentToken"],
                            idempotency_key=request["idempotencyKey"])
    now = _now()
    flight = flights.get_item(Key={"id": parsed.outbound_flight_id}).get("Item")
    check_bookable(flight, parsed.outbound_flight_id, now)
    assert flight is not None
    booking_id = str(uuid.uuid4())
    logger.set_correlation_id(booking_id)
    payload = execution_input(parsed, booking_id, flight, _iso(now))
    # The execution is named after the booking: one execution per booking, ever.
    started = sfn.start_execution(stateMachineArn=STATE_MACHINE_ARN, name=booking_id,
                                  input=json.dumps(payload))
    metrics.add_metric(name="BookingRequested", unit=MetricUnit.Count, value=1)
    logger.info("Booking requested", extra={"outbound_flight_id": parsed.outbound_flight_id,
                                            "customer_id": parsed.customer_id})
    return {"bookingId": booking_id, "executionArn": started["executionArn"],
            "status": "REQUESTED", "customerId": parsed.customer_id,
            "outboundFlightId": parsed.outbound_flight_id, "amount": payload["amount"],
            "currency": payload["currency"], "requestedAt": payload["requestedAt"]}


@app.post("/bookings")
@tracer.capture_method
def create_booking() -> Response:
    event = app.current_event
    body = parse_json_body(event.raw_event)
    request = parse_booking_request(body, header_key=event.headers.get("idempotency-key"))
    logger.append_keys(customer_id=request.customer_id)
    accepted = dict(accept_booking(request=request.to_dict()))
    replayed = bool(accepted.pop("replayed", False))
    logger.set_correlation_id(accepted["bookingId"])
    headers = {"Location": f"/bookings/{accepted['bookingId']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
        logger.info("Booking request replayed from the idempotency store")
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON,
                    body=accepted, headers=headers)


@app.get("/bookings/<booking_id>")
@tracer.capture_method
def get_booking(booking_id: str) -> dict[str, Any]:
    if not is_booking_id(booking_id):
        raise HttpError(404, f"Booking {booking_id} not found")
    logger.set_correlation_id(booking_id)
    item = bookings.get_item(Key={"id": booking_id}, ConsistentRead=True).get("Item")
    if item is not None:
        return booking_view(item)
    # Accepted, but the workflow has not written it yet (it may be waiting for a seat).
    execution_arn = STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:") + f":{booking_id}"
    try:
        execution = sfn.describe_execution(executionArn=execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        raise HttpError(404, f"Booking {booking_id} not found") from None
    return {"id": booking_id, "status": "REQUESTED", "workflowStatus": execution["status"]}


@app.get("/customers/<customer_id>/bookings")
@tracer.capture_method
def list_customer_bookings(customer_id: str) -> dict[str, Any]:
    out = bookings.query(IndexName="ByCustomer",
                         KeyConditionExpression=Key("customerId").eq(customer_id),
                         ScanIndexForward=False, Limit=CUSTOMER_BOOKINGS_LIMIT)
    return {"customerId": customer_id,
            "bookings": [booking_view(item) for item in out.get("Items", [])]}


@app.get("/flights")
@tracer.capture_method
def search_flights() -> dict[str, Any]:
    route, day = parse_flight_query(app.current_event.query_string_parameters)
    condition = Key("route").eq(route)
    if day:
        condition = condition & Key("departureDateTime").begins_with(day)
    out = flights.query(IndexName="ByRoute", KeyConditionExpression=condition)
    return {"flights": [flight_view(item) for item in out.get("Items", [])]}


def _error(status: int, message: str, **extra: Any) -> Response:
    body = {"code": status, "message": message,
            "request-id": app.current_event.request_context.request_id, **extra}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(HttpError)
def http_error(err: HttpError) -> Response:
    logger.info("Request rejected", extra={"status": err.status, "reason": err.message})
    return _error(err.status, err.message, **err.extra)


@app.exception_handler(IdempotencyValidationError)
def idempotency_key_reused(err: IdempotencyValidationError) -> Response:
    logger.info("Idempotency key reused with another body")
    return _error(422, "This idempotency key was already used with a different request",
                  field="idempotencyKey")


@app.exception_handler(IdempotencyAlreadyInProgressError)
def idempotency_in_progress(err: IdempotencyAlreadyInProgressError) -> Response:
    return _error(409, "A request with this idempotency key is still in progress; retry",
                  field="idempotencyKey")


@app.exception_handler(Exception)
def unexpected(err: Exception) -> Response:
    if isinstance(err, ServiceError):  # Powertools' own 4xx (e.g. 405): its response stands
        raise err
    logger.exception("Unhandled error")
    return _error(500, "Internal server error")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP,
                               clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point: the HTTP API's v2 proxy event -> the route's response."""
    idempotency.register_lambda_context(context)
    return app.resolve(event, context)
