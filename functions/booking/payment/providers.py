"""Payment providers behind one small interface, and the local one that keeps a ledger.

`PaymentProvider` is what the collect and refund steps need: `collect` (authorize, then
capture) and `refund`. `LedgerProvider` implements it on a DynamoDB table with one "charge"
entry and at most one "refund" entry per booking, both written conditionally, so however often
a step is retried a booking is charged at most once and refunded at most once (the way a real
provider honours an idempotency key).

Failure injection (never in prod, see the stack): test card tokens fail on purpose, as
payment providers' test cards do.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

# Test card tokens -> the failure they inject (when injection is enabled).
DECLINED_TOKEN = "tok_chargeDeclined"  # the card is declined: nothing is charged
TIMEOUT_TOKEN = "tok_timeout"  # the provider never answers: nothing is charged
TIMEOUT_AFTER_CAPTURE_TOKEN = "tok_timeoutAfterCapture"  # charged, then the answer is lost
INJECTED_FAILURES = {
    DECLINED_TOKEN: "declined",
    TIMEOUT_TOKEN: "timeout",
    TIMEOUT_AFTER_CAPTURE_TOKEN: "timeout_after_capture",
}

CHARGE_ENTRY = "charge"
REFUND_ENTRY = "refund"


class PaymentError(Exception):
    """A payment step that cannot succeed as asked."""


class PaymentDeclined(PaymentError):
    """The card was declined; retrying does not help (Step Functions sees `PaymentDeclined`)."""


class PaymentProviderTimeout(PaymentError):
    """The provider did not answer in time; a retry may succeed (`PaymentProviderTimeout`)."""


@dataclass(frozen=True)
class ChargeRequest:
    booking_id: str
    customer_id: str
    amount: int  # minor units (cents)
    currency: str
    payment_token: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ChargeRequest:
        """The request the ProcessBooking state machine sends; PaymentError when malformed."""
        try:
            request = cls(booking_id=str(event["bookingId"]), customer_id=str(event["customerId"]),
                          amount=event["amount"], currency=str(event["currency"]),
                          payment_token=str(event["paymentToken"]))
        except KeyError as err:
            raise PaymentError(f"charge request is missing {err.args[0]!r}") from None
        if isinstance(request.amount, bool) or not isinstance(request.amount, int) or (
                request.amount <= 0):
            raise PaymentError("charge amount must be a positive integer (minor units)")
        return request


@dataclass(frozen=True)
class Charge:
    charge_id: str
    booking_id: str
    amount: int
    currency: str
    status: str  # AUTHORIZED | CAPTURED | REFUNDED | VOIDED

    def to_dict(self) -> dict[str, Any]:
        """The camelCase shape the state machine reads."""
        return {"chargeId": self.charge_id, "bookingId": self.booking_id, "amount": self.amount,
                "currency": self.currency, "status": self.status}


@dataclass(frozen=True)
class Refund:
    booking_id: str
    status: str  # REFUNDED | VOIDED | NOT_CHARGED
    refund_id: str | None = None
    charge_id: str | None = None
    amount: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The camelCase shape the state machine reads."""
        return {"bookingId": self.booking_id, "status": self.status, "refundId": self.refund_id,
                "chargeId": self.charge_id, "amount": self.amount}


class PaymentProvider(Protocol):
    """What the collect and refund steps need from a payment provider."""

    def collect(self, request: ChargeRequest) -> Charge:
        """Authorize and capture `request.amount`; idempotent per booking."""
        ...

    def refund(self, booking_id: str) -> Refund:
        """Give back what the booking paid (void it if only authorized); idempotent."""
        ...


def injected_failure(token: str, enabled: bool) -> str | None:
    """The failure a test token asks for ("declined", "timeout", ...), None for real cards."""
    return INJECTED_FAILURES.get(token) if enabled else None


