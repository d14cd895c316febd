"""Usage stream (Kinesis) -> aggregate the batch -> DynamoDB, the S3 data lake, the limit queue.

Records are parsed with Powertools' BatchProcessor. A record that is not usage (a poison record)
is reported with every record after it (ReportBatchItemFailures): Kinesis resumes a shard at the
lowest failed sequence number, so only the records before it are counted now, and the event
source mapping's bisection isolates the poison record until it goes to the on-failure queue.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)
from usage_aggregation import Usage, parse_usage
from usage_store import BatchResult, Settings, UsageStore

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
# All-poison batches are reported like any other (not raised): the mapping bisects either way.
processor = BatchProcessor(event_type=EventType.KinesisDataStreams,
                           raise_on_entire_batch_failure=False)
_store: UsageStore | None = None


def settings_from_env() -> Settings:
    env = os.environ
    return Settings(
        device_table=env["DEVICE_USAGE_TABLE"],
        accounts_table=env["ACCOUNTS_TABLE"],
        lake_bucket=env["LAKE_BUCKET"],
        limit_queue_url=env["LIMIT_QUEUE_URL"],
        duplicate_window_s=int(env.get("DUPLICATE_WINDOW_MINUTES", "50")) * 60,
        quota_bytes=int(env.get("FREE_QUOTA_BYTES", str(500 * 1024 * 1024))),
        device_ttl_days=int(env.get("DEVICE_USAGE_TTL_DAYS", "35")),
    )


def get_store() -> UsageStore:
    """The store, built once per execution environment (clients reused across invocations)."""
    global _store
    if _store is None:
        _store = UsageStore(aws.client("dynamodb"), aws.client("s3"), aws.client("sqs"),
                            settings_from_env())
    return _store


def record_handler(record: KinesisStreamRecord) -> Usage:
    """One stream record -> Usage; BadRecord (a poison record) when it is not one."""
    return parse_usage(record.kinesis.data_as_bytes())


def batch_id(records: list[dict[str, Any]]) -> str:
    """Names the lake objects of a batch: shard and first/last sequence number."""
    shard = records[0]["eventID"].split(":", 1)[0]
    first, last = records[0]["kinesis"]["sequenceNumber"], records[-1]["kinesis"]["sequenceNumber"]
    return f"{shard}-{first}-{last}"


def report_derived_error(sink: str, err: Exception, rows: Any) -> None:
    """A write after the device-hours failed: log the rows (to replay them), count it."""
    logger.error("Derived aggregate not written", extra={"sink": sink, "error": str(err),
                                                         "rows": rows})
    metrics.add_metric(name="DerivedWriteFailures", unit=MetricUnit.Count, value=1)


def handle_batch(records: list[dict[str, Any]], store: UsageStore
                 ) -> tuple[dict[str, Any], BatchResult]:
    """Parse, count and write a batch; returns (the partial batch response, what was done)."""
    with processor(records=records, handler=record_handler):
        outcomes = processor.process()
    first_bad = next((i for i, outcome in enumerate(outcomes) if outcome[0] == "fail"),
                     len(records))
    usable = [outcome[1] for outcome in outcomes[:first_bad]]
    result = (store.process(usable, batch_id(records[:first_bad]), report_derived_error)
              if usable else BatchResult())
    failed = records[first_bad:]
    if failed:
        logger.warning("Poison record; it and the records after it are retried", extra={
            "sequence_number": failed[0]["kinesis"]["sequenceNumber"],
            "error": outcomes[first_bad][1], "not_processed": len(failed)})
    response = {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]}
                                      for r in failed]}
    return response, result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Kinesis event source mapping entry point (ReportBatchItemFailures)."""
    store = get_store()
    writes_before = store.counters.dynamodb_writes
    records = event.get("Records") or []
    response, result = handle_batch(records, store)
    poison = 1 if response["batchItemFailures"] else 0
    for name, value in (("RecordsReceived", len(records)), ("UsageCounted", len(result.counted)),
                        ("DuplicatesDropped", len(result.dropped)), ("PoisonRecords", poison),
                        ("DynamoDBWrites", store.counters.dynamodb_writes - writes_before),
                        ("AccountsOverQuota", len(result.over_quota))):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info("Batch aggregated", extra={
        "records": len(records), "counted": len(result.counted),
        "duplicates": len(result.dropped), "device_hours": len(result.aggregates.device_hours),
        "accounts_over_quota": [r["account_id"] for r in result.over_quota],
        "lake_objects": len(result.lake_keys)})
    return response
