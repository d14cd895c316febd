"""ConfirmBooking and CancelBooking: the booking/flight transitions and their metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

BOOKING, FLIGHT = "3e1d6f2a-0000-4000-8000-000000000001", "flight-x"


def _flight(aws: Any, *, held_by: list[str] | None = None, capacity: int = 4) -> None:
    held = held_by or []
    item = {"id": {"S": FLIGHT}, "seatCapacity": {"N": str(capacity)},
            "seatsHeld": {"N": str(len(held))}, "seatsSold": {"N": "0"}}
    if held:
        item["heldBy"] = {"SS": held}
    aws.ddb.put_item(TableName="flights", Item=item)


def _booking(aws: Any, status: str = "PENDING") -> None:
    aws.ddb.put_item(TableName="bookings", Item={
        "id": {"S": BOOKING}, "status": {"S": status}, "customerId": {"S": "cust-1"},
        "outboundFlightId": {"S": FLIGHT}, "createdAt": {"S": "2030-01-01T00:00:00.000Z"}})


def _confirm_event() -> dict[str, str]:
    return {"bookingId": BOOKING, "outboundFlightId": FLIGHT, "chargeId": "ch_1"}


def test_confirm_moves_the_held_seat_to_sold(aws: Any, context: Any, capsys: Any,
                                             emf: Any) -> None:
    _flight(aws, held_by=[BOOKING, "other-booking"])
    _booking(aws)
    confirm = aws.modules["confirm"]
    out = confirm.handler(_confirm_event(), context)
    assert out["status"] == "CONFIRMED" and len(out["bookingReference"]) == 6
    booking = aws.item("bookings", {"id": {"S": BOOKING}})
    assert booking["status"]["S"] == "CONFIRMED"
    assert booking["bookingReference"]["S"] == out["bookingReference"]
    assert booking["chargeId"]["S"] == "ch_1"
    flight = aws.item("flights", {"id": {"S": FLIGHT}})
    assert (flight["seatCapacity"]["N"], flight["seatsHeld"]["N"], flight["seatsSold"]["N"]) == (
        "4", "1", "1")
    assert flight["heldBy"]["SS"] == ["other-booking"]
    records = emf(capsys.readouterr().out, "BookingSuccessful")
    assert len(records) == 1 and records[0]["bookingId"] == BOOKING
    assert records[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ServerlessAirline"

    # A retried step: the same reference, the seat not sold twice, no second metric.
    again = confirm.handler(_confirm_event(), context)
    assert again == out
    assert aws.item("flights", {"id": {"S": FLIGHT}})["seatsSold"]["N"] == "1"
    assert emf(capsys.readouterr().out, "BookingSuccessful") == []


def test_confirm_refuses_a_booking_that_holds_no_seat(aws: Any) -> None:
    confirm = aws.modules["confirm"]
    _flight(aws, held_by=["someone-else"])
    _booking(aws)
    with pytest.raises(confirm.BookingNotConfirmable, match="PENDING or holds no seat"):
        confirm.confirm_booking(aws.ddb, BOOKING, FLIGHT, "ch_1")
    assert aws.item("bookings", {"id": {"S": BOOKING}})["status"]["S"] == "PENDING"
    _flight(aws, held_by=[BOOKING])
    _booking(aws, status="CANCELLED")
    with pytest.raises(confirm.BookingNotConfirmable, match="CANCELLED"):
        confirm.confirm_booking(aws.ddb, BOOKING, FLIGHT, "ch_1")
    # Nothing of the transaction happened.
    assert aws.item("flights", {"id": {"S": FLIGHT}})["seatsHeld"]["N"] == "1"


def test_references_avoid_look_alike_characters(aws: Any) -> None:
    confirm = aws.modules["confirm"]
    references = {confirm.new_reference() for _ in range(200)}
    assert len(references) > 190
    assert all(len(r) == 6 and not set(r) & set("01IOL") for r in references)


@pytest.mark.parametrize("event", [None, {}, {"bookingId": BOOKING, "outboundFlightId": FLIGHT},
                                   {"bookingId": "", "outboundFlightId": FLIGHT,
                                    "chargeId": "ch"}])
def test_confirm_input_is_checked(aws: Any, event: Any) -> None:
    with pytest.raises(ValueError):
        aws.modules["confirm"].parse_request(event)


# --- cancel --------------------------------------------------------------------------------

def _cancel_event(error: str, cause: str = "") -> dict[str, Any]:
    return {"bookingId": BOOKING, "customerId": "cust-1", "outboundFlightId": FLIGHT,
            "amount": 12900, "currency": "EUR", "requestedAt": "2030-01-01T00:00:00.000Z",
            "error": {"Error": error, "Cause": cause}}


@pytest.mark.parametrize("error, reason", [
    ("Booking.FlightSoldOut", "SOLD_OUT"), ("Booking.SeatsHeld", "SOLD_OUT"),
    ("PaymentDeclined", "PAYMENT_DECLINED"),
    ("PaymentProviderTimeout", "PAYMENT_PROVIDER_UNAVAILABLE"),
    ("States.Timeout", "BOOKING_ERROR"), ("Lambda.Unknown", "BOOKING_ERROR"),
])
def test_failure_reasons(aws: Any, error: str, reason: str) -> None:
    assert aws.modules["cancel"].failure_reason(error) == reason


def test_error_message_keeps_the_message_not_the_stack(aws: Any) -> None:
    cancel = aws.modules["cancel"]
    cause = json.dumps({"errorMessage": "card declined for booking b", "errorType": "X",
                        "stackTrace": ["  File app.py, line 1"]})
    assert cancel.error_message(cause) == "card declined for booking b"
    assert cancel.error_message("No seat left on the flight.") == "No seat left on the flight."


def test_cancel_creates_the_booking_when_it_never_was_reserved(aws: Any, context: Any,
                                                               capsys: Any, emf: Any) -> None:
    cancel = aws.modules["cancel"]
    out = cancel.handler(_cancel_event("Booking.FlightSoldOut", "No seat left."), context)
    assert out == {"bookingId": BOOKING, "status": "CANCELLED", "reason": "SOLD_OUT"}
    item = aws.item("bookings", {"id": {"S": BOOKING}})
    assert (item["status"]["S"], item["failureReason"]["S"], item["failureDetail"]["S"]) == (
        "CANCELLED", "SOLD_OUT", "No seat left.")
    assert (item["customerId"]["S"], item["outboundFlightId"]["S"], item["amount"]["N"]) == (
        "cust-1", FLIGHT, "12900")
    assert item["createdAt"]["S"] == "2030-01-01T00:00:00.000Z"
    records = emf(capsys.readouterr().out, "BookingFailed")
    assert [(r["bookingId"], r["reason"]) for r in records] == [(BOOKING, "SOLD_OUT")]
    # Again (a retry): still cancelled, counted once.
    assert cancel.handler(_cancel_event("Booking.FlightSoldOut"), context) == out
    assert emf(capsys.readouterr().out, "BookingFailed") == []


def test_cancel_a_pending_booking_keeps_its_data(aws: Any, context: Any) -> None:
    _booking(aws)
    cancel = aws.modules["cancel"]
    cancel.handler(_cancel_event("PaymentDeclined"), context)
    item = aws.item("bookings", {"id": {"S": BOOKING}})
    assert (item["status"]["S"], item["failureReason"]["S"]) == ("CANCELLED", "PAYMENT_DECLINED")
    assert item["createdAt"]["S"] == "2030-01-01T00:00:00.000Z"


def test_a_confirmed_booking_is_never_cancelled(aws: Any, context: Any) -> None:
    _booking(aws, status="CONFIRMED")
    cancel = aws.modules["cancel"]
    with pytest.raises(cancel.BookingAlreadyConfirmed):
        cancel.handler(_cancel_event("PaymentDeclined"), context)
    assert aws.item("bookings", {"id": {"S": BOOKING}})["status"]["S"] == "CONFIRMED"


def test_cancel_input_is_checked(aws: Any) -> None:
    with pytest.raises(ValueError, match="bookingId"):
        aws.modules["cancel"].CancelRequest.from_event({"customerId": "c"})
