"""S3 ObjectCreated/ObjectRemoved (through SQS) -> one RefreshCache per file share per batch.

The queue gathers events for up to MaximumBatchingWindowInSeconds; each invocation maps the
batch's changes to the shares that export their bucket/prefix (the FileShares table) and asks
each share once for the folders that changed. A message whose share refused the refresh (an
unknown share, the gateway's two-refreshes-at-a-time limit) is reported as a batch item
failure and made visible again after a backoff, so it is retried; after maxReceiveCount it is
kept in the dead-letter queue. Changes no share exports are logged and counted, not retried.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from boto3.dynamodb.conditions import Key
from gateway_client import GatewayError, make_gateway
from refresh_plan import BadMessage, Change, Share, changes_in, plan, shares_from_items

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
table = aws.resource("dynamodb").Table(os.environ["FILE_SHARES_TABLE"])
sqs = aws.client("sqs")
gateway = make_gateway()
RETRY_DELAY_S = int(os.environ.get("RETRY_DELAY_SECONDS", "60"))
MAX_DELAY_S = 43200  # SQS's largest visibility timeout


def shares_for(buckets: set[str]) -> list[Share]:
    """The configured shares of these buckets (one query per bucket, every page)."""
    items: list[dict[str, Any]] = []
    for bucket in sorted(buckets):
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("bucket").eq(bucket)}
        while True:
            page = table.query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return shares_from_items(items)


def back_off(records: list[Any], failed: set[str]) -> None:
    """Hide failed messages for a delay growing with their receive count (SQS would show
    them again after the whole visibility timeout, with no backoff)."""
    for record in records:
        if record.message_id not in failed:
            continue
        count = int(record.attributes.approximate_receive_count or 1)
        delay = min(MAX_DELAY_S, RETRY_DELAY_S * 2 ** (count - 1))
        queue_url = record.queue_url
        try:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=record.receipt_handle,
                                          VisibilityTimeout=delay)
        except Exception:  # noqa: BLE001 - the visibility timeout applies instead
            logger.warning("Could not delay a retry", extra={"message_id": record.message_id})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    batch = SQSEvent(event)
    records = list(batch.records)
    changes: list[Change] = []
    failed: set[str] = set()
    for record in records:
        try:
            changes += changes_in(record.message_id, record.body)
        except BadMessage as err:
            logger.error("Bad message", extra={"message_id": record.message_id,
                                               "reason": str(err)})
            failed.add(record.message_id)
    refreshes, unmapped = plan(changes, shares_for({c.bucket for c in changes}))
    for change in unmapped:
        logger.warning("No file share exports this object", extra={
            "bucket": change.bucket, "event": change.event_name})
    done = []
    for refresh in refreshes:
        try:
            notification = gateway.refresh_cache(refresh.share.arn, refresh.folders,
                                                 refresh.recursive)
        except GatewayError as err:
            logger.error("RefreshCache refused", extra={"share": refresh.share.arn,
                                                        "code": err.code, "reason": str(err)})
            failed |= refresh.message_ids
            continue
        done.append({"share": refresh.share.arn, "folders": refresh.folders,
                     "recursive": refresh.recursive, "changes": refresh.changes,
                     "notification_id": notification})
        logger.info("RefreshCache started", extra=done[-1])
    metrics.add_metric(name="ObjectChanges", unit=MetricUnit.Count, value=len(changes))
    metrics.add_metric(name="RefreshCacheCalls", unit=MetricUnit.Count, value=len(done))
    metrics.add_metric(name="UnmappedChanges", unit=MetricUnit.Count, value=len(unmapped))
    metrics.add_metric(name="FailedMessages", unit=MetricUnit.Count, value=len(failed))
    back_off(records, failed)
    return {"batchItemFailures": [{"itemIdentifier": i} for i in sorted(failed)],
            "refreshes": done, "changes": len(changes), "unmapped": len(unmapped)}
