"""Enterprise scheduler: start/stop EC2 instances from their `EntScheduler` tag.

Invoked by an EventBridge schedule (every RATE_MINUTES). The run's "now" is the scheduled
event's `time` (when EventBridge meant it to run), else the clock, so a delayed or retried
invocation acts on the window it was scheduled for. The rules live in ec2_schedule.py.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ec2_schedule import DEFAULT_TAG_KEY, event_time, run

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

ec2 = aws.client("ec2")
RATE_MINUTES = int(os.environ.get("RATE_MINUTES", "10"))
TAG_KEY = os.environ.get("SCHEDULE_TAG_KEY", DEFAULT_TAG_KEY)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = event_time(event) or datetime.now(UTC)
    result = run(ec2, now, RATE_MINUTES, TAG_KEY)
    for rejected in result["rejected"]:
        # Reported, not raised: one owner's typo must not stop everyone else's schedule.
        logger.warning("Schedule tag rejected", extra=rejected)
    for failed in result["failed"]:
        logger.error("Instance action failed", extra=failed)
    logger.info("Scheduler run", extra={"window": result["window"],
                                        "started": result["started"],
                                        "stopped": result["stopped"],
                                        "examined": result["examined"]})
    metrics.add_metric(name="InstancesStarted", unit=MetricUnit.Count,
                       value=len(result["started"]))
    metrics.add_metric(name="InstancesStopped", unit=MetricUnit.Count,
                       value=len(result["stopped"]))
    metrics.add_metric(name="ScheduleTagsRejected", unit=MetricUnit.Count,
                       value=len(result["rejected"]))
    metrics.add_metric(name="InstanceActionsFailed", unit=MetricUnit.Count,
                       value=len(result["failed"]))
    return result
