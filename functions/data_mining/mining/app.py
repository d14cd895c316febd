"""data_mining: the four Lambda steps (one code folder, four functions).

- start_handler (S3 uploads/<name>.csv): starts the mining state machine for the upload.
- etl_handler: clean and standardise the dataset, store each item in the items table, write the
  identifiers to S3 (the Map state reads them from there: a long list never rides in the state).
- scrape_handler (one Map item): ask every configured source about one identifier; each answer
  goes to the responses bucket as <source>/<identifier>.json.
- populate_handler: map the sources' property names to unified ones (the mapping table) and
  write the unified properties to the items. Invoke it alone after editing the mapping.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import requests
from dm_etl import DatasetError, read_dataset
from dm_populate import PopulateStats, mapping_from_items, unify
from dm_sources import (
    DynamoRateLimiter,
    HttpSource,
    RateLimiter,
    build_sources,
    response_document,
)

from common.aws import client, resource
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

DEFAULT_MAX_CONCURRENCY = 8
SOURCES_TTL_SECONDS = 30.0
UPLOAD_PREFIX = "uploads/"


class StepInputError(ValueError):
    """The step was called with something the state machine does not send."""


def _scan(table: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _dynamo_value(value: Any) -> Any:
    """JSON values as DynamoDB accepts them (floats as Decimal)."""
    from decimal import Decimal

    return json.loads(json.dumps(value, default=str), parse_float=Decimal)


# --- start --------------------------------------------------------------------------------

def execution_name(key: str, etag: str) -> str:
    """One execution per uploaded object version (S3 may deliver an event twice)."""
    stem = re.sub(r"[^A-Za-z0-9_-]", "-", key.rsplit("/", 1)[-1].removesuffix(".csv"))[:50]
    return f"{stem}-{hashlib.sha1(f'{key}/{etag}'.encode()).hexdigest()[:16]}"


# --- etl ----------------------------------------------------------------------------------

def run_etl(event: Mapping[str, Any], *, s3: Any, items_table: Any, data_bucket: str,
            max_concurrency: int) -> dict[str, Any]:
    """Dataset -> items table + identifiers object; returns what the Map needs."""
    run_id, bucket, key = event.get("run_id"), event.get("bucket"), event.get("key")
    if not all(isinstance(v, str) and v for v in (run_id, bucket, key)):
        raise StepInputError('etl expects {"run_id", "bucket", "key"}')
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    cleaned = read_dataset(data)
    now = datetime.now(UTC).isoformat()
    with items_table.batch_writer(overwrite_by_pkeys=["item_id"]) as batch:
        for item in cleaned.items:
            batch.put_item(Item={**item, "run_id": run_id, "source_file": f"s3://{bucket}/{key}",
                                 "loaded_at": now})
    identifiers_key = f"runs/{run_id}/identifiers.json"
    s3.put_object(Bucket=data_bucket, Key=identifiers_key, ContentType="application/json",
                  Body=json.dumps(cleaned.identifiers).encode())
    result = {"run_id": run_id, "dataset": f"s3://{bucket}/{key}", "rows": cleaned.rows,
              "items": len(cleaned.items), "dropped_no_sku": cleaned.dropped_no_sku,
              "duplicates": cleaned.duplicates, "max_concurrency": max_concurrency,
              "identifiers": {"bucket": data_bucket, "key": identifiers_key}}
    logger.info("Dataset loaded", extra=result)
    return result


# --- scrape -------------------------------------------------------------------------------

def scrape_item(identifier: str, sources: list[HttpSource], *, session: requests.Session,
                limiter: RateLimiter, s3: Any, responses_bucket: str) -> dict[str, Any]:
    """Every source about one identifier; each answer stored as <source>/<identifier>.json."""
    statuses = {}
    for source in sources:
        fetched = source.fetch(identifier, session, limiter)
        s3.put_object(Bucket=responses_bucket, Key=f"{source.name}/{identifier}.json",
                      ContentType="application/json", Body=response_document(fetched))
        statuses[source.name] = fetched.status
        if fetched.status == "error":
            logger.warning("Source failed", extra={"source": source.name,
                                                   "identifier": identifier,
                                                   "error": fetched.error,
                                                   "attempts": fetched.attempts})
    return {"identifier": identifier, "statuses": statuses}


# --- populate -----------------------------------------------------------------------------

def read_response(s3: Any, bucket: str, source: str, identifier: str) -> dict[str, Any]:
    try:
        body = s3.get_object(Bucket=bucket, Key=f"{source}/{identifier}.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return {"source": source, "status": "missing", "properties": {}}
    return json.loads(body)


def populate(identifiers: list[str], *, s3: Any, responses_bucket: str, items_table: Any,
             mapping: Mapping[str, dict[str, str]], sources: list[HttpSource]) -> dict[str, Any]:
    """Unified properties written to every item; statistics for the run summary."""
    stats = PopulateStats()
    priority = {s.name: s.priority for s in sources}
    names = [s.name for s in sources]
    now = datetime.now(UTC).isoformat()
    for identifier in identifiers:
        responses = [read_response(s3, responses_bucket, name, identifier) for name in names]
        unified = unify(responses, mapping, priority)
        items_table.update_item(
            Key={"item_id": identifier},
            UpdateExpression="SET #p = :p, property_sources = :o, source_statuses = :s, "
                             "populated_at = :t",
            ExpressionAttributeNames={"#p": "properties"},
            ExpressionAttributeValues={":p": _dynamo_value(unified.properties),
                                       ":o": unified.property_sources,
                                       ":s": unified.statuses, ":t": now})
        stats.add(unified, names)
    return stats.as_dict()


# --- handlers -----------------------------------------------------------------------------

_s3 = client("s3")
_sfn = client("stepfunctions")
_dynamodb = resource("dynamodb")
_session = requests.Session()
_sources_cache: tuple[float, list[HttpSource]] = (0.0, [])


def _sources() -> list[HttpSource]:
    """The enabled sources, re-read at most every 30 s (an edit shows up within a run)."""
    global _sources_cache
    loaded_at, sources = _sources_cache
    if time.monotonic() - loaded_at > SOURCES_TTL_SECONDS:
        items = _plain(_scan(_dynamodb.Table(os.environ["SOURCES_TABLE"])))
        sources = build_sources(items)
        _sources_cache = (time.monotonic(), sources)
    return sources


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def start_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """S3 ObjectCreated under uploads/ -> one mining execution per uploaded object version."""
    started = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        name = execution_name(key, record["s3"]["object"].get("eTag", ""))
        try:
            arn = _sfn.start_execution(stateMachineArn=os.environ["MINING_STATE_MACHINE_ARN"],
                                       name=name, input=json.dumps({"bucket": bucket,
                                                                    "key": key}))["executionArn"]
        except _sfn.exceptions.ExecutionAlreadyExists:
            # Same name, other input (STANDARD executions with the same name and input are
            # idempotent and come back as the running one): already started, skip.
            logger.info("Upload already started (repeated S3 event)", extra={"key": key})
            continue
        logger.info("Mining started", extra={"key": key, "execution": arn})
        started.append(arn)
    return {"started": started}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def etl_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """ETL step: {"run_id", "bucket", "key"} -> items stored, identifiers in S3."""
    try:
        return run_etl(event, s3=_s3, items_table=_dynamodb.Table(os.environ["ITEMS_TABLE"]),
                       data_bucket=os.environ["DATA_BUCKET"],
                       max_concurrency=int(os.environ.get("MAX_CONCURRENCY")
                                           or DEFAULT_MAX_CONCURRENCY))
    except DatasetError as err:
        logger.error("Dataset rejected", extra={"error": str(err)})
        raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def scrape_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scraper step (one Map item): {"identifier"} -> each source's status."""
    identifier = event.get("identifier") if isinstance(event, Mapping) else None
    if not isinstance(identifier, str) or not identifier:
        raise StepInputError('scrape expects {"identifier": ...}')
    limiter = DynamoRateLimiter(_dynamodb.Table(os.environ["RATE_TABLE"]))
    return scrape_item(identifier, _sources(), session=_session, limiter=limiter, s3=_s3,
                       responses_bucket=os.environ["RESPONSES_BUCKET"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def populate_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Populate step: {"run_id", "identifiers": {"bucket", "key"}} or {"all": true}."""
    items_table = _dynamodb.Table(os.environ["ITEMS_TABLE"])
    if isinstance(event, Mapping) and event.get("all") is True:
        identifiers = sorted(i["item_id"] for i in _scan(items_table))
    elif isinstance(event, Mapping) and isinstance(event.get("identifiers"), Mapping):
        ref = event["identifiers"]
        identifiers = json.loads(_s3.get_object(Bucket=ref["bucket"], Key=ref["key"])[
            "Body"].read())
    else:
        raise StepInputError('populate expects {"identifiers": {"bucket", "key"}} or '
                             '{"all": true}')
    mapping = mapping_from_items(_scan(_dynamodb.Table(os.environ["MAPPING_TABLE"])))
    stats = populate(identifiers, s3=_s3, responses_bucket=os.environ["RESPONSES_BUCKET"],
                     items_table=items_table, mapping=mapping, sources=_sources())
    summary = {"run_id": event.get("run_id"), **stats}
    if event.get("run_id"):
        _s3.put_object(Bucket=os.environ["DATA_BUCKET"], Key=f"runs/{event['run_id']}/"
                       "summary.json", ContentType="application/json",
                       Body=json.dumps(summary, indent=1).encode())
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_metric(name="ItemsPopulated", unit=MetricUnit.Count,
                       value=stats["items_with_properties"])
    logger.info("Items populated", extra={"summary": summary})
    return summary
