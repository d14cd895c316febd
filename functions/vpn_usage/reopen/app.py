"""Schedule (daily, 00:00 UTC) -> re-open every account whose block has run out.

Blocks last until the start of the next free cycle (the 1st of a month, 00:00 UTC), so the run
at that instant re-opens them; a missed run is made up by the next day's. Blocked accounts are
found through a sparse index (only blocked status rows carry its key), never by a scan. "Now" is
the scheduled event's `time`, so a late delivery re-opens exactly what was due.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

BLOCKED = "BLOCKED"
INDEX = "BlockedUntil"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_time(event: Any, clock: Any = time.time) -> datetime:
    """The scheduled event's time, else now (a manual invocation)."""
    text = event.get("time") if isinstance(event, dict) else None
    if isinstance(text, str):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is not None:
                return moment.astimezone(UTC)
        except ValueError:
            logger.warning("Ignoring a malformed event time", extra={"time": text})
    return datetime.fromtimestamp(clock(), UTC)


def due(ddb: Any, table: str, now: datetime) -> list[dict[str, Any]]:
    """Status rows of accounts blocked until `now` or earlier."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table, "IndexName": INDEX,
        "KeyConditionExpression": "block_state = :b AND blocked_until <= :now",
        "ExpressionAttributeValues": {":b": {"S": BLOCKED}, ":now": {"S": _iso(now)}},
    }
    while True:
        page = ddb.query(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reopen(ddb: Any, table: str, now: datetime) -> list[str]:
    """Re-open every account due at `now`; returns their ids."""
    opened = []
    for item in due(ddb, table, now):
        account_id = item["account_id"]["S"]
        try:
            ddb.update_item(
                TableName=table,
                Key={"account_id": {"S": account_id}, "sk": {"S": "status"}},
                UpdateExpression=("SET #s = :active, reopened_at = :now "
                                  "REMOVE block_state, blocked_until, blocked_cycle"),
                # Only the block we saw: one set since (a later cycle) stays.
                ConditionExpression="blocked_until = :seen",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":active": {"S": "active"}, ":now": {"S": _iso(now)},
                                           ":seen": item["blocked_until"]},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                continue
            raise
        opened.append(account_id)
    return opened


ddb_client = aws.client("dynamodb")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled entry point; returns the accounts re-opened."""
    now = event_time(event)
    opened = reopen(ddb_client, os.environ["ACCOUNTS_TABLE"], now)
    metrics.add_metric(name="AccountsReopened", unit=MetricUnit.Count, value=len(opened))
    logger.info("Accounts re-opened", extra={"count": len(opened), "accounts": opened,
                                             "at": _iso(now)})
    return {"reopened": opened, "at": _iso(now)}
