"""The payment provider (ledger, failure injection) and the collect/refund handlers."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyKeyError,
    IdempotencyValidationError,
)
from providers import (
    ChargeRequest,
    LedgerProvider,
    PaymentDeclined,
    PaymentError,
    PaymentProviderTimeout,
    injected_failure,
    token_fingerprint,
)

BOOKING = "b-0001"
# Handlers that publish no metric on some outcomes silence Powertools' warning themselves;
# pytest resets warning filters per test.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def request(token: str = "tok_visa", booking: str = BOOKING, amount: int = 12900) -> ChargeRequest:
    return ChargeRequest(booking_id=booking, customer_id="cust-1", amount=amount,
                         currency="EUR", payment_token=token)


@pytest.fixture
def provider(aws: Any) -> LedgerProvider:
    return LedgerProvider(aws.ddb, "ledger", failure_injection=True)


def test_collect_captures_once_per_booking(provider: LedgerProvider) -> None:
    charge = provider.collect(request())
    assert (charge.status, charge.amount, charge.currency) == ("CAPTURED", 12900, "EUR")
    again = provider.collect(request())
    assert again == charge  # a retry gets the same charge, not a second one
    ledger = provider.ledger(BOOKING)
    assert set(ledger) == {"charge"}
    assert ledger["charge"]["chargeId"] == charge.charge_id
    assert ledger["charge"]["tokenFingerprint"] == token_fingerprint("tok_visa")
    assert "tok_visa" not in str(ledger)


def test_collect_refuses_another_amount_for_the_same_booking(provider: LedgerProvider) -> None:
    provider.collect(request())
    with pytest.raises(PaymentError, match="charged 12900 EUR already"):
        provider.collect(request(amount=100))


def test_declined_card_is_recorded_and_never_charged(provider: LedgerProvider) -> None:
    for _ in range(2):  # deterministic: the retry is declined too
        with pytest.raises(PaymentDeclined):
            provider.collect(request("tok_chargeDeclined"))
    assert provider.ledger(BOOKING)["charge"]["status"] == "DECLINED"
    refund = provider.refund(BOOKING)
    assert (refund.status, refund.amount, refund.refund_id) == ("NOT_CHARGED", 0, None)
    assert "refund" not in provider.ledger(BOOKING)


def test_timeout_before_charging_leaves_no_trace(provider: LedgerProvider) -> None:
    with pytest.raises(PaymentProviderTimeout):
        provider.collect(request("tok_timeout"))
    assert provider.ledger(BOOKING) == {}
    assert provider.refund(BOOKING).status == "NOT_CHARGED"


def test_timeout_after_capture_then_refund_exactly_once(provider: LedgerProvider) -> None:
    for _ in range(3):  # the state machine's attempts
        with pytest.raises(PaymentProviderTimeout, match="captured"):
            provider.collect(request("tok_timeoutAfterCapture"))
    assert provider.ledger(BOOKING)["charge"]["status"] == "CAPTURED"
    first = provider.refund(BOOKING)
    assert (first.status, first.amount) == ("REFUNDED", 12900)
    assert first.refund_id and first.refund_id.startswith("re_")
    assert provider.refund(BOOKING) == first
    ledger = provider.ledger(BOOKING)
    assert ledger["charge"]["status"] == "REFUNDED"
    assert (ledger["refund"]["refundId"], ledger["refund"]["amount"]) == (first.refund_id, 12900)


def test_refund_voids_an_authorization_that_was_never_captured(aws: Any,
                                                              provider: LedgerProvider) -> None:
    charge = provider._authorize(request(), declined=False)
    assert charge.status == "AUTHORIZED"
    refund = provider.refund(BOOKING)
    assert (refund.status, refund.amount, refund.charge_id) == ("VOIDED", 0, charge.charge_id)
    assert provider.ledger(BOOKING)["charge"]["status"] == "VOIDED"
    with pytest.raises(PaymentError, match="cannot be captured"):
        provider._capture(charge)


def test_injection_is_off_unless_enabled(aws: Any) -> None:
    provider = LedgerProvider(aws.ddb, "ledger", failure_injection=False)
    assert provider.collect(request("tok_chargeDeclined")).status == "CAPTURED"
    assert injected_failure("tok_timeout", enabled=False) is None
    assert injected_failure("tok_timeout", enabled=True) == "timeout"
    assert injected_failure("tok_visa", enabled=True) is None


@pytest.mark.parametrize("event, message", [
    ({"customerId": "c", "amount": 1, "currency": "EUR", "paymentToken": "t"}, "bookingId"),
    ({"bookingId": "b", "customerId": "c", "amount": 0, "currency": "EUR", "paymentToken": "t"},
     "positive integer"),
    ({"bookingId": "b", "customerId": "c", "amount": True, "currency": "EUR",
      "paymentToken": "t"}, "positive integer"),
])
def test_charge_request_is_checked(event: dict[str, Any], message: str) -> None:
    with pytest.raises(PaymentError, match=message):
        ChargeRequest.from_event(event)


# --- handlers ----------------------------------------------------------------------------


class CountingProvider:
    def __init__(self, inner: LedgerProvider) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def collect(self, req: ChargeRequest) -> Any:
        self.calls.append("collect")
        return self.inner.collect(req)

    def refund(self, booking_id: str) -> Any:
        self.calls.append("refund")
        return self.inner.refund(booking_id)


def _event(token: str = "tok_visa", amount: int = 12900) -> dict[str, Any]:
    return {"bookingId": BOOKING, "customerId": "cust-1", "amount": amount, "currency": "EUR",
            "paymentToken": token}


def test_collect_handler_is_idempotent(aws: Any, context: Any, provider: LedgerProvider,
                                       monkeypatch: pytest.MonkeyPatch, capsys: Any,
                                       emf: Any) -> None:
    payment = aws.modules["payment"]
    counting = CountingProvider(provider)
    monkeypatch.setattr(payment, "provider", counting)
    first = payment.collect_handler(_event(), context)
    assert first["status"] == "CAPTURED" and first["chargeId"].startswith("ch_")
    assert payment.collect_handler(_event(), context) == first
    assert counting.calls == ["collect"]  # the replay never reached the provider
    assert len(emf(capsys.readouterr().out, "PaymentCollected")) == 1
    with pytest.raises(IdempotencyValidationError):
        payment.collect_handler(_event(amount=1), context)


def test_collect_handler_lets_failures_through_for_the_state_machine(
        aws: Any, context: Any, capsys: Any, emf: Any) -> None:
    payment = aws.modules["payment"]
    with pytest.raises(PaymentDeclined):
        payment.collect_handler(_event("tok_chargeDeclined"), context)
    assert len(emf(capsys.readouterr().out, "PaymentDeclined")) == 1
    # A failed attempt leaves no idempotency record: the next attempt runs (and fails) again.
    with pytest.raises(PaymentDeclined):
        payment.collect_handler(_event("tok_chargeDeclined"), context)


def test_refund_handler_refunds_once(aws: Any, context: Any, provider: LedgerProvider) -> None:
    payment = aws.modules["payment"]
    with pytest.raises(PaymentProviderTimeout):
        payment.collect_handler(_event("tok_timeoutAfterCapture"), context)
    refund = payment.refund_handler({"bookingId": BOOKING, "reason": "PaymentProviderTimeout"},
                                    context)
    assert (refund["status"], refund["amount"]) == ("REFUNDED", 12900)
    assert payment.refund_handler({"bookingId": BOOKING}, context) == refund
    assert provider.ledger(BOOKING)["refund"]["refundId"] == refund["refundId"]


def test_refund_handler_needs_a_booking_id(aws: Any, context: Any) -> None:
    # No key, no refund: the idempotency layer refuses before the provider is asked.
    with pytest.raises(IdempotencyKeyError):
        aws.modules["payment"].refund_handler({"reason": "x"}, context)
