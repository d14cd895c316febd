"""ProcessBooking's ConfirmBooking step: PENDING -> CONFIRMED, and the held seat is sold.

One DynamoDB transaction does both: the booking gets its reference and charge only if it is
still PENDING, and the flight moves the seat from held to sold only if this booking holds it.
A retried step finds the booking CONFIRMED and answers with the reference it already has.
Emits the seed's `BookingSuccessful` metric (EMF, namespace ServerlessAirline).
"""

from __future__ import annotations

import os
import secrets
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
FLIGHT_TABLE = os.environ["FLIGHT_TABLE_NAME"]

# Six characters from an alphabet without look-alikes (0/O, 1/I/L), as airline PNRs do.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERENCE_LENGTH = 6


class BookingNotConfirmable(Exception):
    """The booking is not PENDING (cancelled) or holds no seat; the state machine compensates."""


@dataclass(frozen=True)
class Confirmation:
    booking_id: str
    booking_reference: str
    status: str
    newly_confirmed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"bookingId": self.booking_id, "bookingReference": self.booking_reference,
                "status": self.status}


def new_reference() -> str:
    """A random booking reference, e.g. "K7QX2M"."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_request(event: Any) -> tuple[str, str, str]:
    """(booking id, flight id, charge id) from the step's input; ValueError when malformed."""
    if not isinstance(event, dict):
        raise ValueError("ConfirmBooking expects an object")
    values = tuple(event.get(key) for key in ("bookingId", "outboundFlightId", "chargeId"))
    if not all(isinstance(value, str) and value for value in values):
        raise ValueError("ConfirmBooking needs bookingId, outboundFlightId and chargeId")
    return values  # type: ignore[return-value]


@tracer.capture_method
def confirm_booking(client: Any, booking_id: str, flight_id: str, charge_id: str, *,
                    reference: Callable[[], str] = new_reference,
                    clock: Callable[[], str] = _now) -> Confirmation:
    """Confirm the booking and sell its seat in one transaction (idempotent, see module doc)."""
    ref, now = reference(), clock()
    try:
        client.transact_write_items(TransactItems=[
            {"Update": {
                "TableName": BOOKING_TABLE,
                "Key": {"id": {"S": booking_id}},
                "UpdateExpression": "SET #status = :confirmed, bookingReference = :ref, "
                                    "chargeId = :charge, confirmedAt = :now, updatedAt = :now",
                "ConditionExpression": "#status = :pending",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":confirmed": {"S": "CONFIRMED"},
                                              ":pending": {"S": "PENDING"},
                                              ":ref": {"S": ref}, ":charge": {"S": charge_id},
                                              ":now": {"S": now}}}},
            {"Update": {
                "TableName": FLIGHT_TABLE,
                "Key": {"id": {"S": flight_id}},
                "UpdateExpression": "SET seatsHeld = seatsHeld - :one, "
                                    "seatsSold = if_not_exists(seatsSold, :zero) + :one "
                                    "DELETE heldBy :bookingSet",
                "ConditionExpression": "contains(heldBy, :bookingId)",
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"},
                                              ":bookingId": {"S": booking_id},
                                              ":bookingSet": {"SS": [booking_id]}}}},
        ])
    except client.exceptions.TransactionCanceledException as err:
        current = client.get_item(TableName=BOOKING_TABLE, Key={"id": {"S": booking_id}},
                                  ConsistentRead=True).get("Item") or {}
        if current.get("status", {}).get("S") == "CONFIRMED":
            return Confirmation(booking_id, current["bookingReference"]["S"], "CONFIRMED",
                                newly_confirmed=False)
        status = current.get("status", {}).get("S", "missing")
        raise BookingNotConfirmable(
            f"booking {booking_id} is {status} or holds no seat on {flight_id}") from err
    return Confirmation(booking_id, ref, "CONFIRMED", newly_confirmed=True)


@logger.inject_lambda_context(correlation_id_path="bookingId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """ConfirmBooking: {bookingId, outboundFlightId, chargeId} -> {bookingReference, status}."""
    booking_id, flight_id, charge_id = parse_request(event)
    confirmation = confirm_booking(dynamodb, booking_id, flight_id, charge_id)
    if confirmation.newly_confirmed:  # a retried step must not count the booking twice
        metrics.add_metric(name="BookingSuccessful", unit=MetricUnit.Count, value=1)
        metrics.add_metadata(key="bookingId", value=booking_id)
    logger.info("Booking confirmed", extra={"booking_reference": confirmation.booking_reference,
                                            "replayed": not confirmation.newly_confirmed})
    return confirmation.to_dict()
