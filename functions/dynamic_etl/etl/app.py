"""The three Lambda steps of the dynamic ETL state machine (one code folder, three functions).

- start_handler: read every campaign key, pick today's active ones, validate their rules, drop
  and create the target tables (one warehouse statement), return the keys for the Map state.
- execute_handler: one key: extract its rows, apply its rules, write CSV (or Parquet) under the
  run's prefix in S3, start the warehouse load (COPY). Returns the load statement; the state
  machine polls it while it runs (Redshift), or finds it FINISHED (embedded SQLite).
- summarize_handler: rows per key, failures and duration, stored in the runs table.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from etl_rules import RuleError, Rules, apply_rules, parse_rules
from etl_sources import Campaign, SourceError, source_for

from common.aws import client, resource
from common.observability import get_logger, get_metrics, get_tracer
from common.warehouse import Column, Warehouse, WarehouseError, from_environment, quote_ident

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_MAX_CONCURRENCY = 4
DEFAULT_POLL_SECONDS = 10


class KeyConfigError(ValueError):
    """A campaign key's item is not usable (its branch fails; the other keys still load)."""


class StepInputError(ValueError):
    """The step was called with something the state machine does not send."""


# --- start --------------------------------------------------------------------------------

def run_date(execution_input: Any, now: datetime | None = None) -> str:
    """The day the run is for: input `date`, else the schedule event's `time`, else today (UTC).

    Taking the scheduled event's time (not the clock) keeps a re-driven run on its own day.
    """
    if isinstance(execution_input, Mapping):
        given = execution_input.get("date")
        if given is not None:
            if not (isinstance(given, str) and _DATE_PATTERN.match(given)):
                raise StepInputError(f"date must be YYYY-MM-DD, got {given!r}")
            date.fromisoformat(given)
            return given
        when = execution_input.get("time")
        if isinstance(when, str) and _DATE_PATTERN.match(when[:10]):
            return when[:10]
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d")


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals (and sets) as JSON numbers and lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def scan_keys(table: Any) -> list[dict[str, Any]]:
    """Every item of the keys table (all pages). The table holds tens of campaigns."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items.extend(_plain(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def is_active(item: Mapping[str, Any], day: str) -> bool:
    """A campaign runs on `day` when enabled and start_date <= day <= end_date."""
    if item.get("enabled", True) is False:
        return False
    start, end = item.get("start_date"), item.get("end_date")
    return isinstance(start, str) and isinstance(end, str) and start <= day <= end


@dataclass
class Plan:
    keys: list[dict[str, Any]]
    tables: dict[str, list[Column]]
    inactive: int


def _check_item(item: Mapping[str, Any]) -> tuple[str, Rules]:
    key = item.get("campaign_key")
    if not isinstance(key, str) or not _KEY_PATTERN.match(key):
        raise KeyConfigError(f"campaign_key {key!r}: letters, digits, _ and - only")
    for field_name in ("start_date", "end_date"):
        value = item.get(field_name)
        if not (isinstance(value, str) and _DATE_PATTERN.match(value)):
            raise KeyConfigError(f"{field_name} must be YYYY-MM-DD, got {value!r}")
    table = item.get("target_table")
    try:
        quote_ident(table)
        rules = parse_rules(item.get("rules"))
    except (WarehouseError, RuleError) as err:
        raise KeyConfigError(str(err)) from err
    if item.get("output_format", "csv") not in ("csv", "parquet"):
        raise KeyConfigError("output_format must be csv or parquet")
    return str(table), rules


def plan_run(items: list[dict[str, Any]], day: str) -> Plan:
    """Today's keys (each with `error` when unusable) and the tables to recreate.

    Tables of every valid key are recreated, active today or not: the run replaces the
    warehouse's campaign data, so an ended campaign's rows go too (as the seed's first step
    deleted everything). Keys sharing a table must declare the same columns.
    """
    tables: dict[str, list[Column]] = {}
    owners: dict[str, str] = {}
    errors: dict[int, str] = {}
    for index, item in sorted(enumerate(items), key=lambda p: str(p[1].get("campaign_key"))):
        try:
            table, rules = _check_item(item)
        except KeyConfigError as err:
            errors[index] = str(err)
            continue
        columns = rules.target_columns()
        if table in tables and tables[table] != columns:
            errors[index] = (f"target table {table} is declared with other columns by key "
                             f"{owners[table]}")
            continue
        tables.setdefault(table, columns)
        owners.setdefault(table, str(item["campaign_key"]))
    keys = []
    inactive = 0
    for index, item in enumerate(items):
        if not is_active(item, day):
            inactive += 1
            continue
        key = dict(item)
        if index in errors:
            key["error"] = errors[index]
        keys.append(key)
    keys.sort(key=lambda k: str(k.get("campaign_key")))
    return Plan(keys, tables, inactive)


def start(event: Mapping[str, Any], *, keys_table: Any, warehouse: Warehouse,
          max_concurrency: int, poll_seconds: int = DEFAULT_POLL_SECONDS,
          now: datetime | None = None) -> dict[str, Any]:
    """Plan the run, recreate the target tables, and hand the keys to the Map state."""
    run_id = event.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise StepInputError('start expects {"run_id": ..., "started_at": ..., "input": ...}')
    day = run_date(event.get("input"), now)
    plan = plan_run(scan_keys(keys_table), day)
    if plan.keys and plan.tables:
        prepare = warehouse.recreate_tables(plan.tables).as_dict()
    else:
        # Nothing to load today: leave the warehouse as it is (no statement to wait for).
        prepare = {"Id": "", "Status": "FINISHED"}
    logger.info("Run planned", extra={"run_id": run_id, "run_date": day,
                                      "keys": [k["campaign_key"] for k in plan.keys],
                                      "tables": sorted(plan.tables)})
    return {
        "run_id": run_id,
        "run_date": day,
        "started_at": event.get("started_at") or datetime.now(UTC).isoformat(),
        "engine": warehouse.engine,
        "max_concurrency": max_concurrency,
        "poll_seconds": poll_seconds,
        "key_count": len(plan.keys),
        "inactive_count": plan.inactive,
        "tables": sorted(plan.tables),
        "keys": plan.keys,
        "prepare": prepare,
    }


# --- execute ------------------------------------------------------------------------------

def _output_object(transformed: Any, fmt: str) -> bytes:
    frame = transformed.frame
    if fmt == "parquet":
        frame = frame.copy()
        for column in transformed.columns:
            if column.type == "date":
                import pandas as pd

                frame[column.name] = pd.to_datetime(frame[column.name]).dt.date
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    return frame.to_csv(index=False).encode("utf-8")


def execute_key(event: Mapping[str, Any], *, s3: Any, bucket: str, warehouse: Warehouse,
                env: Mapping[str, str], rds_data: Any = None) -> dict[str, Any]:
    """Extract, transform, write and start loading one campaign key."""
    key, run_id = event.get("key"), event.get("run_id")
    if not isinstance(key, Mapping) or not isinstance(run_id, str):
        raise StepInputError('execute expects {"run_id": ..., "key": {...}}')
    if key.get("error"):
        raise KeyConfigError(f"{key.get('campaign_key')}: {key['error']}")
    table, rules = _check_item(key)
    campaign = Campaign(key["campaign_key"], key["start_date"], key["end_date"])
    try:
        source = source_for(key.get("source"), s3=s3, default_bucket=bucket, rds_data=rds_data,
                            env=env)
        frame = source.extract(campaign)
    except SourceError as err:
        raise SourceError(f"{campaign.key}: {err}") from err
    try:
        transformed = apply_rules(frame, rules, campaign.key)
    except RuleError as err:
        raise KeyConfigError(f"{campaign.key}: {err}") from err
    fmt = key.get("output_format", "csv")
    object_key = f"runs/{run_id}/{campaign.key}.{fmt}"
    s3.put_object(Bucket=bucket, Key=object_key, Body=_output_object(transformed, fmt))
    load = warehouse.copy_from_s3(table, transformed.columns, bucket, object_key, fmt)
    result = {
        "campaign_key": campaign.key,
        "target_table": table,
        "rows": len(transformed.frame),
        "rows_extracted": transformed.rows_in,
        "rows_filtered": transformed.rows_filtered,
        "coerced_nulls": transformed.coerced_nulls,
        "object": f"s3://{bucket}/{object_key}",
        "load": load.as_dict(),
    }
    logger.info("Key transformed", extra={k: v for k, v in result.items() if k != "load"})
    return result


# --- summarize ----------------------------------------------------------------------------

def _seconds_since(started_at: Any, now: datetime) -> float | None:
    if not isinstance(started_at, str):
        return None
    try:
        started = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return round((now - started).total_seconds(), 3)


def _error_message(cause: Any) -> Any:
    """A Lambda failure's Cause is the error as JSON text: keep its message only."""
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            return cause
        if isinstance(parsed, Mapping) and "errorMessage" in parsed:
            return parsed["errorMessage"]
    return cause


