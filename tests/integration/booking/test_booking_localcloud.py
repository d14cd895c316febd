"""booking end to end on the local cloud: HTTP API -> ProcessBooking -> tables, SNS, SQS, logs.

One embedded cloud with the booking app deployed (through the root template, so the common
layer's ARN really comes from the SSM parameter). Tests drive it as a client would: HTTP
against the API's base URL from the stack outputs; they observe what a user of AWS could:
the tables, an SQS queue subscribed to the notification topic, the dead-letter queue, the
execution history, and the functions' log lines (EMF metrics included).
"""

from __future__ import annotations

import json
import random
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from localcloud.cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "functions" / "booking"))
import seed  # noqa: E402  (functions/booking/seed.py: the flights the app is seeded with)

pytestmark = pytest.mark.integration

T = TypeVar("T")
VISA, DECLINED = "tok_visa", "tok_chargeDeclined"
TIMEOUT, TIMEOUT_AFTER_CAPTURE = "tok_timeout", "tok_timeoutAfterCapture"
FLIGHT = "flight-ba117"  # LHR-JFK in a week, 45900 GBP
PRICE, CURRENCY = 45900, "GBP"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class Env:
    """The deployed app: outputs, clients, HTTP, and what the functions logged."""

    def __init__(self, cloud: LocalCloud, logs: list[tuple[str, str]],
                 subscriber_url: str) -> None:
        self.cloud = cloud
        self.logs = logs
        self.outputs = cloud.outputs()["booking"]
        self.base = self.outputs["BookingApiUrl"].rstrip("/")
        self.subscriber_url = subscriber_url
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    def http(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None,
             raw: bytes | None = None) -> tuple[int, dict[str, str], Any]:
        data = raw if raw is not None else (json.dumps(body).encode()
                                            if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, out_headers, text = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            status, out_headers, text = err.code, dict(err.headers), err.read()
        return status, out_headers, json.loads(text) if text else None

    def book(self, token: str, *, flight: str = FLIGHT, customer: str = "cust-ada",
             key: str | None = None) -> dict[str, Any]:
        key = key or f"key-{time.monotonic_ns()}"
        status, headers, body = self.http("POST", "/bookings", {
            "customerId": customer, "outboundFlightId": flight, "paymentToken": token,
            "idempotencyKey": key})
        assert status == 202, body
        assert headers["Location"] == f"/bookings/{body['bookingId']}"
        return body

    def wait_execution(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        return wait_for(
            lambda: (d if (d := sfn.describe_execution(executionArn=execution_arn))["status"]
                     != "RUNNING" else None),
            f"execution {execution_arn}", timeout)

    def executions(self) -> int:
        sfn = self.client("stepfunctions")
        arn = self.outputs["ProcessBookingStateMachineArn"]
        return len(sfn.list_executions(stateMachineArn=arn, maxResults=1000)["executions"])

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self.client("stepfunctions").get_execution_history(
            executionArn=execution_arn, maxResults=1000)["events"]

    def flight(self, flight_id: str = FLIGHT) -> dict[str, Any]:
        item = self.client("dynamodb").get_item(TableName=self.outputs["FlightTableName"],
                                                Key={"id": {"S": flight_id}},
                                                ConsistentRead=True)["Item"]
        return {k: (int(v["N"]) if "N" in v else v.get("S", v.get("SS"))) for k, v in item.items()}

    def booking(self, booking_id: str) -> dict[str, Any]:
        status, _, body = self.http("GET", f"/bookings/{booking_id}")
        assert status == 200, body
        return body

    def ledger(self, booking_id: str) -> dict[str, dict[str, Any]]:
        items = self.client("dynamodb").query(
            TableName=self.outputs["PaymentLedgerTableName"], ConsistentRead=True,
            KeyConditionExpression="bookingId = :b",
            ExpressionAttributeValues={":b": {"S": booking_id}})["Items"]
        return {i["entry"]["S"]: {k: (int(v["N"]) if "N" in v else v["S"]) for k, v in i.items()}
                for i in items}

    def _drain(self, name: str, url: str) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        with self._lock:
            box = self._messages.setdefault(name, [])
            while True:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                          MessageAttributeNames=["All"]).get("Messages", [])
                if not got:
                    return list(box)
                for message in got:
                    box.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def notifications(self, booking_id: str) -> list[dict[str, Any]]:
        """The SNS notifications about a booking (the Message of each envelope)."""
        envelopes = self._drain("sns", self.subscriber_url)
        messages = [(json.loads(e["Message"]), e["MessageAttributes"]) for e in envelopes]
        return [{**m, "attribute": attrs["event"]["Value"]} for m, attrs in messages
                if m.get("bookingId") == booking_id]

    def dead_letters(self, booking_id: str) -> list[dict[str, Any]]:
        messages = self._drain("dlq", self.outputs["BookingDeadLetterQueueUrl"])
        return [m for m in messages if m.get("bookingId") == booking_id]

    def log_lines(self, function_output: str) -> list[str]:
        name = self.outputs[function_output]
        return [line for fn, line in list(self.logs) if fn == name]

    def emf(self, function_output: str, metric: str) -> list[dict[str, Any]]:
        """The EMF records of `metric` a function printed."""
        out = []
        for line in self.log_lines(function_output):
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if metric in record and "_aws" in record:
                out.append(record)
        return out


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    logs: list[tuple[str, str]] = []
    cloud = LocalCloud(aws_port=0, api_port=free_port(), quiet=True,
                       log=lambda name, line: logs.append((name, line))).start()
    try:
        cloud.deploy(apps={"booking"})
        cloud.start_api()
        cloud.start_delivery()
        outputs = cloud.outputs()["booking"]
        seed.seed_flights(cloud.client("dynamodb"), outputs["FlightTableName"])
        # A client of the topic: everything published lands in this queue.
        sqs = cloud.client("sqs")
        url = sqs.create_queue(QueueName="booking-test-subscriber")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        cloud.client("sns").subscribe(TopicArn=outputs["BookingNotificationsTopicArn"],
                                      Protocol="sqs", Endpoint=queue_arn)
        yield Env(cloud, logs, url)
    finally:
        cloud.stop()


# --- the common layer through SSM --------------------------------------------------------------


def test_functions_get_the_common_layer_from_the_ssm_parameter(env: Env) -> None:
    ssm_value = env.client("ssm").get_parameter(Name="/local/common-layer-arn")["Parameter"][
        "Value"]
    assert ssm_value.startswith("arn:aws:lambda:us-east-1:123456789012:layer:")
    spec = env.cloud.find_function("booking/ConfirmBookingFunction")
    assert spec.layers == [env.cloud.layers[ssm_value]]
    assert spec.layers[0] == ROOT / "layers" / "common"
    assert spec.environment["POWERTOOLS_METRICS_NAMESPACE"] == "ServerlessAirline"
    assert spec.environment["POWERTOOLS_SERVICE_NAME"] == "booking"


# --- flights -------------------------------------------------------------------------------


def test_search_flights_by_route_and_date(env: Env) -> None:
    status, _, body = env.http("GET", "/flights?from=lhr&to=JFK")
    assert status == 200, body
    by_id = {f["id"]: f for f in body["flights"]}
    assert {"flight-ba117", "flight-vs3", "flight-ba175-departed"} <= set(by_id)
    assert all((f["from"], f["to"]) == ("LHR", "JFK") for f in body["flights"])
    assert by_id["flight-vs3"]["ticketPrice"] == 41250
    day = by_id["flight-ba117"]["departureDateTime"][:10]
    status, _, body = env.http("GET", f"/flights?from=LHR&to=JFK&date={day}")
    assert status == 200
    that_day = {i for i, f in by_id.items() if f["departureDateTime"].startswith(day)}
    assert "flight-ba117" in that_day and "flight-ba175-departed" not in that_day
    assert {f["id"] for f in body["flights"]} == that_day


@pytest.mark.parametrize("query, field", [
    ("?to=JFK", "from"), ("?from=LHR", "to"), ("?from=LONDON&to=JFK", "from"),
    ("?from=LHR&to=JFK&date=next-week", "date"),
])
def test_search_flights_rejects_bad_queries(env: Env, query: str, field: str) -> None:
    status, headers, body = env.http("GET", f"/flights{query}")
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert body["field"] == field and body["code"] == 400 and body["message"]


# --- the three outcomes ----------------------------------------------------------------------


def test_successful_booking(env: Env) -> None:
    before = env.flight()
    accepted = env.book(VISA, customer="cust-success")
    assert (accepted["amount"], accepted["currency"], accepted["status"]) == (PRICE, CURRENCY,
                                                                             "REQUESTED")
    booking_id = accepted["bookingId"]
    described = env.wait_execution(accepted["executionArn"])
    assert described["status"] == "SUCCEEDED", described

    booking = env.booking(booking_id)
    assert booking["status"] == "CONFIRMED"
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{6}", booking["bookingReference"])
    assert (booking["customerId"], booking["outboundFlightId"]) == ("cust-success", FLIGHT)

    after = env.flight()
    assert after["seatCapacity"] == before["seatCapacity"] - 1
    assert after["seatsSold"] == before["seatsSold"] + 1
    assert after["seatsHeld"] == 0 and "heldBy" not in after

    ledger = env.ledger(booking_id)
    assert set(ledger) == {"charge"}
    charge = ledger["charge"]
    assert (charge["status"], charge["amount"], charge["currency"]) == ("CAPTURED", PRICE,
                                                                        CURRENCY)
    assert booking["chargeId"] == charge["chargeId"]
    assert "tok_visa" not in json.dumps(ledger)  # a fingerprint, never the token

    notes = wait_for(lambda: env.notifications(booking_id), "the BookingConfirmed notification")
    assert notes == [{"event": "BookingConfirmed", "bookingId": booking_id,
                      "bookingReference": booking["bookingReference"],
                      "customerId": "cust-success", "outboundFlightId": FLIGHT,
                      "attribute": "BookingConfirmed"}]
    assert env.dead_letters(booking_id) == []

    metric = [r for r in env.emf("ConfirmBookingFunctionName", "BookingSuccessful")
              if r.get("bookingId") == booking_id]
    assert len(metric) == 1 and metric[0]["BookingSuccessful"] == [1.0]
    assert metric[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ServerlessAirline"
    confirmed_logs = [json.loads(line) for line in env.log_lines("ConfirmBookingFunctionName")
                      if '"Booking confirmed"' in line]
    assert any(r["correlation_id"] == booking_id and r["service"] == "booking"
               for r in confirmed_logs)

    status, _, listed = env.http("GET", "/customers/cust-success/bookings")
    assert status == 200
    assert [b["id"] for b in listed["bookings"]] == [booking_id]


@pytest.mark.parametrize("token, reason, charge_status", [
    (DECLINED, "PAYMENT_DECLINED", "DECLINED"),
    (TIMEOUT, "PAYMENT_PROVIDER_UNAVAILABLE", None),
])
def test_payment_failure_cancels_releases_and_charges_nothing(
        env: Env, token: str, reason: str, charge_status: str | None) -> None:
    before = env.flight()
    accepted = env.book(token, customer="cust-declined")
    booking_id = accepted["bookingId"]
    described = env.wait_execution(accepted["executionArn"])
    assert (described["status"], described["error"]) == ("FAILED", "BookingFailed")

    booking = env.booking(booking_id)
    assert (booking["status"], booking["failureReason"]) == ("CANCELLED", reason)
    assert "bookingReference" not in booking
    after = env.flight()
    assert (after["seatCapacity"], after["seatsHeld"], after["seatsSold"]) == (
        before["seatCapacity"], 0, before["seatsSold"])

    ledger = env.ledger(booking_id)
    assert "refund" not in ledger
    assert ledger.get("charge", {}).get("status") == charge_status

    dead = wait_for(lambda: env.dead_letters(booking_id), "the dead-letter message")
    assert len(dead) == 1
    assert dead[0]["kind"] == "BookingFailed"
    assert dead[0]["outcome"] == {"refund": {"status": "NOT_CHARGED", "refundId": None,
                                             "amount": 0},
                                  "cancellation": {"status": "CANCELLED", "reason": reason},
                                  "seatRelease": {"status": "RELEASED"},
                                  "notification": {"status": "SENT"}}
    assert "paymentToken" not in json.dumps(dead[0])
    notes = wait_for(lambda: env.notifications(booking_id), "the BookingFailed notification")
    assert [(n["event"], n["attribute"]) for n in notes] == [("BookingFailed", "BookingFailed")]
    failed = [r for r in env.emf("CancelBookingFunctionName", "BookingFailed")
              if r.get("bookingId") == booking_id]
    assert len(failed) == 1 and failed[0]["reason"] == reason


def test_failure_after_payment_refunds_exactly_once(env: Env) -> None:
    before = env.flight()
    accepted = env.book(TIMEOUT_AFTER_CAPTURE, customer="cust-refund")
    booking_id = accepted["bookingId"]
    described = env.wait_execution(accepted["executionArn"])
    assert described["status"] == "FAILED"

    # CollectPayment ran three times (two retries), yet the ledger holds one charge.
    history = env.history(accepted["executionArn"])
    scheduled = [e for e in history if e["type"] == "TaskScheduled"
                 and "CollectPayment" in e["taskScheduledEventDetails"]["parameters"]]
    assert len(scheduled) == 3
    ledger = env.ledger(booking_id)
    assert set(ledger) == {"charge", "refund"}
    charge, refund = ledger["charge"], ledger["refund"]
    assert (charge["status"], charge["amount"]) == ("REFUNDED", PRICE)
    assert (refund["status"], refund["amount"], refund["chargeId"]) == ("REFUNDED", PRICE,
                                                                        charge["chargeId"])

    booking = env.booking(booking_id)
    assert (booking["status"], booking["failureReason"]) == ("CANCELLED",
                                                             "PAYMENT_PROVIDER_UNAVAILABLE")
    after = env.flight()
    assert (after["seatCapacity"], after["seatsHeld"]) == (before["seatCapacity"], 0)
    dead = wait_for(lambda: env.dead_letters(booking_id), "the dead-letter message")
    assert dead[0]["outcome"]["refund"] == {"status": "REFUNDED", "refundId": refund["refundId"],
                                            "amount": PRICE}

    # The step again (a retry, a replay by an operator): same refund, nothing new.
    name = env.outputs["RefundPaymentFunctionName"]
    for _ in range(2):
        again = env.cloud.invoke(name, {"bookingId": booking_id, "reason": "manual"})
        assert again.ok, again.error
        assert json.loads(again.payload)["refundId"] == refund["refundId"]
    assert env.ledger(booking_id) == ledger


# --- bad input -----------------------------------------------------------------------------

GOOD = {"customerId": "cust-bad", "outboundFlightId": FLIGHT, "paymentToken": VISA,
        "idempotencyKey": "bad-input-0001"}


@pytest.mark.parametrize("body, status, field", [
    ({k: v for k, v in GOOD.items() if k != "paymentToken"}, 400, "paymentToken"),
    ({}, 400, None),
    ({**GOOD, "customerId": 42}, 400, "customerId"),
    ({**GOOD, "customerId": "   "}, 400, "customerId"),
    ({**GOOD, "idempotencyKey": "short"}, 400, "idempotencyKey"),
    ({**GOOD, "flightId": FLIGHT}, 400, "flightId"),
    (["not", "an", "object"], 400, None),
    ({**GOOD, "outboundFlightId": "flight-nowhere"}, 404, "outboundFlightId"),
    ({**GOOD, "outboundFlightId": "flight-ba175-departed"}, 422, "outboundFlightId"),
])
def test_bad_input_is_a_4xx_and_starts_nothing(env: Env, body: Any, status: int,
                                               field: str | None) -> None:
    started = env.executions()
    got, headers, out = env.http("POST", "/bookings", body)
    assert got == status, out
    assert headers["Content-Type"] == "application/json"
    assert out["code"] == status and out["message"]
    assert out.get("field") == field
    assert env.executions() == started


def test_malformed_json_is_a_400(env: Env) -> None:
    started = env.executions()
    status, _, out = env.http("POST", "/bookings", raw=b'{"customerId": ')
    assert status == 400 and out["message"] == "Request body is not valid JSON"
    assert env.executions() == started


def test_repeated_idempotency_key(env: Env) -> None:
    started = env.executions()
    body = {**GOOD, "customerId": "cust-idem", "idempotencyKey": "idem-key-0001"}
    status, headers, first = env.http("POST", "/bookings", body)
    assert status == 202 and "Idempotent-Replayed" not in headers
    # The same body again: the original booking, no second execution.
    status, headers, again = env.http("POST", "/bookings", body)
    assert status == 202 and headers["Idempotent-Replayed"] == "true"
    assert again == first
    # The header form of the key is the same key.
    status, _, header_form = env.http(
        "POST", "/bookings", {k: v for k, v in body.items() if k != "idempotencyKey"},
        headers={"Idempotency-Key": "idem-key-0001"})
    assert status == 202 and header_form["bookingId"] == first["bookingId"]
    # The same key with another body is refused.
    status, _, out = env.http("POST", "/bookings", {**body, "outboundFlightId": "flight-vs3"})
    assert (status, out["field"]) == (422, "idempotencyKey")
    # Keys belong to a customer: another customer's same key is a new booking.
    status, _, other = env.http("POST", "/bookings", {**body, "customerId": "cust-idem-2"})
    assert status == 202 and other["bookingId"] != first["bookingId"]
    assert env.executions() == started + 2
    for accepted in (first, other):
        assert env.wait_execution(accepted["executionArn"])["status"] == "SUCCEEDED"


@pytest.mark.parametrize("path", ["/bookings/not-a-uuid",
                                  "/bookings/5f0c9d2e-35a4-4a8e-9f59-2c6f0bb7a001"])
def test_unknown_booking_is_404(env: Env, path: str) -> None:
    status, _, body = env.http("GET", path)
    assert status == 404 and "not found" in body["message"]


# --- the race ------------------------------------------------------------------------------

RACE_SEATS, RACE_BOOKINGS, RACE_SEED = 10, 50, 20261123


def _race_tokens() -> list[str]:
    """Payment outcomes for the race: seeded, so the same bookings fail on every run."""
    rng = random.Random(RACE_SEED)
    tokens = []
    for _ in range(RACE_BOOKINGS):
        draw = rng.random()
        tokens.append(DECLINED if draw < 0.3 else TIMEOUT_AFTER_CAPTURE if draw < 0.4 else VISA)
    return tokens


@pytest.mark.slow
def test_fifty_bookings_race_for_ten_seats(env: Env) -> None:
    flight = seed.SeedFlight("flight-race", "RC10", "LHR", "CDG", timedelta(days=2),
                             timedelta(hours=1), 9900, "EUR", RACE_SEATS)
    seed.seed_flights(env.client("dynamodb"), env.outputs["FlightTableName"],
                      flights=(flight,), now=datetime.now(UTC))
    tokens = _race_tokens()
    successes = tokens.count(VISA)
    assert tokens.count(TIMEOUT_AFTER_CAPTURE) > 0 and tokens.count(DECLINED) > 0

    # Watch the flight item during the race: its counters must add up at every instant.
    samples: list[dict[str, Any]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(env.flight("flight-race"))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with ThreadPoolExecutor(10) as pool:
            accepted = list(pool.map(
                lambda i: env.book(tokens[i], flight="flight-race", customer=f"racer-{i:02d}",
                                   key=f"race-key-{i:04d}"), range(RACE_BOOKINGS)))
        described = [env.wait_execution(a["executionArn"], timeout=300) for a in accepted]
    finally:
        stop.set()
        sampler.join()

    token_of = {a["bookingId"]: tokens[i] for i, a in enumerate(accepted)}
    bookings = {b: env.booking(b) for b in token_of}
    confirmed = [b for b, booking in bookings.items() if booking["status"] == "CONFIRMED"]
    cancelled = [b for b, booking in bookings.items() if booking["status"] == "CANCELLED"]

    # Exactly min(seats, successful payers) confirmed, and only payers whose card works.
    assert len(confirmed) == min(RACE_SEATS, successes)
    assert len(confirmed) + len(cancelled) == RACE_BOOKINGS
    assert all(token_of[b] == VISA for b in confirmed)
    assert len({bookings[b]["bookingReference"] for b in confirmed}) == len(confirmed)
    for booking_id, outcome in zip(token_of, described, strict=True):
        assert outcome["status"] == ("SUCCEEDED" if booking_id in confirmed else "FAILED")

    # Seats: never below zero, never oversold, none leaked (held by nobody at the end).
    assert samples and all(s["seatCapacity"] >= 0 and s["seatsHeld"] >= 0 for s in samples)
    assert all(s["seatCapacity"] + s["seatsHeld"] + s["seatsSold"] == RACE_SEATS
               for s in samples)
    final = env.flight("flight-race")
    assert (final["seatCapacity"], final["seatsHeld"], final["seatsSold"]) == (
        RACE_SEATS - len(confirmed), 0, len(confirmed))
    assert "heldBy" not in final

    # Money: confirmed bookings captured once; every failed one refunded once or never charged.
    for booking_id in confirmed:
        ledger = env.ledger(booking_id)
        assert set(ledger) == {"charge"} and ledger["charge"]["status"] == "CAPTURED"
        assert ledger["charge"]["amount"] == 9900
    for booking_id in cancelled:
        ledger = env.ledger(booking_id)
        charge = ledger.get("charge")
        if charge is None or charge["status"] == "DECLINED":
            assert "refund" not in ledger  # never charged
        else:
            assert charge["status"] == "REFUNDED", (booking_id, ledger)
            assert ledger["refund"]["amount"] == charge["amount"] == 9900
        reason = bookings[booking_id]["failureReason"]
        expected = {DECLINED: {"PAYMENT_DECLINED", "SOLD_OUT"},
                    TIMEOUT_AFTER_CAPTURE: {"PAYMENT_PROVIDER_UNAVAILABLE", "SOLD_OUT"},
                    VISA: {"SOLD_OUT"}}[token_of[booking_id]]
        assert reason in expected, (booking_id, token_of[booking_id], reason)

    # One dead letter per failed booking, one confirmation per confirmed one.
    wait_for(lambda: all(env.dead_letters(b) for b in cancelled), "every dead-letter message")
    assert all(len(env.dead_letters(b)) == 1 for b in cancelled)
    assert all(env.dead_letters(b) == [] for b in confirmed)
    wait_for(lambda: all(env.notifications(b) for b in token_of), "every notification")
    for booking_id in token_of:
        events = [n["event"] for n in env.notifications(booking_id)]
        assert events == ["BookingConfirmed" if booking_id in confirmed else "BookingFailed"]
