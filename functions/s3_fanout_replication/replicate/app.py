"""One destination of the fan-out: SNS (S3 ObjectCreated events of the source bucket) -> copy.

Every function of the fan-out runs this code; its destination bucket comes from configuration
(DESTINATION_BUCKET), not from the function's name as in the seed. Every S3 record of every
SNS record is handled; when any fails the invocation raises after trying all of them, so Lambda
retries it (twice) and then sends it to the on-failure queue with the error. Copies are
idempotent: a retry copies the good records again to the same keys.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from fanout_copy import COPY_OBJECT_MAX, Settings, replicate_event

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
s3 = aws.client("s3")


class ReplicationFailed(RuntimeError):
    """Some records were not copied; the message lists their keys and errors."""


def settings_from_env() -> Settings:
    return Settings(
        destination=os.environ["DESTINATION_BUCKET"],
        multipart_threshold=int(os.environ.get("MULTIPART_THRESHOLD_BYTES", COPY_OBJECT_MAX)),
        part_size=int(os.environ.get("PART_SIZE_BYTES", 512 * 1024 * 1024)),
    )


SETTINGS = settings_from_env()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.append_keys(destination=SETTINGS.destination)
    outcome = replicate_event(s3, event, SETTINGS)
    for copy in outcome.copied:
        logger.info("Copied", extra={"key": copy.key, "size": copy.size,
                                     "method": copy.method, "parts": copy.parts})
    metrics.add_metric(name="ObjectsReplicated", unit=MetricUnit.Count,
                       value=len(outcome.copied))
    metrics.add_metric(name="BytesReplicated", unit=MetricUnit.Bytes,
                       value=sum(c.size for c in outcome.copied))
    if outcome.failed:
        metrics.add_metric(name="ReplicationFailures", unit=MetricUnit.Count,
                           value=len(outcome.failed))
        for failure in outcome.failed:
            logger.error("Not copied", extra=failure)
        raise ReplicationFailed(
            f"{len(outcome.failed)} of {len(outcome.failed) + len(outcome.copied)} records "
            f"not copied to {SETTINGS.destination}: "
            + "; ".join(f"{f['key']!r}: {f['error']}" for f in outcome.failed[:20]))
    return {"destination": SETTINGS.destination, "copied": len(outcome.copied),
            "skipped": outcome.skipped,
            "keys": [c.key for c in outcome.copied][:100]}
