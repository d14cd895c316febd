"""The data-quality gate (S3 event) and the warehouse load step of its state machine.

gate_handler: a CSV lands at raw/<dataset>/<name>.csv -> the dataset's rules from DynamoDB
(compiled first: a configuration error is reported before any row is judged) -> judged chunk
by chunk -> accepted/<dataset>/<name>.parquet (no comments) and rejected/<dataset>/<name>.parquet
(with comments) -> report at reports/<dataset>/<name>.json -> the load state machine, which
loads the accepted rows into the warehouse (polling Redshift itself) and publishes the report.
A file that cannot be parsed is moved to quarantine/<dataset>/<name>.csv with the reason.

load_handler: one state of that machine: replace the dataset's accepted table with the Parquet
object; returns the warehouse statement (FINISHED at once for SQLite, SUBMITTED for Redshift).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from boto3.dynamodb.conditions import Key
from dq_expectations import ConfigError, compile_rules
from dq_gate import CHUNK_ROWS, Unparseable, judge

from common.aws import client, resource
from common.observability import get_logger, get_metrics, get_tracer
from common.warehouse import Column, Warehouse, from_environment

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

RAW_PREFIX = "raw/"
INVALID_DATASET = "_invalid"
_DATASET = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_POLL_SECONDS = 10


class GateInputError(ValueError):
    """The step was called with something neither S3 nor the state machine sends."""


def parse_key(key: str) -> tuple[str, str]:
    """raw/<dataset>/<name>.csv -> (dataset, name). The dataset names the rules and the table."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] + "/" != RAW_PREFIX or not parts[2].endswith(".csv"):
        raise GateInputError(f"{key!r} is not raw/<dataset>/<name>.csv")
    if not _DATASET.match(parts[1]):
        raise GateInputError(f"dataset {parts[1]!r}: lower-case letters, digits and _ only")
    return parts[1], parts[2][: -len(".csv")]


def load_rule_items(table: Any, dataset: str) -> list[dict[str, Any]]:
    """Every rules-table item of `dataset` (all pages of the dataset_name index)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"IndexName": "by_dataset",
                              "KeyConditionExpression": Key("dataset_name").eq(dataset)}
    while True:
        page = table.query(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: str(i.get("id")))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals as JSON numbers (kwargs such as min_value, mostly)."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def execution_name(dataset: str, name: str, etag: str) -> str:
    """One execution per object version: a repeated S3 event finds it already started."""
    digest = hashlib.sha1(f"{dataset}/{name}/{etag}".encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", name)[:50]
    return f"{dataset[:12]}-{safe}-{digest}"


def quarantine(s3: Any, bucket: str, key: str, dataset: str, reason: str) -> str:
    """Move the file under quarantine/ with its reason (object metadata and a .reason.json)."""
    target = f"quarantine/{dataset}/{key.rsplit('/', 1)[-1]}"
    s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key},
                   Metadata={"quarantine-reason": reason[:1024].encode("ascii", "replace")
                             .decode()}, MetadataDirective="REPLACE")
    s3.put_object(Bucket=bucket, Key=f"{target}.reason.json", ContentType="application/json",
                  Body=json.dumps({"source": f"s3://{bucket}/{key}", "reason": reason}).encode())
    s3.delete_object(Bucket=bucket, Key=key)  # moved, never dropped: the copy exists first
    return target


def gate_object(bucket: str, key: str, etag: str, *, s3: Any, rules_table: Any,
                chunk_rows: int = CHUNK_ROWS, poll_seconds: int = DEFAULT_POLL_SECONDS
                ) -> dict[str, Any]:
    """Judge one object; returns the state machine's input: the report and what to load."""
    started = time.monotonic()
    try:
        dataset, name = parse_key(key)
    except GateInputError as err:
        # Not where a dataset file goes: quarantined, so it is neither judged blindly nor lost.
        dataset, name = INVALID_DATASET, key.rsplit("/", 1)[-1].removesuffix(".csv")
        target = quarantine(s3, bucket, key, dataset, str(err))
        report = {"dataset": dataset, "source": f"s3://{bucket}/{key}", "etag": etag,
                  "status": "QUARANTINED", "error": str(err),
                  "quarantined": f"s3://{bucket}/{target}",
                  "report": f"s3://{bucket}/reports/{dataset}/{name}.json"}
        return {"report": report, "load": None, "poll_seconds": poll_seconds}
    report: dict[str, Any] = {"dataset": dataset, "source": f"s3://{bucket}/{key}",
                              "etag": etag, "report": f"s3://{bucket}/reports/{dataset}/"
                                                       f"{name}.json"}
    state: dict[str, Any] = {"report": report, "load": None, "poll_seconds": poll_seconds}
    try:
        rules = compile_rules(_plain(load_rule_items(rules_table, dataset)))
        if not rules:
            raise ConfigError(f"no rules for dataset {dataset!r} in the rules table")
    except ConfigError as err:
        # The rules are at fault, not the file: it stays in raw/ to be judged once fixed.
        report.update(status="CONFIG_ERROR", error=str(err))
        logger.error("Rules invalid: nothing judged", extra={"dataset": dataset,
                                                              "error": str(err)})
        return state
    with tempfile.TemporaryDirectory() as tmp:
        accepted_path, rejected_path = Path(tmp, "accepted.parquet"), Path(tmp, "rejected.parquet")
        try:
            result = judge(lambda: s3.get_object(Bucket=bucket, Key=key)["Body"], rules,
                           accepted_path, rejected_path, chunk_rows)
        except Unparseable as err:
            target = quarantine(s3, bucket, key, dataset, str(err))
            report.update(status="QUARANTINED", error=str(err),
                          quarantined=f"s3://{bucket}/{target}")
            logger.warning("File quarantined", extra={"key": key, "reason": str(err)})
            return state
        outputs = {}
        for kind, path in (("accepted", accepted_path), ("rejected", rejected_path)):
            out_key = f"{kind}/{dataset}/{name}.parquet"
            s3.upload_file(str(path), bucket, out_key)  # multipart when large
            outputs[kind] = f"s3://{bucket}/{out_key}"
    report.update(status="JUDGED", rows=result.rows, accepted_rows=result.accepted,
                  rejected_rows=result.rejected, chunks=result.chunks, columns=result.columns,
                  rules=result.rules_report(), outputs=outputs,
                  seconds=round(time.monotonic() - started, 3))
    state["load"] = {"table": f"{dataset}_accepted", "columns": result.columns,
                     "bucket": bucket, "key": f"accepted/{dataset}/{name}.parquet"}
    return state


