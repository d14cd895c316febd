"""The booking scenario for `localcloud demo`.

Seed the flights, then through the HTTP API (base URL from the stack outputs): search flights,
book one (CONFIRMED, seat sold, payment captured), repeat the request (the same booking back),
have a card declined (CANCELLED, seat released, nothing charged, a dead letter), lose the
provider's answer after it charged (refunded exactly once), send bad input (4xx, nothing
started), and race eight bookings for a three-seat flight (exactly min(3, good cards)
confirmed, no seat leaked). AssertionError when anything misbehaves.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

VISA, DECLINED, TIMEOUT_AFTER_CAPTURE = "tok_visa", "tok_chargeDeclined", "tok_timeoutAfterCapture"
FLIGHT, SMALL_FLIGHT, DEPARTED = "flight-ba117", "flight-ba1440", "flight-ba175-departed"
FINAL = ("CONFIRMED", "CANCELLED")
# Eight racers for three seats; two cards are declined.
RACE_TOKENS = (VISA, DECLINED, VISA, VISA, DECLINED, VISA, VISA, VISA)


class DemoContext(Protocol):
    """What `localcloud demo` hands to a scenario."""

    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def http(self, method: str, url: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


def _seed_module() -> Any:
    spec = importlib.util.spec_from_file_location("booking_seed",
                                                  Path(__file__).with_name("seed.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def expect(condition: bool, message: str) -> None:
    """AssertionError(message) unless `condition` (asserts vanish under python -O)."""
    if not condition:
        raise AssertionError(message)


class Booking:
    """The scenario's view of the app: the API and the tables behind it."""

    def __init__(self, ctx: DemoContext) -> None:
        self.ctx = ctx
        for name in ("BookingApiUrl", "FlightTableName", "PaymentLedgerTableName",
                     "BookingDeadLetterQueueUrl"):
            expect(bool(ctx.outputs.get(name)), f"stack output {name} is missing")
        self.base = ctx.outputs["BookingApiUrl"].rstrip("/")
        self.ddb = ctx.client("dynamodb")

    def post(self, token: str, flight: str = FLIGHT, customer: str = "demo-customer",
             key: str | None = None) -> tuple[int, Any]:
        return self.ctx.http("POST", f"{self.base}/bookings", {
            "customerId": customer, "outboundFlightId": flight, "paymentToken": token,
            "idempotencyKey": key or f"demo-{uuid.uuid4()}"})

    def book(self, token: str, **kw: Any) -> dict[str, Any]:
        status, body = self.post(token, **kw)
        expect(status == 202, f"POST /bookings answered {status}: {body}")
        return body

    def get(self, booking_id: str) -> dict[str, Any]:
        status, body = self.ctx.http("GET", f"{self.base}/bookings/{booking_id}")
        expect(status == 200, f"GET /bookings/{booking_id} answered {status}: {body}")
        return body

    def settled(self, booking_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """The booking once CONFIRMED or CANCELLED (polling the API, as a client would)."""
        return self.ctx.wait_for(f"booking {booking_id} to settle",
                                 lambda: (b if (b := self.get(booking_id))["status"] in FINAL
                                          else None), timeout=timeout, every=0.2)

    def seats(self, flight: str) -> tuple[int, int, int]:
        """(for sale, held, sold) of a flight."""
        item = self.ddb.get_item(TableName=self.ctx.outputs["FlightTableName"],
                                 Key={"id": {"S": flight}}, ConsistentRead=True)["Item"]
        return tuple(int(item[k]["N"]) for k in ("seatCapacity", "seatsHeld", "seatsSold"))

    def ledger(self, booking_id: str) -> dict[str, dict[str, Any]]:
        items = self.ddb.query(TableName=self.ctx.outputs["PaymentLedgerTableName"],
                               ConsistentRead=True, KeyConditionExpression="bookingId = :b",
                               ExpressionAttributeValues={":b": {"S": booking_id}})["Items"]
        return {i["entry"]["S"]: {k: next(iter(v.values())) for k, v in i.items()}
                for i in items}

    def dead_letter(self, booking_id: str) -> dict[str, Any] | None:
        sqs = self.ctx.client("sqs")
        url = self.ctx.outputs["BookingDeadLetterQueueUrl"]
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=0).get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("bookingId") == booking_id:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                return body
        return None


