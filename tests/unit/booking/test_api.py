"""The booking API: request checks (plain functions) and the handler on HTTP API v2 events."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from booking_requests import (
    booking_view,
    check_bookable,
    is_booking_id,
    parse_booking_request,
    parse_flight_query,
)

from common.http import HttpError
from common.validation import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

EVENTS = Path(__file__).resolve().parents[3] / "events" / "booking"
GOOD = {"customerId": "cust-ada", "outboundFlightId": "flight-ba117", "paymentToken": "tok_visa",
        "idempotencyKey": "ada-booking-0001"}
NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


# --- plain functions ---------------------------------------------------------------------

def test_a_good_request_parses() -> None:
    parsed = parse_booking_request(GOOD)
    assert parsed.to_dict() == GOOD


@pytest.mark.parametrize("body, field, message", [
    ({k: v for k, v in GOOD.items() if k != "customerId"}, "customerId", "Missing required"),
    ({"customerId": "c"}, None, "Missing required fields"),
    ({**GOOD, "paymentToken": 4242}, "paymentToken", "must be a string"),
    ({**GOOD, "customerId": "has spaces"}, "customerId", "letters, digits"),
    ({**GOOD, "idempotencyKey": "short"}, "idempotencyKey", "8-128"),
    ({**GOOD, "extra": 1}, "extra", "Unknown field"),
    ({**GOOD, "a": 1, "b": 2}, None, "Unknown fields: a, b"),
    ("text", None, "body must be an object"),
])
def test_bad_requests_name_the_field(body: Any, field: str | None, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_booking_request(body)
    assert err.value.status == 400 and err.value.field == field
    assert message in err.value.message


def test_idempotency_key_from_the_header() -> None:
    body = {k: v for k, v in GOOD.items() if k != "idempotencyKey"}
    assert parse_booking_request(body, header_key="header-key-01").idempotency_key == (
        "header-key-01")
    assert parse_booking_request(GOOD, header_key=GOOD["idempotencyKey"]).to_dict() == GOOD
    with pytest.raises(ValidationError, match="differ"):
        parse_booking_request(GOOD, header_key="another-key-01")


def test_check_bookable() -> None:
    future = {"departureDateTime": "2030-05-01T12:01:00Z"}
    check_bookable(future, "f", NOW)
    with pytest.raises(HttpError) as err:
        check_bookable({"departureDateTime": "2030-05-01T12:00:00Z"}, "f", NOW)
    assert err.value.status == 422 and "departed" in err.value.message
    with pytest.raises(HttpError) as err:
        check_bookable(None, "f", NOW)
    assert err.value.status == 404


@pytest.mark.parametrize("params, expected", [
    ({"from": "lhr", "to": "jfk"}, ("LHR-JFK", None)),
    ({"from": "LHR", "to": "JFK", "date": "2030-05-01"}, ("LHR-JFK", "2030-05-01")),
])
def test_flight_query(params: dict[str, str], expected: tuple[str, str | None]) -> None:
    assert parse_flight_query(params) == expected


@pytest.mark.parametrize("params, field", [
    (None, "from"), ({"from": "LHR"}, "to"), ({"from": "LH", "to": "JFK"}, "from"),
    ({"from": "LHR", "to": "JFK", "date": "2030-13-01"}, "date"),
])
def test_bad_flight_queries(params: dict[str, str] | None, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_flight_query(params)
    assert err.value.field == field


def test_booking_ids_and_views() -> None:
    assert is_booking_id("5f0c9d2e-35a4-4a8e-9f59-2c6f0bb7a001")
    assert not is_booking_id("5F0C9D2E-35A4-4A8E-9F59-2C6F0BB7A001")  # not as we issue them
    assert not is_booking_id("../etc")
    from decimal import Decimal

    view = booking_view({"id": "b", "status": "CONFIRMED", "amount": Decimal("45900"),
                         "executionId": "arn:...", "customerId": "c"})
    assert view == {"id": "b", "status": "CONFIRMED", "amount": 45900, "customerId": "c"}


# --- the handler -------------------------------------------------------------------------

def _event(name: str, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(json.loads((EVENTS / name).read_text()))
    if "body" in changes:
        event["body"] = json.dumps(changes.pop("body"))
    if "headers" in changes:
        event["headers"].update(changes.pop("headers"))
    event.update(changes)
    return event


def _get(path: str, **extra: Any) -> dict[str, Any]:
    event = _event("api_get_booking.json", rawPath=path, **extra)
    event["requestContext"]["http"]["path"] = path
    return event


def _flight(aws: Any, flight_id: str = "flight-ba117", departs: datetime | None = None) -> None:
    departs = departs or datetime.now(UTC) + timedelta(days=7)
    aws.ddb.put_item(TableName="flights", Item={
        "id": {"S": flight_id}, "route": {"S": "LHR-JFK"},
        "departureCode": {"S": "LHR"}, "arrivalCode": {"S": "JFK"},
        "departureDateTime": {"S": departs.strftime("%Y-%m-%dT%H:%M:00Z")},
        "ticketPrice": {"N": "45900"}, "ticketCurrency": {"S": "GBP"},
        "seatCapacity": {"N": "3"}, "seatsHeld": {"N": "0"}, "seatsSold": {"N": "0"}})


def _call(aws: Any, context: Any, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    out = aws.modules["api"].handler(event, context)
    return out["statusCode"], out.get("headers", {}), json.loads(out["body"])


def _executions(aws: Any) -> list[dict[str, Any]]:
    arn = aws.sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    return aws.sfn.list_executions(stateMachineArn=arn)["executions"]


def test_post_starts_one_execution_named_after_the_booking(aws: Any, context: Any) -> None:
    _flight(aws)
    status, headers, body = _call(aws, context, _event("api_create_booking.json"))
    assert status == 202, body
    assert headers["Location"] == f"/bookings/{body['bookingId']}"
    assert (body["status"], body["amount"], body["currency"]) == ("REQUESTED", 45900, "GBP")
    executions = _executions(aws)
    assert [e["name"] for e in executions] == [body["bookingId"]]
    started = json.loads(aws.sfn.describe_execution(
        executionArn=executions[0]["executionArn"])["input"])
    assert started == {"bookingId": body["bookingId"], "customerId": "cust-ada",
                       "outboundFlightId": "flight-ba117", "paymentToken": "tok_visa",
                       "amount": 45900, "currency": "GBP", "requestedAt": body["requestedAt"]}

    # Replayed: same answer, no new execution; another body with the key: 422.
    status, headers, again = _call(aws, context, _event("api_create_booking.json"))
    assert (status, again, headers.get("Idempotent-Replayed")) == (202, body, "true")
    status, _, conflict = _call(aws, context, _event(
        "api_create_booking.json", body={**GOOD, "paymentToken": "tok_other"}))
    assert (status, conflict["field"]) == (422, "idempotencyKey")
    assert len(_executions(aws)) == 1

    # Until the workflow writes the booking, GET says it is requested.
    status, _, seen = _call(aws, context, _get(f"/bookings/{body['bookingId']}"))
    assert (status, seen) == (200, {"id": body["bookingId"], "status": "REQUESTED",
                                    "workflowStatus": "RUNNING"})


@pytest.mark.parametrize("flight, status", [("missing", 404), ("departed", 422)])
def test_unbookable_flights_start_nothing(aws: Any, context: Any, flight: str,
                                          status: int) -> None:
    _flight(aws, "flight-ba117", departs=datetime.now(UTC) - timedelta(hours=1))
    flight_id = "flight-nowhere" if flight == "missing" else "flight-ba117"
    got, _, body = _call(aws, context, _event("api_create_booking.json",
                                              body={**GOOD, "outboundFlightId": flight_id}))
    assert (got, body["code"], body["field"]) == (status, status, "outboundFlightId")
    assert body["request-id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert _executions(aws) == []
    # A refused request stores no idempotency record: fixing the flight works with the key.
    _flight(aws, flight_id)
    got, _, body = _call(aws, context, _event("api_create_booking.json",
                                              body={**GOOD, "outboundFlightId": flight_id}))
    assert got == 202


def test_bad_json_and_unknown_routes(aws: Any, context: Any) -> None:
    event = _event("api_create_booking.json")
    event["body"] = "{nope"
    status, _, body = _call(aws, context, event)
    assert (status, body["message"]) == (400, "Request body is not valid JSON")
    status, _, body = _call(aws, context, _get("/nowhere"))
    assert status == 404


def test_get_booking_and_customer_bookings(aws: Any, context: Any) -> None:
    booking_id = "5f0c9d2e-35a4-4a8e-9f59-2c6f0bb7a001"
    aws.ddb.put_item(TableName="bookings", Item={
        "id": {"S": booking_id}, "customerId": {"S": "cust-ada"}, "status": {"S": "CONFIRMED"},
        "bookingReference": {"S": "K7QX2M"}, "amount": {"N": "45900"},
        "createdAt": {"S": "2030-01-01T00:00:00.000Z"},
        "executionId": {"S": "arn:aws:states:...:execution:x"}})
    status, _, body = _call(aws, context, _event("api_get_booking.json"))
    assert (status, body["bookingReference"], body["amount"]) == (200, "K7QX2M", 45900)
    assert "executionId" not in body
    status, _, body = _call(aws, context, _get("/bookings/5f0c9d2e-35a4-4a8e-9f59-2c6f0bb7a999"))
    assert status == 404
    event = _get("/customers/cust-ada/bookings", routeKey="GET /customers/{customerId}/bookings")
    status, _, body = _call(aws, context, event)
    assert status == 200 and [b["id"] for b in body["bookings"]] == [booking_id]


def test_search_flights(aws: Any, context: Any) -> None:
    _flight(aws)
    status, _, body = _call(aws, context, _event("api_search_flights.json"))
    assert status == 200
    assert [(f["id"], f["seatsAvailable"], f["ticketPrice"]) for f in body["flights"]] == [
        ("flight-ba117", 3, 45900)]
    event = _event("api_search_flights.json", queryStringParameters={"from": "LHR"},
                   rawQueryString="from=LHR")
    status, _, body = _call(aws, context, event)
    assert (status, body["field"]) == (400, "to")
