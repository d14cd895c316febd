"""Replica table stream (NEW_IMAGE) -> flattened JSON lines -> Firehose -> S3.

Each new image becomes one JSON line (`{"event": {"S": "page view"}}` -> `{"event": "page
view"}`; numbers as JSON numbers, binary as its base64 text, sets as sorted lists) sent with
PutRecordBatch (at most 500 records and 4 MiB per call). Records Firehose refuses are sent again
with backoff; what is still refused after the last attempt is reported as failed (partial batch
response), so the mapping retries it. A replayed Kinesis record rewrites an identical item,
which DynamoDB Streams does not record, so the archive gets each record once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams,
                           raise_on_entire_batch_failure=False)

PUT_BATCH_MAX_RECORDS = 500
PUT_BATCH_MAX_BYTES = 4 * 1024 * 1024
PUT_ATTEMPTS = 5


class BadRecord(ValueError):
    """A stream record without a new image to archive (a poison record)."""


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def plain(value: dict[str, Any]) -> Any:
    """One attribute value of a stream image as a plain value. Binary stays the base64 text the
    stream carries; sets become sorted lists; numbers Decimal (exact until JSON)."""
    (kind, inner), = value.items()
    if kind in ("S", "B", "BOOL"):
        return inner
    if kind == "N":
        return Decimal(inner)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "L":
        return [plain(v) for v in inner]
    if kind == "NS":
        return sorted(Decimal(v) for v in inner)
    if kind in ("SS", "BS"):
        return sorted(inner)
    raise BadRecord(f"unknown attribute type {kind}")


def flatten(image: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB image (attribute values) as plain values: {"event": {"S": "page view"}} ->
    {"event": "page view"}."""
    return {name: plain(value) for name, value in image.items()}


def json_line(image: dict[str, Any]) -> bytes:
    """One archive line for an image: compact JSON, keys sorted, newline-terminated."""
    return (json.dumps(flatten(image), default=_json_default, sort_keys=True,
                       separators=(",", ":")) + "\n").encode()


def record_handler(record: DynamoDBRecord) -> bytes | None:
    """The archive line of an INSERT/MODIFY record; None for a REMOVE (nothing to archive)."""
    raw = record.raw_event
    if raw.get("eventName") == "REMOVE":
        return None
    image = (raw.get("dynamodb") or {}).get("NewImage")
    if not isinstance(image, dict) or not image:
        raise BadRecord("the record has no NewImage (is the stream view NEW_IMAGE?)")
    return json_line(image)


def put_batches(lines: list[tuple[str, bytes]]) -> list[list[tuple[str, bytes]]]:
    """Split (id, line) pairs into PutRecordBatch calls within the 500 / 4 MiB limits."""
    out: list[list[tuple[str, bytes]]] = []
    current: list[tuple[str, bytes]] = []
    size = 0
    for entry in lines:
        if current and (len(current) == PUT_BATCH_MAX_RECORDS
                        or size + len(entry[1]) > PUT_BATCH_MAX_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(entry)
        size += len(entry[1])
    if current:
        out.append(current)
    return out


def deliver(firehose: Any, stream: str, lines: list[tuple[str, bytes]],
            sleep: Callable[[float], None] = time.sleep) -> tuple[list[str], int]:
    """Send every line; returns (ids still refused after the last attempt, calls made)."""
    refused: list[str] = []
    calls = 0
    for batch in put_batches(lines):
        pending = batch
        for attempt in range(PUT_ATTEMPTS):
            if attempt:
                sleep(min(0.1 * 2 ** attempt, 2.0))
            calls += 1
            out = firehose.put_record_batch(DeliveryStreamName=stream,
                                            Records=[{"Data": data} for _, data in pending])
            if not out.get("FailedPutCount"):
                pending = []
                break
            pending = [entry for entry, result in zip(pending, out["RequestResponses"],
                                                      strict=True) if result.get("ErrorCode")]
        refused.extend(entry_id for entry_id, _ in pending)
    return refused, calls


def handle_batch(records: list[dict[str, Any]], firehose: Any, stream: str,
                 sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Flatten, deliver and report a batch; returns the partial batch response."""
    with processor(records=records, handler=record_handler):
        outcomes = processor.process()
    lines = [(raw["dynamodb"]["SequenceNumber"], line)
             for status, line, raw in outcomes if status == "success" and line is not None]
    refused, calls = deliver(firehose, stream, lines, sleep) if lines else ([], 0)
    failures = processor.response()["batchItemFailures"] + [
        {"itemIdentifier": seq} for seq in refused]
    if refused:
        logger.error("Firehose refused records after every attempt", extra={
            "refused": len(refused), "attempts": PUT_ATTEMPTS})
    metrics.add_metric(name="RecordsArchived", unit=MetricUnit.Count,
                       value=len(lines) - len(refused))
    metrics.add_metric(name="FirehoseCalls", unit=MetricUnit.Count, value=calls)
    metrics.add_metric(name="RecordsNotArchived", unit=MetricUnit.Count, value=len(failures))
    return {"batchItemFailures": failures}


firehose_client = aws.client("firehose")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """DynamoDB stream event source mapping entry point (ReportBatchItemFailures)."""
    records = event.get("Records") or []
    response = handle_batch(records, firehose_client, os.environ["DELIVERY_STREAM"])
    logger.info("Batch archived", extra={"records": len(records),
                                         "failed": len(response["batchItemFailures"])})
    return response
