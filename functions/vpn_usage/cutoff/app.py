"""Limit queue (SQS) -> block an account over its free quota until its next free cycle.

The aggregation sends {"account_id", "cycle", "usage_bytes", "quota_bytes", "blocked_until"}
when an account's cycle total reaches the quota. Blocking is idempotent (a repeated request
changes nothing) and never shortens a longer block; a request whose cycle has already ended is
acknowledged and ignored. Malformed messages fail alone (partial batch response) and end in
the queue's dead-letter queue after its redrive count.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
processor = BatchProcessor(event_type=EventType.SQS)

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
CYCLE_PATTERN = re.compile(r"\d{4}-\d{2}")
# The sparse index the re-open schedule queries: only blocked accounts carry its key.
BLOCKED = "BLOCKED"


class BadRequest(ValueError):
    """A limit-queue message that is not a cutoff request."""


@dataclass(frozen=True)
class Cutoff:
    account_id: str
    cycle: str
    usage_bytes: int
    quota_bytes: int
    blocked_until: datetime


def parse_cutoff(body: Any) -> Cutoff:
    """A Cutoff from a decoded message body; BadRequest when it is not one."""
    if not isinstance(body, dict):
        raise BadRequest("the message is not a JSON object")
    account_id, cycle = body.get("account_id"), body.get("cycle")
    if not isinstance(account_id, str) or not ID_PATTERN.fullmatch(account_id):
        raise BadRequest("account_id is missing or malformed")
    if not isinstance(cycle, str) or not CYCLE_PATTERN.fullmatch(cycle):
        raise BadRequest("cycle must be YYYY-MM")
    numbers = [body.get(name) for name in ("usage_bytes", "quota_bytes")]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise BadRequest("usage_bytes and quota_bytes must be non-negative integers")
    try:
        until = datetime.fromisoformat(str(body.get("blocked_until")))
    except ValueError as err:
        raise BadRequest("blocked_until must be an ISO 8601 time") from err
    if until.tzinfo is None:
        raise BadRequest("blocked_until must include a time zone")
    return Cutoff(account_id, cycle, numbers[0], numbers[1], until.astimezone(UTC))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def block(ddb: Any, table: str, cutoff: Cutoff, now: datetime) -> bool:
    """Mark the account blocked until `cutoff.blocked_until`; False when nothing changed."""
    if cutoff.blocked_until <= now:
        logger.info("Cycle already over; not blocking", extra={"account_id": cutoff.account_id,
                                                              "cycle": cutoff.cycle})
        return False
    until = _iso(cutoff.blocked_until)
    try:
        ddb.update_item(
            TableName=table,
            Key={"account_id": {"S": cutoff.account_id}, "sk": {"S": "status"}},
            UpdateExpression=("SET #s = :blocked, blocked_until = :until, blocked_at = :now, "
                              "blocked_cycle = :cycle, usage_bytes = :used, "
                              "quota_bytes = :quota, block_state = :state"),
            # Text comparison is time order: both are ...Z timestamps of the same shape.
            ConditionExpression="attribute_not_exists(blocked_until) OR blocked_until < :until",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":blocked": {"S": "blocked"}, ":until": {"S": until}, ":now": {"S": _iso(now)},
                ":cycle": {"S": cutoff.cycle}, ":used": {"N": str(cutoff.usage_bytes)},
                ":quota": {"N": str(cutoff.quota_bytes)}, ":state": {"S": BLOCKED}},
        )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False  # blocked already, as long or longer
        raise
    logger.info("Account blocked", extra={"account_id": cutoff.account_id, "until": until,
                                          "usage_bytes": cutoff.usage_bytes})
    metrics.add_metric(name="AccountsBlocked", unit=MetricUnit.Count, value=1)
    return True


ddb_client = aws.client("dynamodb")


def make_record_handler(ddb: Any, table: str,
                        clock: Callable[[], float] = time.time) -> Callable[[SQSRecord], bool]:
    def record_handler(record: SQSRecord) -> bool:
        try:
            body = record.json_body
        except ValueError as err:
            raise BadRequest("the message is not JSON") from err
        return block(ddb, table, parse_cutoff(body), datetime.fromtimestamp(clock(), UTC))

    return record_handler


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS event source mapping entry point (ReportBatchItemFailures)."""
    return process_partial_response(
        event=event, processor=processor, context=context,
        record_handler=make_record_handler(ddb_client, os.environ["ACCOUNTS_TABLE"]))
