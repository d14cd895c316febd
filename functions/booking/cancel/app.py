"""ProcessBooking's CancelBooking compensation: the booking becomes CANCELLED with a reason.

When the seat could not be taken the booking was never written; cancelling creates it
CANCELLED, so every booking the API accepted ends CONFIRMED or CANCELLED and the customer can
see why. A confirmed booking is never cancelled here. Emits `BookingFailed` (EMF, namespace
ServerlessAirline) once per booking.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

# Some outcomes publish no metric (a read, a replay); Powertools would warn on each.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

dynamodb = aws.client("dynamodb")
BOOKING_TABLE = os.environ["BOOKING_TABLE_NAME"]

# The workflow's error names -> the reason the customer sees.
REASONS = {
    "Booking.FlightSoldOut": "SOLD_OUT",
    "Booking.SeatsHeld": "SOLD_OUT",  # gave up waiting for held seats to come free
    "PaymentDeclined": "PAYMENT_DECLINED",
    "PaymentProviderTimeout": "PAYMENT_PROVIDER_UNAVAILABLE",
}
DEFAULT_REASON = "BOOKING_ERROR"


class BookingAlreadyConfirmed(Exception):
    """A compensation reached a CONFIRMED booking: a bug to look at, never to paper over."""


@dataclass(frozen=True)
class CancelRequest:
    booking_id: str
    customer_id: str
    flight_id: str
    amount: int
    currency: str
    requested_at: str
    error: str
    cause: str

    @classmethod
    def from_event(cls, event: Any) -> CancelRequest:
        """The step's input; ValueError when a field the state machine always sends is missing."""
        if not isinstance(event, dict):
            raise ValueError("CancelBooking expects an object")
        try:
            error = event.get("error") or {}
            return cls(booking_id=str(event["bookingId"]), customer_id=str(event["customerId"]),
                       flight_id=str(event["outboundFlightId"]), amount=int(event["amount"]),
                       currency=str(event["currency"]), requested_at=str(event["requestedAt"]),
                       error=str(error.get("Error") or "Unknown"),
                       cause=str(error.get("Cause") or ""))
        except KeyError as err:
            raise ValueError(f"CancelBooking input is missing {err.args[0]!r}") from None


def failure_reason(error: str) -> str:
    """SOLD_OUT, PAYMENT_DECLINED, PAYMENT_PROVIDER_UNAVAILABLE or BOOKING_ERROR."""
    return REASONS.get(error, DEFAULT_REASON)


def error_message(cause: str) -> str:
    """A short, customer-safe detail: a Lambda error's message, never its stack trace."""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return cause[:200]
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        return str(parsed["errorMessage"])[:200]
    return cause[:200]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@tracer.capture_method
def cancel_booking(client: Any, request: CancelRequest, *,
                   clock: Callable[[], str] = _now) -> tuple[str, bool]:
    """(reason, newly cancelled): mark the booking CANCELLED, creating it when absent."""
    reason = failure_reason(request.error)
    now = clock()
    try:
        out = client.update_item(
            TableName=BOOKING_TABLE,
            Key={"id": {"S": request.booking_id}},
            UpdateExpression=(
                "SET #status = :cancelled, failureReason = :reason, failureDetail = :detail, "
                "updatedAt = :now, cancelledAt = if_not_exists(cancelledAt, :now), "
                "customerId = if_not_exists(customerId, :customer), "
                "outboundFlightId = if_not_exists(outboundFlightId, :flight), "
                "amount = if_not_exists(amount, :amount), "
                "currency = if_not_exists(currency, :currency), "
                "createdAt = if_not_exists(createdAt, :requested)"),
            ConditionExpression="attribute_not_exists(id) OR #status IN (:pending, :cancelled)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":cancelled": {"S": "CANCELLED"}, ":pending": {"S": "PENDING"},
                ":reason": {"S": reason}, ":detail": {"S": error_message(request.cause)},
                ":now": {"S": now}, ":customer": {"S": request.customer_id},
                ":flight": {"S": request.flight_id}, ":amount": {"N": str(request.amount)},
                ":currency": {"S": request.currency}, ":requested": {"S": request.requested_at}},
            ReturnValues="ALL_OLD")
    except client.exceptions.ConditionalCheckFailedException as err:
        raise BookingAlreadyConfirmed(
            f"booking {request.booking_id} is CONFIRMED; it cannot be cancelled") from err
    before = out.get("Attributes", {}).get("status", {}).get("S")
    return reason, before != "CANCELLED"


@logger.inject_lambda_context(correlation_id_path="bookingId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """CancelBooking: {bookingId, customerId, outboundFlightId, ..., error} -> {status, reason}."""
    request = CancelRequest.from_event(event)
    reason, newly = cancel_booking(dynamodb, request)
    if newly:  # a retried step must not count the failure twice
        metrics.add_metric(name="BookingFailed", unit=MetricUnit.Count, value=1)
        metrics.add_metadata(key="bookingId", value=request.booking_id)
        metrics.add_metadata(key="reason", value=reason)
    logger.info("Booking cancelled", extra={"reason": reason, "error": request.error,
                                            "replayed": not newly})
    return {"bookingId": request.booking_id, "status": "CANCELLED", "reason": reason}
