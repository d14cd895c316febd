"""POST /usage: an edge server's usage for one minute -> one stream record per account/device.

The stats splitter of the seed: one payload holds many users' usage; each entry becomes a
record on the usage stream with partition key "<account>/<device>", so one device's records
stay in order on one shard. The edge server may send the same payload again (a retry after a
timeout): the aggregation drops such duplicates, so a 503 here is always safe to retry.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from common import aws
from common.http import HttpError, api_handler, json_response, parse_json_body
from common.observability import get_logger, get_metrics, get_tracer
from common.validation import (
    ValidationError,
    require_list,
    require_number,
    require_object,
    require_str,
)

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
MAX_ENTRIES = 10_000  # about 1 MB of JSON, well inside API Gateway's and Lambda's limits
MAX_BYTES_PER_MINUTE = 10**12
MAX_CLOCK_SKEW_S = 300  # a report from the future beyond this is a broken clock
PUT_RECORDS_MAX = 500  # Kinesis PutRecords: at most 500 records and 5 MiB per call
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024
PUT_ATTEMPTS = 4


@dataclass(frozen=True)
class Entry:
    account_id: str
    device_id: str
    bytes_in: int
    bytes_out: int


@dataclass(frozen=True)
class Report:
    """A checked POST /usage body."""

    server_id: str
    minute: int
    reported_at: int
    entries: list[Entry]


def _instant(obj: dict[str, Any], name: str, optional: bool = False) -> int | None:
    text = require_str(obj, name, max_length=40, optional=optional)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise ValidationError(f"Field '{name}' must be an ISO 8601 time", field=name) from err
    if value.tzinfo is None:
        raise ValidationError(f"Field '{name}' must include a time zone (e.g. Z)", field=name)
    return int(value.timestamp())


def _id(obj: dict[str, Any], name: str, where: str) -> str:
    value = require_str(obj, name, max_length=128)
    assert value is not None
    if not ID_PATTERN.fullmatch(value):
        raise ValidationError(f"Field '{where}{name}' may hold letters, digits and . _ : - "
                              f"(starting with a letter or digit)", field=name)
    return value


def parse_report(body: Any, received_at: int) -> Report:
    """The report a POST body holds, or ValidationError (400) naming what is wrong."""
    obj = require_object(body)
    server_id = _id(obj, "server_id", "")
    minute = _instant(obj, "minute")
    assert minute is not None
    if minute % 60:
        raise ValidationError("Field 'minute' must be the start of a minute (seconds 00)",
                              field="minute")
    reported_at = _instant(obj, "reported_at", optional=True)
    reported_at = received_at if reported_at is None else reported_at
    if reported_at < minute:
        raise ValidationError("Field 'reported_at' must not be before 'minute'",
                              field="reported_at")
    if reported_at > received_at + MAX_CLOCK_SKEW_S or minute > received_at + MAX_CLOCK_SKEW_S:
        raise ValidationError("The report is from the future; check the server's clock",
                              field="reported_at")
    items = require_list(obj, "usage", item_type=dict, min_length=1, max_length=MAX_ENTRIES)
    assert items is not None
    entries: list[Entry] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        where = f"usage[{index}]."
        account_id, device_id = _id(item, "account_id", where), _id(item, "device_id", where)
        if (account_id, device_id) in seen:
            raise ValidationError(f"usage[{index}] repeats device {device_id} of account "
                                  f"{account_id}; send one entry per device", field="usage")
        seen.add((account_id, device_id))
        counts = [require_number(item, name, minimum=0, maximum=MAX_BYTES_PER_MINUTE,
                                 integer=True) for name in ("bytes_in", "bytes_out")]
        entries.append(Entry(account_id, device_id, int(counts[0] or 0), int(counts[1] or 0)))
    return Report(server_id, minute, reported_at, entries)


def stream_records(report: Report) -> list[dict[str, Any]]:
    """PutRecords entries: one JSON record per account/device (the aggregation's input)."""
    out = []
    for e in report.entries:
        data = json.dumps({"account_id": e.account_id, "device_id": e.device_id,
                           "server_id": report.server_id, "minute": report.minute,
                           "reported_at": report.reported_at, "bytes_in": e.bytes_in,
                           "bytes_out": e.bytes_out}, separators=(",", ":"))
        out.append({"Data": data.encode(), "PartitionKey": f"{e.account_id}/{e.device_id}"})
    return out


def chunks(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split into PutRecords calls within the 500-record and 5 MiB limits."""
    out: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for record in records:
        record_size = len(record["Data"]) + len(record["PartitionKey"].encode())
        if current and (len(current) == PUT_RECORDS_MAX or size + record_size >
                        PUT_RECORDS_MAX_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(record)
        size += record_size
    if current:
        out.append(current)
    return out


def put_all(kinesis: Any, stream: str, records: list[dict[str, Any]],
            sleep: Any = time.sleep) -> int:
    """Put every record, retrying the ones Kinesis refused (throttling); returns how many
    could not be put after the last attempt."""
    left = 0
    for chunk in chunks(records):
        pending = chunk
        for attempt in range(PUT_ATTEMPTS):
            if attempt:
                sleep(0.1 * 2 ** attempt)
            out = kinesis.put_records(StreamName=stream, Records=pending)
            if not out.get("FailedRecordCount"):
                pending = []
                break
            pending = [rec for rec, res in zip(pending, out["Records"], strict=True)
                       if res.get("ErrorCode")]
        left += len(pending)
    return left


@tracer.capture_method
def ingest(event: dict[str, Any], kinesis: Any, stream: str) -> dict[str, Any]:
    metrics.add_metric(name="UsageReports", unit=MetricUnit.Count, value=1)
    received = (event.get("requestContext") or {}).get("timeEpoch")
    received_at = int(received / 1000) if isinstance(received, int) else int(time.time())
    report = parse_report(parse_json_body(event), received_at)
    failed = put_all(kinesis, stream, stream_records(report))
    if failed:
        logger.error("Usage not put on the stream", extra={"failed": failed,
                                                           "server_id": report.server_id})
        raise HttpError(503, "The usage stream is busy; send the report again",
                        failed=failed)
    metrics.add_metric(name="UsageEntriesAccepted", unit=MetricUnit.Count,
                       value=len(report.entries))
    logger.info("Report accepted", extra={"server_id": report.server_id,
                                          "entries": len(report.entries),
                                          "minute": report.minute})
    minute = datetime.fromtimestamp(report.minute, UTC).isoformat().replace("+00:00", "Z")
    return json_response(202, {"accepted": len(report.entries), "server_id": report.server_id,
                               "minute": minute})


kinesis_client = aws.client("kinesis")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """HTTP API entry point: POST /usage."""
    return ingest(event, kinesis_client, os.environ["USAGE_STREAM"])