def put_report(s3: Any, report: dict[str, Any]) -> None:
    """Store the report where its `report` field says (s3://bucket/reports/...)."""
    bucket, key = report["report"].removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, ContentType="application/json",
                  Body=json.dumps(report, indent=1).encode())


def load_accepted(event: Mapping[str, Any], warehouse: Warehouse) -> dict[str, Any]:
    """Replace the dataset's accepted table with the accepted Parquet object."""
    try:
        table, bucket, key = event["table"], event["bucket"], event["key"]
        columns = [Column(c) for c in event["columns"]]
    except (KeyError, TypeError) as err:
        raise GateInputError('load expects {"table", "columns", "bucket", "key"}') from err
    statement = warehouse.replace_table(table, columns, bucket, key, "parquet")
    return statement.as_dict()


# --- handlers -----------------------------------------------------------------------------

_s3 = client("s3")
_sfn = client("stepfunctions")
_dynamodb = resource("dynamodb")


def _start(state: dict[str, Any], name: str) -> str:
    try:
        arn = _sfn.start_execution(stateMachineArn=os.environ["LOAD_STATE_MACHINE_ARN"],
                                   name=name, input=json.dumps(state))["executionArn"]
    except _sfn.exceptions.ExecutionAlreadyExists:
        logger.info("Object already judged (repeated S3 event)", extra={"execution": name})
        return ""
    return arn


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def gate_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """S3 ObjectCreated under raw/ -> judged, written, reported, handed to the load machine."""
    results = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        etag = record["s3"]["object"].get("eTag", "")
        logger.append_keys(object_key=key)
        state = gate_object(
            bucket, key, etag, s3=_s3, rules_table=_dynamodb.Table(os.environ["RULES_TABLE"]),
            chunk_rows=int(os.environ.get("CHUNK_ROWS") or CHUNK_ROWS),
            poll_seconds=int(os.environ.get("POLL_SECONDS") or DEFAULT_POLL_SECONDS))
        report = state["report"]
        name = key.rsplit("/", 1)[-1].removesuffix(".csv")
        report["execution"] = _start(state, execution_name(report["dataset"], name, etag))
        put_report(_s3, report)
        metrics.add_metric(name="RowsAccepted", unit=MetricUnit.Count,
                           value=report.get("accepted_rows", 0))
        metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count,
                           value=report.get("rejected_rows", 0))
        if report["status"] != "JUDGED":
            metrics.add_metric(name=f"Files{report['status'].title().replace('_', '')}",
                               unit=MetricUnit.Count, value=1)
        logger.info("Gate done", extra={k: v for k, v in report.items() if k != "rules"})
        results.append({k: report.get(k) for k in (
            "dataset", "status", "rows", "accepted_rows", "rejected_rows", "execution")})
    return {"results": results}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def load_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Load step: {"table", "columns", "bucket", "key"} -> the warehouse statement."""
    return load_accepted(event, from_environment(s3=_s3))
