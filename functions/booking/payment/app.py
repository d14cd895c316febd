"""ProcessBooking's payment steps: CollectPayment and RefundPayment (two handlers, one package).

Both are idempotent twice over: Powertools idempotency (keyed on the booking id, records in the
stack's idempotency table) answers a retried step with the first result without calling the
provider, and the provider itself charges and refunds at most once per booking (its ledger's
conditional writes), which covers a retry after a failed attempt that did charge.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from providers import (
    ChargeRequest,
    LedgerProvider,
    PaymentDeclined,
    PaymentError,
    PaymentProvider,
    PaymentProviderTimeout,
)

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

# Some outcomes publish no metric (a read, a replay); Powertools would warn on each.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

# Created once per execution environment (the seed's practice), reused by every invocation.
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"],
                                       boto3_client=aws.client("dynamodb"))
# A day covers any retry of a booking; a different amount for the same booking is an error.
collect_config = IdempotencyConfig(event_key_jmespath="bookingId",
                                   payload_validation_jmespath="[amount, currency]",
                                   raise_on_no_idempotency_key=True, expires_after_seconds=86400)
refund_config = IdempotencyConfig(event_key_jmespath="bookingId",
                                  raise_on_no_idempotency_key=True, expires_after_seconds=86400)
provider: PaymentProvider = LedgerProvider(
    aws.client("dynamodb"), os.environ["PAYMENT_LEDGER_TABLE_NAME"],
    failure_injection=os.environ.get("PAYMENT_FAILURE_INJECTION") == "enabled")


@tracer.capture_method
def collect_payment(payments: PaymentProvider, event: dict[str, Any]) -> dict[str, Any]:
    """Authorize and capture the booking's amount; the charge as the state machine reads it."""
    request = ChargeRequest.from_event(event)
    try:
        charge = payments.collect(request)
    except PaymentDeclined:
        metrics.add_metric(name="PaymentDeclined", unit=MetricUnit.Count, value=1)
        logger.warning("Payment declined")
        raise
    except PaymentProviderTimeout as err:
        metrics.add_metric(name="PaymentProviderTimeout", unit=MetricUnit.Count, value=1)
        logger.warning("Payment provider timed out", extra={"reason": str(err)})
        raise
    metrics.add_metric(name="PaymentCollected", unit=MetricUnit.Count, value=1)
    logger.info("Payment collected", extra={"charge_id": charge.charge_id,
                                            "amount": charge.amount, "currency": charge.currency})
    return charge.to_dict()


@tracer.capture_method
def refund_payment(payments: PaymentProvider, event: dict[str, Any]) -> dict[str, Any]:
    """Refund (or void) whatever the booking paid; says NOT_CHARGED when it paid nothing."""
    booking_id = event.get("bookingId")
    if not isinstance(booking_id, str) or not booking_id:
        raise PaymentError("refund request is missing 'bookingId'")
    refund = payments.refund(booking_id)
    if refund.status == "REFUNDED":
        metrics.add_metric(name="PaymentRefunded", unit=MetricUnit.Count, value=1)
    logger.info("Refund done", extra={"status": refund.status, "refund_id": refund.refund_id,
                                      "amount": refund.amount, "reason": event.get("reason")})
    return refund.to_dict()


@logger.inject_lambda_context(correlation_id_path="bookingId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@idempotent(config=collect_config, persistence_store=persistence)
def collect_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """CollectPayment: {bookingId, customerId, amount, currency, paymentToken} -> the charge."""
    return collect_payment(provider, event)


@logger.inject_lambda_context(correlation_id_path="bookingId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@idempotent(config=refund_config, persistence_store=persistence)
def refund_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """RefundPayment: {bookingId, reason} -> {status: REFUNDED|VOIDED|NOT_CHARGED, ...}."""
    return refund_payment(provider, event)
