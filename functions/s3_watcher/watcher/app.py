"""S3 object-level activity (CloudTrail data events via an EventBridge rule) -> audit + alerts.

Each event is recorded in the audit table (who, what, when, from where; one item per object),
then alerted on SNS when the principal is watched, a key looks like it names personal data, or
a sample of newly written content holds personal data. Idempotent per CloudTrail event id: a
redelivered event is not audited or alerted twice, and an alert that failed to publish is
published on the retry. A record that is not a CloudTrail S3 event raises: Lambda retries it
twice, then the on-failure queue keeps it.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from watcher_rules import (
    Activity,
    Verdict,
    in_locations,
    key_pii,
    parse_activity,
    pii_counts,
    watched_match,
)

from common import aws
from common.http import dumps
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
s3 = aws.client("s3")
sns = aws.client("sns")
table = aws.resource("dynamodb").Table(os.environ["AUDIT_TABLE"])


def _list(name: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]


WATCHED_PRINCIPALS = _list("WATCHED_PRINCIPALS")
WATCHED_LOCATIONS = _list("WATCHED_LOCATIONS")
SAMPLE_BYTES = int(os.environ.get("CONTENT_SAMPLE_BYTES", "65536"))
MAX_SAMPLED_KEYS = 10
TOPIC = os.environ["ALERT_TOPIC_ARN"]
# Longer than the function's timeout: a live invocation never loses its claim.
CLAIM_SECONDS = 120


def content_sample(bucket: str, key: str) -> str | None:
    """The first SAMPLE_BYTES of the object as text; None when it is gone or unreadable."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{SAMPLE_BYTES - 1}")["Body"]
        return body.read(SAMPLE_BYTES).decode("utf-8", errors="replace")
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "InvalidRange", "AccessDenied", "403"):
            logger.info("No content sample", extra={"key": key, "code": code})
            return None
        raise


def judge(activity: Activity) -> Verdict:
    verdict = Verdict(watched_principal=watched_match(activity.principal, WATCHED_PRINCIPALS))
    for key in activity.keys:
        reasons = key_pii(key)
        if reasons:
            verdict.pii_keys[key] = reasons
    if activity.is_write:
        sampled = [k for k in activity.keys
                   if in_locations(activity.bucket, k, WATCHED_LOCATIONS)][:MAX_SAMPLED_KEYS]
        for key in sampled:
            text = content_sample(activity.bucket, key)
            found = pii_counts(text) if text else {}
            if found:
                verdict.pii_content[key] = found
    return verdict


def audit_items(activity: Activity, verdict: Verdict) -> list[dict[str, Any]]:
    p = activity.principal
    base = {"event": f"{activity.event_time}#{activity.event_id}",
            "event_id": activity.event_id, "event_time": activity.event_time,
            "event_name": activity.event_name, "read_only": activity.read_only,
            "bucket": activity.bucket, "principal": p.arn or p.principal_id or "unknown",
            "principal_type": p.type, "principal_id": p.principal_id,
            "account_id": p.account_id, "user_name": p.user_name, "issuer_arn": p.issuer_arn,
            "source_ip": activity.source_ip, "user_agent": activity.user_agent,
            "region": activity.region, "error_code": activity.error_code,
            "request_id": activity.request_id, "vpc_endpoint": activity.vpc_endpoint,
            "alerts": verdict.alerts}
    keys = activity.keys or ("",)
    return [{**{k: v for k, v in base.items() if v != ""}, "object": f"{activity.bucket}/{key}",
             "key": key} for key in keys]


def record(activity: Activity, verdict: Verdict) -> bool:
    """Write the audit items; False when this event was recorded before (a redelivery)."""
    items = audit_items(activity, verdict)
    fresh = True
    try:
        table.put_item(Item=items[0], ConditionExpression="attribute_not_exists(#e)",
                       ExpressionAttributeNames={"#e": "event"})
    except ClientError as err:
        if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        fresh = False
    with table.batch_writer() as batch:  # the same items again on a redelivery: harmless
        for item in items[1:]:
            batch.put_item(Item=item)
    return fresh


def _first_key(activity: Activity) -> dict[str, str]:
    return {"object": f"{activity.bucket}/{(activity.keys or ('',))[0]}",
            "event": f"{activity.event_time}#{activity.event_id}"}


def claim_alert(activity: Activity, now: float) -> bool:
    """Take the right to send this event's alert, once across concurrent deliveries.

    A claim left by an invocation that died while publishing expires after CLAIM_SECONDS, so
    Lambda's retry (a minute later on AWS) sends the alert; one that failed releases it.
    """
    try:
        table.update_item(
            Key=_first_key(activity), UpdateExpression="SET alerting = :now",
            ConditionExpression="attribute_not_exists(alerted_at) AND "
                                "(attribute_not_exists(alerting) OR alerting < :stale)",
            ExpressionAttributeValues={":now": int(now), ":stale": int(now - CLAIM_SECONDS)})
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def alert(activity: Activity, verdict: Verdict, now: float) -> None:
    p = activity.principal
    message = {"event_id": activity.event_id, "event_time": activity.event_time,
               "event_name": activity.event_name, "bucket": activity.bucket,
               "keys": list(activity.keys), "reasons": verdict.alerts,
               "principal": {"arn": p.arn, "type": p.type, "account_id": p.account_id,
                             "user_name": p.user_name, "issuer_arn": p.issuer_arn},
               "source_ip": activity.source_ip, "user_agent": activity.user_agent,
               "watched_pattern": verdict.watched_principal,
               "pii_keys": verdict.pii_keys, "pii_content": verdict.pii_content}
    try:
        sns.publish(TopicArn=TOPIC, Subject=f"S3 {activity.event_name}: "
                    f"{', '.join(verdict.alerts)}"[:99], Message=dumps(message),
                    MessageAttributes={"reasons": {"DataType": "String.Array",
                                                   "StringValue": dumps(verdict.alerts)}})
    except Exception:
        table.update_item(Key=_first_key(activity), UpdateExpression="REMOVE alerting")
        raise
    table.update_item(Key=_first_key(activity), UpdateExpression="SET alerted_at = :t",
                      ExpressionAttributeValues={":t": int(now)})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    activity = parse_activity(event)
    logger.append_keys(event_id=activity.event_id, event_name=activity.event_name)
    verdict = judge(activity)
    fresh = record(activity, verdict)
    metrics.add_metric(name="ObjectEventsAudited", unit=MetricUnit.Count, value=1 if fresh else 0)
    now = time.time()
    sent = bool(verdict.alerts) and claim_alert(activity, now)
    if sent:
        alert(activity, verdict, now)
        metrics.add_metric(name="AccessAlerts", unit=MetricUnit.Count, value=1)
    # Keys may themselves be personal data: logged as counts, the audit table keeps them.
    logger.info("Audited", extra={"principal": activity.principal.arn, "keys": len(
        activity.keys), "alerts": verdict.alerts, "alert_sent": sent, "duplicate": not fresh})
    return {"event_id": activity.event_id, "keys": list(activity.keys),
            "alerts": verdict.alerts if sent else [], "duplicate": not fresh,
            "pii_content": verdict.pii_content}