def run(ctx: DemoContext) -> None:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    app = Booking(ctx)
    seeded = _seed_module().seed_flights(app.ddb, ctx.outputs["FlightTableName"])
    ctx.step(f"seeded {len(seeded)} flights into {ctx.outputs['FlightTableName']}")

    status, found = ctx.http("GET", f"{app.base}/flights?from=LHR&to=JFK")
    expect(status == 200, f"GET /flights answered {status}: {found}")
    ids = [f["id"] for f in found["flights"]]
    expect(FLIGHT in ids, f"{FLIGHT} not among the LHR-JFK flights {ids}")
    ctx.step(f"GET /flights?from=LHR&to=JFK -> {len(ids)} flights: {', '.join(ids)}")

    # 1. A booking that goes through.
    before = app.seats(FLIGHT)
    key = f"demo-{uuid.uuid4()}"
    started = time.perf_counter()
    accepted = app.book(VISA, key=key)
    booking = app.settled(accepted["bookingId"])
    took = time.perf_counter() - started
    expect(booking["status"] == "CONFIRMED", f"booking ended {booking}")
    after = app.seats(FLIGHT)
    expect(after == (before[0] - 1, 0, before[2] + 1), f"seats {before} -> {after}")
    charge = app.ledger(accepted["bookingId"]).get("charge", {})
    expect(charge.get("status") == "CAPTURED", f"charge is {charge}")
    ctx.step(f"booked {FLIGHT}: CONFIRMED, reference {booking['bookingReference']}, "
             f"{charge['amount']} {charge['currency']} captured, seats for sale "
             f"{before[0]} -> {after[0]} ({took:.2f} s from POST to CONFIRMED)")

    # 2. The same request again: the same booking, nothing new started.
    replay = app.book(VISA, key=key)
    expect(replay["bookingId"] == accepted["bookingId"], f"replay gave {replay}")
    status, conflict = app.post(DECLINED, key=key)
    expect(status == 422, f"same key, other body answered {status}: {conflict}")
    ctx.step("same idempotency key again -> the original booking; with another body -> 422")

    # 3. A declined card: compensated, nothing charged.
    declined = app.book(DECLINED)
    outcome = app.settled(declined["bookingId"])
    expect((outcome["status"], outcome.get("failureReason")) == ("CANCELLED",
                                                                 "PAYMENT_DECLINED"),
           f"declined booking ended {outcome}")
    expect(app.seats(FLIGHT) == after, f"seat not released: {app.seats(FLIGHT)}")
    ledger = app.ledger(declined["bookingId"])
    expect("refund" not in ledger and ledger["charge"]["status"] == "DECLINED",
           f"declined ledger {ledger}")
    dead = ctx.wait_for("the dead letter", lambda: app.dead_letter(declined["bookingId"]))
    ctx.step(f"declined card: CANCELLED (PAYMENT_DECLINED), seat released, nothing charged, "
             f"dead letter with outcome {dead['outcome']['refund']['status']}")

    # 4. The provider charged, then its answer was lost: refunded, exactly once.
    lost = app.book(TIMEOUT_AFTER_CAPTURE)
    outcome = app.settled(lost["bookingId"])
    expect(outcome["status"] == "CANCELLED", f"booking ended {outcome}")
    ledger = app.ledger(lost["bookingId"])
    expect(ledger.get("charge", {}).get("status") == "REFUNDED" and "refund" in ledger,
           f"ledger after a failure after payment: {ledger}")
    ctx.step(f"provider timed out after charging: CANCELLED, charge {ledger['charge']['chargeId']}"
             f" refunded once ({ledger['refund']['amount']} {ledger['refund']['currency']})")

    # 5. Bad input: a 4xx JSON error, nothing started.
    for body, want in ((
            {"customerId": "demo", "paymentToken": VISA}, 400),
            ({"customerId": "demo", "outboundFlightId": "flight-nowhere", "paymentToken": VISA,
              "idempotencyKey": f"demo-{uuid.uuid4()}"}, 404),
            ({"customerId": "demo", "outboundFlightId": DEPARTED, "paymentToken": VISA,
              "idempotencyKey": f"demo-{uuid.uuid4()}"}, 422)):
        status, answer = ctx.http("POST", f"{app.base}/bookings", body)
        expect(status == want and isinstance(answer, dict) and answer.get("message"),
               f"bad input {body} answered {status}: {answer}")
    ctx.step("missing fields -> 400, unknown flight -> 404, departed flight -> 422")

    # 6. A race for the last seats.
    seats = app.seats(SMALL_FLIGHT)[0]
    with ThreadPoolExecutor(len(RACE_TOKENS)) as pool:
        racers = list(pool.map(lambda t: app.book(t, flight=SMALL_FLIGHT), RACE_TOKENS))
    outcomes = [app.settled(r["bookingId"], timeout=120) for r in racers]
    confirmed = sum(o["status"] == "CONFIRMED" for o in outcomes)
    expected = min(seats, RACE_TOKENS.count(VISA))
    expect(confirmed == expected, f"{confirmed} confirmed, expected {expected}")
    expect(app.seats(SMALL_FLIGHT) == (seats - expected, 0, expected),
           f"seats after the race: {app.seats(SMALL_FLIGHT)}")
    ctx.step(f"{len(RACE_TOKENS)} bookings raced for {seats} seats "
             f"({RACE_TOKENS.count(DECLINED)} cards declined): {confirmed} CONFIRMED, "
             f"{len(RACE_TOKENS) - confirmed} CANCELLED, no seat held or oversold")
