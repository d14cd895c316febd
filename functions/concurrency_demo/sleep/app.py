"""GET /sleep: sleep 2 to 5 seconds, then say so (the seed's function behind API Gateway).

`?seconds=N` (2-5) picks the sleep, so a load test can replay the same sequence of sleeps;
without it the sleep is drawn at random per request (the seed drew it once per execution
environment, which made every request of a warm environment sleep the same).
"""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.http import HttpError, api_handler, json_response
from common.observability import get_logger, get_metrics

MIN_SECONDS, MAX_SECONDS = 2, 5
# The seed's CORS headers, kept for browsers calling the API.
HEADERS = {"Access-Control-Allow-Headers":
           "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token",
           "Access-Control-Allow-Methods": "GET,OPTIONS"}

# A rejected request publishes no metric; Powertools would warn on each.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = get_logger()
metrics = get_metrics()


def sleep_seconds(query: Mapping[str, str] | None, rng: random.Random | None = None) -> int:
    """The requested sleep (`seconds`, an integer 2-5) or a random one; 400 when invalid."""
    raw = (query or {}).get("seconds")
    if raw is None:
        return (rng or random).randint(MIN_SECONDS, MAX_SECONDS)
    if not raw.isdigit() or not MIN_SECONDS <= int(raw) <= MAX_SECONDS:
        raise HttpError(400, f"seconds must be an integer from {MIN_SECONDS} to {MAX_SECONDS}",
                        field="seconds")
    return int(raw)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@api_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """HTTP API v2 proxy event -> 200 after the sleep."""
    seconds = sleep_seconds(event.get("queryStringParameters"))
    time.sleep(seconds)
    metrics.add_metric(name="SecondsSlept", unit=MetricUnit.Seconds, value=seconds)
    logger.info("Slept", extra={"seconds": seconds})
    return json_response(200, {"message": f"Hello world, slept {seconds} seconds",
                               "slept": seconds}, HEADERS)
