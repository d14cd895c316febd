"""ebs_snapshots handlers (one code package, four functions):

- `scheduler_handler` (schedule, every RATE_MINUTES): snapshots due by the volumes'
  `scheduler:ebs-snapshot:HHMM` tags, then expired ones deleted (snapshot_schedule.py);
- `copy_handler` (EventBridge: EBS createSnapshot succeeded): copy to DESTINATION_REGION
  (snapshot_copy.py);
- `findings_handler` (SNS: Inspector's topic): one summarised notification per completed run
  (and per High finding) to NOTIFICATION_TOPIC_ARN (inspector_findings.py);
- `assessment_handler` (weekly schedule): starts an Inspector assessment run.
"""

from __future__ import annotations

import os
import warnings
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from inspector_findings import Boto3Inspector, parse_message, start_weekly_run, summarise
from snapshot_copy import NotACopyableEvent, copy_snapshot, snapshot_of
from snapshot_schedule import run

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

ENV = os.environ
REGION = aws.region()
DEST_REGION = ENV.get("DESTINATION_REGION", "")
MANAGED_BY = ENV.get("MANAGED_BY", "ebs_snapshots")
ec2 = aws.client("ec2")
sns = aws.client("sns")


def _event_time(event: dict[str, Any]) -> datetime:
    # The scheduled event's time (when EventBridge meant the run), else the clock.
    value = event.get("time") if isinstance(event, dict) else None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def scheduler_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    others = ({DEST_REGION: aws.client("ec2", region_name=DEST_REGION)}
              if DEST_REGION and DEST_REGION != REGION else {})
    result = run(ec2, _event_time(event), int(ENV.get("RATE_MINUTES", "15")), MANAGED_BY,
                 REGION, others)
    for rejected in result["rejected"]:
        logger.warning("Snapshot tag rejected", extra=rejected)
    for failed in result["failed"]:
        logger.error("Snapshot action failed", extra=failed)
    metrics.add_metric(name="SnapshotsCreated", unit=MetricUnit.Count,
                       value=len(result["created"]))
    metrics.add_metric(name="SnapshotsDeleted", unit=MetricUnit.Count,
                       value=len(result["deleted"]))
    metrics.add_metric(name="SnapshotTagsRejected", unit=MetricUnit.Count,
                       value=len(result["rejected"]))
    logger.info("Snapshot run", extra={"snapshots_created": len(result["created"]),
                                       "snapshots_deleted": len(result["deleted"]),
                                       "window": result["window"]})
    return result


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def copy_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        region, snapshot_id = snapshot_of(event)
    except NotACopyableEvent as err:
        # The rule only sends successful createSnapshot events; anything else is logged and
        # dropped on purpose (there is nothing to copy), not retried.
        logger.warning("Event ignored", extra={"reason": str(err)})
        return {"skipped": str(err)}
    if not DEST_REGION:
        return {"skipped": "no DestinationRegion configured"}
    source = aws.client("ec2", region_name=region) if region != REGION else ec2
    dest = aws.client("ec2", region_name=DEST_REGION)
    result = copy_snapshot(source, dest, region, snapshot_id, DEST_REGION,
                           ENV.get("DESTINATION_KMS_KEY_ID", ""), ENV.get("COPY_SCOPE", "managed"),
                           MANAGED_BY)
    if "copied" in result and not result.get("existing"):
        metrics.add_metric(name="SnapshotsCopied", unit=MetricUnit.Count, value=1)
    logger.info("Snapshot copy", extra=result)
    return result


inspector = Boto3Inspector(aws.client("inspector"))


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def findings_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sent = 0
    for record in event.get("Records", []):
        message = parse_message(record["Sns"]["Message"])  # not Inspector's: raised, retried
        note = summarise(message, inspector, single_min_severity=ENV.get(
            "SINGLE_FINDING_MIN_SEVERITY", "High"))
        if note is None:
            continue
        subject, text = note
        sns.publish(TopicArn=ENV["NOTIFICATION_TOPIC_ARN"], Subject=subject[:100], Message=text)
        sent += 1
    metrics.add_metric(name="InspectorNotifications", unit=MetricUnit.Count, value=sent)
    return {"notified": sent}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
def assessment_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    name = f"weekly-{_event_time(event).strftime('%Y-%m-%d')}"
    result = start_weekly_run(inspector, ENV.get("ASSESSMENT_TEMPLATE_ARN", ""), name)
    logger.info("Assessment run", extra=result)
    return result
