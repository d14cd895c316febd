"""GET /devices/{device_id}/usage and GET /accounts/{account_id} (HTTP API v2).

A device shows its usage of the last 30 days (per day, or per hour with ?granularity=hour)
from the device-hour rows; an account shows its status (active or blocked, until when) and its
usage against the free quota in the current cycle (a calendar month, UTC).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from common import aws
from common.http import HttpError, api_handler
from common.observability import get_logger, get_tracer
from common.validation import ValidationError

logger = get_logger()
tracer = get_tracer()

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
MAX_DAYS = 30


def _path_id(event: dict[str, Any], name: str) -> str:
    value = (event.get("pathParameters") or {}).get(name) or ""
    if not ID_PATTERN.fullmatch(value):
        raise ValidationError(f"'{name}' may hold letters, digits and . _ : - (at most 128)",
                              field=name)
    return value


def _query_params(event: dict[str, Any]) -> tuple[int, str]:
    params = event.get("queryStringParameters") or {}
    days_text = params.get("days", str(MAX_DAYS))
    if not days_text.isdigit() or not 1 <= int(days_text) <= MAX_DAYS:
        raise ValidationError(f"'days' must be a whole number from 1 to {MAX_DAYS}",
                              field="days")
    granularity = params.get("granularity", "day")
    if granularity not in ("day", "hour"):
        raise ValidationError("'granularity' must be day or hour", field="granularity")
    return int(days_text), granularity


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def cycle_bounds(now: datetime) -> tuple[str, datetime, datetime]:
    """(cycle id "YYYY-MM", start, end) of the calendar-month cycle holding `now` (UTC)."""
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return start.strftime("%Y-%m"), start, end


def _int(item: dict[str, Any], name: str) -> int:
    return int(item.get(name, {}).get("N", "0"))


def summarise_device(device_id: str, items: list[dict[str, Any]], granularity: str,
                     since: datetime, now: datetime) -> dict[str, Any]:
    """Per-day (or per-hour) usage and totals from device-hour rows (low-level items)."""
    periods: dict[str, dict[str, int]] = {}
    total = {"bytes_in": 0, "bytes_out": 0}
    account = None
    for item in items:
        hour = item["hour"]["S"]
        label = hour[:10] if granularity == "day" else hour + ":00Z"
        row = periods.setdefault(label, {"bytes_in": 0, "bytes_out": 0})
        for name in ("bytes_in", "bytes_out"):
            row[name] += _int(item, name)
            total[name] += _int(item, name)
        account = item.get("account_id", {}).get("S", account)
    key = "date" if granularity == "day" else "hour"
    return {
        "device_id": device_id, "account_id": account, "from": _iso(since), "to": _iso(now),
        "granularity": granularity,
        "total": {**total, "bytes": total["bytes_in"] + total["bytes_out"]},
        "usage": [{key: label, **row, "bytes": row["bytes_in"] + row["bytes_out"]}
                  for label, row in sorted(periods.items())],
    }


def device_usage(ddb: Any, table: str, device_id: str, days: int, granularity: str,
                 now: datetime) -> dict[str, Any]:
    since = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "device_id = :d AND #h >= :since",
        # The stamps map (duplicate detection) is not for callers.
        "ProjectionExpression": "#h, account_id, bytes_in, bytes_out",
        "ExpressionAttributeNames": {"#h": "hour"},
        "ExpressionAttributeValues": {":d": {"S": device_id},
                                      ":since": {"S": since.strftime("%Y-%m-%dT%H")}},
    }
    while True:
        page = ddb.query(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if not items:
        raise HttpError(404, f"No usage recorded for device {device_id} in the last {days} "
                             f"day(s)")
    return summarise_device(device_id, items, granularity, since, now)


def account_view(account_id: str, status: dict[str, Any] | None, cycle: dict[str, Any] | None,
                 quota_bytes: int, now: datetime) -> dict[str, Any]:
    """The account's status and current-cycle usage from its two rows (low-level items)."""
    cycle_id, start, end = cycle_bounds(now)
    used = _int(cycle or {}, "bytes")
    status = status or {}
    return {
        "account_id": account_id,
        "status": status.get("status", {}).get("S", "active"),
        "blocked_until": status.get("blocked_until", {}).get("S"),
        "blocked_at": status.get("blocked_at", {}).get("S"),
        "cycle": {"id": cycle_id, "start": _iso(start), "end": _iso(end),
                  "usage_bytes": used, "bytes_in": _int(cycle or {}, "bytes_in"),
                  "bytes_out": _int(cycle or {}, "bytes_out"), "quota_bytes": quota_bytes,
                  "remaining_bytes": max(0, quota_bytes - used)},
    }


def account(ddb: Any, table: str, account_id: str, quota_bytes: int,
            now: datetime) -> dict[str, Any]:
    cycle_id, _, _ = cycle_bounds(now)
    keys = [{"account_id": {"S": account_id}, "sk": {"S": sk}}
            for sk in ("status", f"cycle#{cycle_id}")]
    got: dict[str, dict[str, Any]] = {}
    request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
    while request:
        out = ddb.batch_get_item(RequestItems=request)
        for item in out.get("Responses", {}).get(table, []):
            got[item["sk"]["S"]] = item
        request = out.get("UnprocessedKeys") or {}
    if not got:
        # No status and no usage this cycle: an account that never used the VPN is unknown.
        seen = ddb.query(TableName=table, KeyConditionExpression="account_id = :a",
                         ExpressionAttributeValues={":a": {"S": account_id}}, Limit=1)
        if not seen.get("Items"):
            raise HttpError(404, f"Unknown account {account_id}")
    return account_view(account_id, got.get("status"), got.get(f"cycle#{cycle_id}"),
                        quota_bytes, now)


ddb_client = aws.client("dynamodb")


@tracer.capture_method
def route(event: dict[str, Any], ddb: Any,
          clock: Callable[[], float] = time.time) -> dict[str, Any]:
    now = datetime.fromtimestamp(clock(), UTC)
    route_key = event.get("routeKey", "")
    if route_key == "GET /devices/{device_id}/usage":
        days, granularity = _query_params(event)
        return device_usage(ddb, os.environ["DEVICE_USAGE_TABLE"],
                            _path_id(event, "device_id"), days, granularity, now)
    if route_key == "GET /accounts/{account_id}":
        return account(ddb, os.environ["ACCOUNTS_TABLE"], _path_id(event, "account_id"),
                       int(os.environ.get("FREE_QUOTA_BYTES", str(500 * 1024 * 1024))), now)
    raise HttpError(404, f"No route {route_key}")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """HTTP API entry point for the two GET routes."""
    return route(event, ddb_client)