def token_fingerprint(token: str) -> str:
    """Enough of a token to tell two apart in the ledger, without storing the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


class LedgerProvider:
    """The local provider: charges and refunds are entries of a DynamoDB ledger table.

    `client` is a low-level DynamoDB client (its ConditionalCheckFailed and TransactionCanceled
    exceptions are used), `table` the ledger table's name.
    """

    def __init__(self, client: Any, table: str, *, failure_injection: bool = False,
                 clock: Callable[[], str] = _now,
                 new_id: Callable[[str], str] = _new_id) -> None:
        self._ddb = client
        self._table = table
        self._inject = failure_injection
        self._clock = clock
        self._new_id = new_id

    # PaymentProvider ------------------------------------------------------------------------
    def collect(self, request: ChargeRequest) -> Charge:
        failure = injected_failure(request.payment_token, self._inject)
        if failure == "timeout":
            raise PaymentProviderTimeout("payment provider did not answer (injected by test token)")
        charge = self._authorize(request, declined=failure == "declined")
        charge = self._capture(charge)
        if failure == "timeout_after_capture":
            raise PaymentProviderTimeout(
                f"charge {charge.charge_id} captured, then the provider's answer was lost "
                f"(injected by test token)")
        return charge

    def refund(self, booking_id: str) -> Refund:
        entries = self._entries(booking_id)
        done = entries.get(REFUND_ENTRY)
        if done is not None:  # refunded already: say so again, never refund twice
            return _refund_of(done)
        charge = entries.get(CHARGE_ENTRY)
        if charge is None or charge["status"]["S"] == "DECLINED":
            return Refund(booking_id=booking_id, status="NOT_CHARGED")
        status = charge["status"]["S"]
        charge_id = charge["chargeId"]["S"]
        if status == "AUTHORIZED":
            return self._void(booking_id, charge_id)
        if status == "VOIDED":
            return Refund(booking_id=booking_id, status="VOIDED", charge_id=charge_id)
        return self._refund_captured(booking_id, charge_id, int(charge["amount"]["N"]),
                                     charge["currency"]["S"])

    # ledger -----------------------------------------------------------------------------------
    def ledger(self, booking_id: str) -> dict[str, dict[str, Any]]:
        """The booking's ledger entries by kind ("charge", "refund"), as plain values."""
        return {kind: {k: _plain(v) for k, v in item.items()}
                for kind, item in self._entries(booking_id).items()}

    def _entries(self, booking_id: str) -> dict[str, dict[str, Any]]:
        out = self._ddb.query(
            TableName=self._table, ConsistentRead=True,
            KeyConditionExpression="bookingId = :b",
            ExpressionAttributeValues={":b": {"S": booking_id}})
        return {item["entry"]["S"]: item for item in out.get("Items", [])}

    def _authorize(self, request: ChargeRequest, *, declined: bool) -> Charge:
        existing = self._entries(request.booking_id).get(CHARGE_ENTRY)
        if existing is None:
            item = {
                "bookingId": {"S": request.booking_id},
                "entry": {"S": CHARGE_ENTRY},
                "chargeId": {"S": self._new_id("ch")},
                "customerId": {"S": request.customer_id},
                "amount": {"N": str(request.amount)},
                "currency": {"S": request.currency},
                "status": {"S": "DECLINED" if declined else "AUTHORIZED"},
                "tokenFingerprint": {"S": token_fingerprint(request.payment_token)},
                "createdAt": {"S": self._clock()},
            }
            try:
                self._ddb.put_item(TableName=self._table, Item=item,
                                   ConditionExpression="attribute_not_exists(bookingId)")
                existing = item
            except self._ddb.exceptions.ConditionalCheckFailedException:
                # A concurrent attempt for the same booking won; use its charge.
                existing = self._entries(request.booking_id)[CHARGE_ENTRY]
        if (int(existing["amount"]["N"]), existing["currency"]["S"]) != (request.amount,
                                                                          request.currency):
            raise PaymentError(f"booking {request.booking_id} was charged "
                               f"{existing['amount']['N']} {existing['currency']['S']} already")
        if existing["status"]["S"] == "DECLINED":
            raise PaymentDeclined(f"card declined for booking {request.booking_id}")
        return _charge_of(existing)

    def _capture(self, charge: Charge) -> Charge:
        if charge.status == "CAPTURED":
            return charge
        try:
            out = self._ddb.update_item(
                TableName=self._table,
                Key={"bookingId": {"S": charge.booking_id}, "entry": {"S": CHARGE_ENTRY}},
                UpdateExpression="SET #status = :captured, capturedAt = :now",
                ConditionExpression="#status IN (:authorized, :captured)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":captured": {"S": "CAPTURED"},
                                           ":authorized": {"S": "AUTHORIZED"},
                                           ":now": {"S": self._clock()}},
                ReturnValues="ALL_NEW")
        except self._ddb.exceptions.ConditionalCheckFailedException:
            raise PaymentError(f"charge {charge.charge_id} was refunded or voided; "
                               f"it cannot be captured") from None
        return _charge_of(out["Attributes"])

    def _void(self, booking_id: str, charge_id: str) -> Refund:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"bookingId": {"S": booking_id}, "entry": {"S": CHARGE_ENTRY}},
                UpdateExpression="SET #status = :voided, voidedAt = :now",
                ConditionExpression="#status = :authorized",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":voided": {"S": "VOIDED"},
                                           ":authorized": {"S": "AUTHORIZED"},
                                           ":now": {"S": self._clock()}})
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return self.refund(booking_id)  # captured meanwhile: refund it instead
        return Refund(booking_id=booking_id, status="VOIDED", charge_id=charge_id)

    def _refund_captured(self, booking_id: str, charge_id: str, amount: int,
                         currency: str) -> Refund:
        refund_id = self._new_id("re")
        now = self._clock()
        try:
            # Both or neither: the charge marked REFUNDED and the one refund entry written.
            self._ddb.transact_write_items(TransactItems=[
                {"Update": {
                    "TableName": self._table,
                    "Key": {"bookingId": {"S": booking_id}, "entry": {"S": CHARGE_ENTRY}},
                    "UpdateExpression": "SET #status = :refunded, refundedAt = :now",
                    "ConditionExpression": "#status = :captured",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":refunded": {"S": "REFUNDED"},
                                                  ":captured": {"S": "CAPTURED"},
                                                  ":now": {"S": now}}}},
                {"Put": {
                    "TableName": self._table,
                    "Item": {"bookingId": {"S": booking_id}, "entry": {"S": REFUND_ENTRY},
                             "refundId": {"S": refund_id}, "chargeId": {"S": charge_id},
                             "amount": {"N": str(amount)}, "currency": {"S": currency},
                             "status": {"S": "REFUNDED"}, "createdAt": {"S": now}},
                    "ConditionExpression": "attribute_not_exists(bookingId)"}},
            ])
        except self._ddb.exceptions.TransactionCanceledException:
            done = self._entries(booking_id).get(REFUND_ENTRY)
            if done is None:
                raise
            return _refund_of(done)  # a concurrent attempt refunded it
        return Refund(booking_id=booking_id, status="REFUNDED", refund_id=refund_id,
                      charge_id=charge_id, amount=amount)


def _charge_of(item: dict[str, Any]) -> Charge:
    return Charge(charge_id=item["chargeId"]["S"], booking_id=item["bookingId"]["S"],
                  amount=int(item["amount"]["N"]), currency=item["currency"]["S"],
                  status=item["status"]["S"])


def _refund_of(item: dict[str, Any]) -> Refund:
    return Refund(booking_id=item["bookingId"]["S"], status="REFUNDED",
                  refund_id=item["refundId"]["S"], charge_id=item["chargeId"]["S"],
                  amount=int(item["amount"]["N"]))


def _plain(value: dict[str, Any]) -> Any:
    kind, raw = next(iter(value.items()))
    return int(raw) if kind == "N" else raw