def summarize(run: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The run's summary: rows per key, failures, duration, and a one-line message."""
    now = now or datetime.now(UTC)
    results = run.get("results") or []
    loaded = [r for r in results if r.get("status") == "LOADED"]
    failed = [r for r in results if r.get("status") != "LOADED"]
    rows_per_key = {r["campaign_key"]: r.get("rows", 0) for r in loaded}
    total = sum(rows_per_key.values())
    if not results:
        status = "NOTHING_TO_DO"
        message = f"No active campaign keys for {run.get('run_date')}: nothing loaded."
    elif failed:
        status = "PARTIAL" if loaded else "FAILED"
        message = (f"{len(loaded)} of {len(results)} keys loaded ({total} rows); failed: "
                   f"{', '.join(str(r.get('campaign_key')) for r in failed)}.")
    else:
        status = "SUCCEEDED"
        message = f"{len(loaded)} keys loaded, {total} rows."
    return {
        "run_id": run.get("run_id"),
        "run_date": run.get("run_date"),
        "status": status,
        "message": message,
        "engine": run.get("engine"),
        "keys_total": len(results),
        "keys_loaded": len(loaded),
        "keys_failed": len(failed),
        "rows_total": total,
        "rows_per_key": rows_per_key,
        "failures": [{"campaign_key": r.get("campaign_key"),
                      "error_type": r.get("error_type"), "error": _error_message(r.get("error"))}
                     for r in failed],
        "tables": run.get("tables", []),
        "started_at": run.get("started_at"),
        "finished_at": now.isoformat(),
        "duration_seconds": _seconds_since(run.get("started_at"), now),
    }


# --- handlers -----------------------------------------------------------------------------

_s3 = client("s3")
_dynamodb = resource("dynamodb")


def _warehouse() -> Warehouse:
    return from_environment(s3=_s3)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def start_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Start step: {"run_id", "started_at", "input"} -> the run plan (keys for the Map)."""
    max_concurrency = int(os.environ.get("MAX_CONCURRENCY") or DEFAULT_MAX_CONCURRENCY)
    poll_seconds = int(os.environ.get("POLL_SECONDS") or DEFAULT_POLL_SECONDS)
    return start(event, keys_table=_dynamodb.Table(os.environ["KEYS_TABLE"]),
                 warehouse=_warehouse(), max_concurrency=max_concurrency,
                 poll_seconds=poll_seconds)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def execute_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Execution step: {"run_id", "key"} -> the key's rows, object and load statement."""
    logger.append_keys(campaign_key=(event.get("key") or {}).get("campaign_key"))
    return execute_key(event, s3=_s3, bucket=os.environ["DATA_BUCKET"], warehouse=_warehouse(),
                       env=os.environ)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def summarize_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """End step: {"run": <run state with results>} -> the summary, stored in the runs table."""
    run = event.get("run") if isinstance(event, Mapping) else None
    if not isinstance(run, Mapping):
        raise StepInputError('summarize expects {"run": {...}}')
    summary = summarize(run)
    item = json.loads(json.dumps(summary), parse_float=Decimal)
    _dynamodb.Table(os.environ["RUNS_TABLE"]).put_item(Item=item)
    metrics.add_metric(name="RowsLoaded", unit=MetricUnit.Count, value=summary["rows_total"])
    metrics.add_metric(name="KeysFailed", unit=MetricUnit.Count, value=summary["keys_failed"])
    logger.info("Run summarised", extra={"summary": summary})
    return summary
