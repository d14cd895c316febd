"""The booking API's logic, free of Lambda and HTTP: validate, look up, shape responses.

Every check raises common.validation.ValidationError (400) or common.http.HttpError (other
4xx) with a message that names the field, so the caller can fix the request from it alone.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from common.http import HttpError
from common.validation import ValidationError, require_object, require_str

BOOKING_FIELDS = ("customerId", "outboundFlightId", "paymentToken", "idempotencyKey")
ID_PATTERN = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
AIRPORT_PATTERN = re.compile(r"^[A-Z]{3}$")
# What the API shows of a booking item (the execution id and internals stay inside).
BOOKING_VIEW = ("id", "customerId", "outboundFlightId", "status", "bookingReference",
                "chargeId", "amount", "currency", "failureReason", "createdAt", "updatedAt",
                "confirmedAt", "cancelledAt")


@dataclass(frozen=True)
class BookingRequest:
    customer_id: str
    outbound_flight_id: str
    payment_token: str
    idempotency_key: str

    def to_dict(self) -> dict[str, str]:
        """The JSON shape the idempotent part hashes (key: customer + idempotency key)."""
        return {"customerId": self.customer_id, "outboundFlightId": self.outbound_flight_id,
                "paymentToken": self.payment_token, "idempotencyKey": self.idempotency_key}


def _identifier(body: dict[str, Any], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = require_str(body, name, max_length=128)
    assert value is not None  # require_str raises for a missing required field
    if not pattern.match(value):
        raise ValidationError(f"Field '{name}' must be {what}", field=name)
    return value


def parse_booking_request(body: Any, header_key: str | None = None) -> BookingRequest:
    """A POST /bookings body, checked; the idempotency key may come as a header instead."""
    body = require_object(body)
    unknown = sorted(set(body) - set(BOOKING_FIELDS))
    if unknown:
        raise ValidationError(f"Unknown field{'s' if len(unknown) > 1 else ''}: "
                              f"{', '.join(unknown)}",
                              field=unknown[0] if len(unknown) == 1 else None)
    if header_key is not None:
        if body.get("idempotencyKey") not in (None, header_key):
            raise ValidationError("The Idempotency-Key header and the idempotencyKey field "
                                  "differ", field="idempotencyKey")
        body = {**body, "idempotencyKey": header_key}
    missing = [name for name in BOOKING_FIELDS if body.get(name) is None]
    if missing:
        raise ValidationError(f"Missing required field{'s' if len(missing) > 1 else ''}: "
                              f"{', '.join(missing)}",
                              field=missing[0] if len(missing) == 1 else None)
    ident = "1-64 letters, digits or ._:@-"
    return BookingRequest(
        customer_id=_identifier(body, "customerId", ID_PATTERN, ident),
        outbound_flight_id=_identifier(body, "outboundFlightId", ID_PATTERN, ident),
        payment_token=_identifier(body, "paymentToken", ID_PATTERN, ident),
        idempotency_key=_identifier(body, "idempotencyKey", KEY_PATTERN,
                                    "8-128 letters, digits or ._:-"),
    )


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 time with its zone (a trailing Z works), as a UTC datetime."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def check_bookable(flight: dict[str, Any] | None, flight_id: str, now: datetime) -> None:
    """404 for an unknown flight, 422 for one that has departed."""
    if flight is None:
        raise HttpError(404, f"Flight {flight_id} not found", field="outboundFlightId")
    if parse_timestamp(str(flight["departureDateTime"])) <= now:
        raise HttpError(422, f"Flight {flight_id} departed at {flight['departureDateTime']}",
                        field="outboundFlightId")


def execution_input(request: BookingRequest, booking_id: str, flight: dict[str, Any],
                    requested_at: str) -> dict[str, Any]:
    """ProcessBooking's input: who books which flight for how much, and how they pay."""
    return {"bookingId": booking_id, "customerId": request.customer_id,
            "outboundFlightId": request.outbound_flight_id, "paymentToken": request.payment_token,
            "amount": int(flight["ticketPrice"]), "currency": str(flight["ticketCurrency"]),
            "requestedAt": requested_at}


def is_booking_id(value: str) -> bool:
    """Booking ids are UUIDs (they also name the workflow execution)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def plain(value: Any) -> Any:
    """DynamoDB's Decimals as int/float, sets as sorted lists, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    return value


def booking_view(item: dict[str, Any]) -> dict[str, Any]:
    """A booking item as the API returns it."""
    return {key: plain(item[key]) for key in BOOKING_VIEW if key in item}


def flight_view(item: dict[str, Any]) -> dict[str, Any]:
    """A flight item as the API returns it (seats for sale, not who holds them)."""
    return {
        "id": item["id"], "flightNumber": item.get("flightNumber"),
        "from": item["departureCode"], "to": item["arrivalCode"],
        "departureDateTime": item["departureDateTime"],
        "arrivalDateTime": item.get("arrivalDateTime"),
        "ticketPrice": plain(item["ticketPrice"]), "ticketCurrency": item["ticketCurrency"],
        "seatsAvailable": plain(item.get("seatCapacity", 0)),
    }


def parse_flight_query(params: dict[str, str] | None) -> tuple[str, str | None]:
    """(route "FROM-TO", date prefix or None) from ?from=&to=&date=; 400 when malformed."""
    params = params or {}
    route = []
    for name in ("from", "to"):
        value = (params.get(name) or "").strip().upper()
        if not value:
            raise ValidationError(f"Missing required query parameter: {name}", field=name)
        if not AIRPORT_PATTERN.match(value):
            raise ValidationError(f"Query parameter '{name}' must be a 3-letter airport code",
                                  field=name)
        route.append(value)
    day = params.get("date")
    if day:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ValidationError("Query parameter 'date' must be YYYY-MM-DD",
                                  field="date") from None
    return "-".join(route), day or None
