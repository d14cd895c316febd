"""AWS Health events (EventBridge rule, source aws.health) -> a readable SNS notification; for
scheduled EC2 maintenance an optional stop/start (RemediationMode: off, tagged, all; default
off). The logic lives in health_events.py.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from health_events import (
    Mode,
    RemediationIncomplete,
    needs_remediation,
    parse_event,
    remediate,
    summary,
)

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

# An event refused before any metric is recorded publishes none; Powertools would warn.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

sns = aws.client("sns")
ec2 = aws.client("ec2")
TOPIC_ARN = os.environ.get("NOTIFICATION_TOPIC_ARN", "")
MODE: Mode = os.environ.get("REMEDIATION_MODE", "off")  # type: ignore[assignment]
SAFETY_MS = 30_000  # leave time to publish before the function's timeout


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Not an aws.health event: raised, so the async retries end in the on-failure queue.
    ev = parse_event(event)
    outcomes: list[dict[str, str]] = []
    incomplete: list[str] = []
    if needs_remediation(ev) and MODE != "off":
        remaining = (context.get_remaining_time_in_millis() - SAFETY_MS) / 1000
        deadline = time.monotonic() + max(remaining, 0)
        for instance_id in ev.entities:
            if not instance_id.startswith("i-"):
                continue
            try:
                outcomes.append(remediate(ec2, instance_id, ev.arn or event.get("id", ""),
                                          MODE, deadline))
            except RemediationIncomplete as err:
                incomplete.append(instance_id)
                outcomes.append({"instanceId": instance_id, "action": "stopped",
                                 "reason": str(err)})
    subject, message = summary(ev, outcomes, MODE)
    published = sns.publish(TopicArn=TOPIC_ARN, Subject=subject, Message=message,
                            MessageAttributes={
                                "service": {"DataType": "String", "StringValue": ev.service},
                                "eventTypeCode": {"DataType": "String",
                                                  "StringValue": ev.type_code},
                                "category": {"DataType": "String", "StringValue": ev.category}})
    metrics.add_metric(name="HealthEventsNotified", unit=MetricUnit.Count, value=1)
    done = sum(1 for o in outcomes if o["action"] == "stopped and started")
    if done:
        metrics.add_metric(name="InstancesRemediated", unit=MetricUnit.Count, value=done)
    logger.info("Health event notified", extra={"event_type": ev.type_code,
                                                "remediation": outcomes})
    if incomplete:
        raise RemediationIncomplete(f"still stopping: {', '.join(incomplete)}")
    return {"messageId": published["MessageId"], "subject": subject, "remediation": outcomes}
