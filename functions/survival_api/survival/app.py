"""survival_api: Cox proportional-hazards statistics and Kaplan-Meier plots, computed by R.

POST /survival        {"times", "events", "values_by_record"} -> {"statistics_list": [...]}
POST /survival/plot   {"times", "events", "values", "cutoff"?} -> image/png

R (with the survival package) is started once per execution environment, when this module is
imported, so warm requests pay only for the model fits. See survival_r.py for how R is found.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from survival_r import SurvivalR
from survival_request import (
    Limits,
    PlotRequest,
    StatsRequest,
    parse_plot_request,
    parse_stats_request,
    split_sizes,
)

from common.http import HttpError, api_handler, parse_json_body
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

LIMITS = Limits.from_env()
_started = time.perf_counter()
R = SurvivalR()
logger.info(
    "R ready",
    extra={
        "r_version": R.r_version,
        "survival_version": R.survival_version,
        "r_home": str(R.home),
        "init_ms": round((time.perf_counter() - _started) * 1000, 1),
        "limits": {"max_rows": LIMITS.max_rows, "max_samples": LIMITS.max_samples},
    },
)

STATS_ROUTE = ("POST", "/survival")
PLOT_ROUTE = ("POST", "/survival/plot")


@tracer.capture_method
def survival_statistics(request: StatsRequest) -> dict[str, Any]:
    """The response body of POST /survival: one entry per row, in order."""
    results = R.cox_rows(request.cohort.times, request.cohort.events, request.rows)
    statistics = []
    failed = []
    for index, row in enumerate(results):
        entry: dict[str, Any] = {"hazard": row.hazard, "pval": row.pval}
        if row.error is not None:
            entry["error"] = f"row {index}: {row.error}"
            failed.append(index)
        if row.warning is not None:
            entry["warning"] = row.warning
        statistics.append(entry)
    metrics.add_metric(name="RecordsComputed", unit=MetricUnit.Count, value=len(results))
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=len(failed))
    if failed:
        logger.warning("Rows R could not fit", extra={"rows": failed})
    return {"statistics_list": statistics, "failed_rows": failed}


@tracer.capture_method
def kaplan_meier_png(request: PlotRequest) -> dict[str, Any]:
    """The proxy response of POST /survival/plot: a PNG rendered by R, numbers in headers."""
    cohort = request.cohort
    cutoff = R.median(request.values) if request.cutoff is None else request.cutoff
    low, high = split_sizes(request.values, cutoff)
    if low == 0 or high == 0:
        empty = "low (<= cutoff)" if low == 0 else "high (> cutoff)"
        raise HttpError(
            400,
            f"cutoff {cutoff!r} leaves the {empty} group empty; choose a cutoff inside the "
            "range of values",
            field="cutoff",
        )
    plot = R.km_plot(
        cohort.times, cohort.events, request.values, cutoff,
        width=request.width, height=request.height, title=request.title,
    )
    metrics.add_metric(name="PlotsRendered", unit=MetricUnit.Count, value=1)
    return {
        "statusCode": 200,
        "headers": {
            "Content-Type": "image/png",
            "X-Cutoff": repr(plot.cutoff),
            "X-Logrank-Pvalue": repr(plot.logrank_pval),
            "X-Group-Sizes": f"low={plot.sizes[0]},high={plot.sizes[1]}",
            "X-Group-Events": f"low={plot.events[0]},high={plot.events[1]}",
        },
        "body": base64.b64encode(plot.png).decode("ascii"),
        "isBase64Encoded": True,
    }


def route_of(event: dict[str, Any]) -> tuple[str, str]:
    """(method, path) of an HTTP API v2 event (routeKey) or a REST v1 event (resource)."""
    route_key = event.get("routeKey")
    if isinstance(route_key, str) and " " in route_key:
        method, path = route_key.split(" ", 1)
        return method.upper(), path
    return str(event.get("httpMethod", "")).upper(), str(event.get("resource", ""))


@api_handler
def _dispatch(event: dict[str, Any], context: Any) -> Any:
    route = route_of(event)
    if route == STATS_ROUTE:
        request = parse_stats_request(parse_json_body(event), LIMITS)
        logger.info(
            "Survival statistics",
            extra={"records": len(request.rows), "samples": request.cohort.n},
        )
        return survival_statistics(request)
    if route == PLOT_ROUTE:
        request = parse_plot_request(parse_json_body(event), LIMITS)
        logger.info("Kaplan-Meier plot", extra={"samples": request.cohort.n})
        return kaplan_meier_png(request)
    raise HttpError(404, f"No route {route[0]} {route[1]}")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point for both API routes (API Gateway proxy events)."""
    response = _dispatch(event, context)
    if response["statusCode"] >= 400:
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    return response
