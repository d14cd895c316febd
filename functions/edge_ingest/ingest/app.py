"""S3 PUT under incoming/ -> filter, clean, summarise, scan -> SNS alert, in one invocation.

Standard library + boto3 only, as on a Snowball Edge (no layer, no Powertools): logs are JSON
lines from `logging`, metrics are CloudWatch EMF lines written by hand. The S3 endpoint is
configurable (S3_ENDPOINT_URL) so the function runs against any S3-compatible store, such as
the appliance's own S3 adapter.

A file that cannot be read as CSV is reported (summary with the reason, and an alert), not
retried: retrying cannot fix it. An S3 error (the object is gone, access denied) raises, so
Lambda retries the event and then sends it to the on-failure queue.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from typing import Any
from urllib.parse import unquote_plus

import boto3
from boto3.s3.transfer import TransferConfig
from edge_processing import Report, Rules, UnreadableFile, decoded_lines, output_keys, process

SERVICE = "edge_ingest"
CHUNK = 64 * 1024
# Two 8 MiB parts in flight at most: the default (10) could hold 80 MiB of a 128 MB function.
TRANSFER = TransferConfig(max_concurrency=2)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"level": record.levelname, "message": record.getMessage(), "service": SERVICE,
               "timestamp": self.formatTime(record)}
        out.update(getattr(record, "fields", {}))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


logger = logging.getLogger(SERVICE)
if not logger.handlers:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(JsonFormatter())
    logger.addHandler(_handler)
    logger.propagate = False
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))


def log(level: int, message: str, **fields: Any) -> None:
    logger.log(level, message, extra={"fields": fields})


def emit_metrics(metrics: dict[str, tuple[float, str]]) -> None:
    """One CloudWatch embedded-metric-format line (what Powertools Metrics would print)."""
    namespace = os.environ.get("METRICS_NAMESPACE", "ServerlessCollection")
    doc: dict[str, Any] = {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
        "Namespace": namespace, "Dimensions": [["service"]],
        "Metrics": [{"Name": n, "Unit": u} for n, (_, u) in metrics.items()]}]},
        "service": SERVICE}
    doc.update({n: v for n, (v, _) in metrics.items()})
    print(json.dumps(doc), flush=True)


def s3_client() -> Any:
    """S3 at S3_ENDPOINT_URL when set (an appliance, MinIO, ...), else the region's S3."""
    return boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None)


def load_rules() -> Rules:
    return Rules.from_dict(json.loads(os.environ.get("RULES") or "{}"))


s3 = s3_client()
sns = boto3.client("sns")
RULES = load_rules()
INCOMING = os.environ.get("INCOMING_PREFIX", "incoming/")
PROCESSED = os.environ.get("PROCESSED_PREFIX", "processed/")
TOPIC = os.environ.get("ALERT_TOPIC_ARN", "")


def handle_object(bucket: str, key: str) -> dict[str, Any]:
    """Process one object; returns what was written and alerted."""
    started = time.perf_counter()
    clean_key, summary_key = output_keys(key, INCOMING, PROCESSED)
    obj = s3.get_object(Bucket=bucket, Key=key)
    status, error = "processed", None
    # Cleaned rows go to /tmp and are uploaded from there: 128 MB must hold any file size.
    fd, path = tempfile.mkstemp(suffix=".csv")
    try:
        with open(fd, "w", encoding="utf-8", newline="") as sink:
            try:
                report = process(decoded_lines(obj["Body"].iter_chunks(CHUNK)), sink, RULES)
            except UnreadableFile as err:
                report, status, error = Report(), "unreadable", str(err)
                f = report.finding("unreadable file", "problem")
                f.count, f.examples = 1, [{"reason": error}]
        if status == "processed":
            s3.upload_file(path, bucket, clean_key, ExtraArgs={"ContentType": "text/csv"},
                           Config=TRANSFER)
    finally:
        os.remove(path)
    summary = {"source": f"s3://{bucket}/{key}", "status": status, "error": error,
               "size": obj.get("ContentLength"), "etag": obj.get("ETag", "").strip('"'),
               "cleaned": f"s3://{bucket}/{clean_key}" if status == "processed" else None,
               **report.summary(),
               "processing_ms": round((time.perf_counter() - started) * 1000, 1)}
    s3.put_object(Bucket=bucket, Key=summary_key, Body=json.dumps(summary, indent=2).encode(),
                  ContentType="application/json")
    alerted = False
    if report.findings and TOPIC:
        sns.publish(TopicArn=TOPIC, Subject=subject(key, len(report.findings)),
                    Message=json.dumps({"source": summary["source"], "status": status,
                                        "summary": f"s3://{bucket}/{summary_key}",
                                        "findings": summary["findings"],
                                        "rows_in": report.rows_in,
                                        "rows_out": report.rows_out}),
                    MessageAttributes={"status": {"DataType": "String", "StringValue": status}})
        alerted = True
    log(logging.INFO, "Processed", key=key, status=status, rows_in=report.rows_in,
        rows_out=report.rows_out, rejected=report.rejected_total,
        findings=len(report.findings), alerted=alerted, error=error)
    emit_metrics({"RowsIn": (report.rows_in, "Count"), "RowsOut": (report.rows_out, "Count"),
                  "RowsRejected": (report.rejected_total, "Count"),
                  "Alerts": (1 if alerted else 0, "Count")})
    return {"key": key, "status": status, "summary": summary_key,
            "cleaned": clean_key if status == "processed" else None, "alerted": alerted,
            "findings": [f.rule for f in report.findings.values()]}


def subject(key: str, findings: int) -> str:
    """An SNS subject: ASCII, no line breaks, under 100 characters."""
    name = key.rsplit("/", 1)[-1].encode("ascii", "replace").decode()
    text = f"edge_ingest: {findings} finding(s) in {name}"
    return "".join(c if c.isprintable() else "?" for c in text)[:99]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    results = []
    for record in event.get("Records") or []:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"], errors="strict")
        if not key.startswith(INCOMING):
            log(logging.WARNING, "Ignored: outside the incoming prefix", key=key)
            continue
        results.append(handle_object(bucket, key))
    return {"files": results}
