"""The joker_offers APIs and the expiry task (Powertools REST resolvers behind REST APIs).

public_handler (public API, scope offers:read):
  GET /offers?restaurant=<id>&time=<ISO-8601, default now> -> the offers valid then, best first
admin_handler (admin API, scope offers:admin):
  POST   /restaurants/{restaurantId}/offers              -> 201 the new offer
  GET    /restaurants/{restaurantId}/offers              -> every offer of the restaurant
  GET    /restaurants/{restaurantId}/offers/{offerId}
  PATCH  /restaurants/{restaurantId}/offers/{offerId}    -> the updated offer
  DELETE /restaurants/{restaurantId}/offers/{offerId}    -> 204
  GET    /reports                                        -> counts and the average discount
expire_handler (schedule): ACTIVE offers past validTo become EXPIRED.

Every request publishes its route's latency and its inner steps' durations as EMF metrics
(dimension `route`), the seed's "durations of each inner method". Logic in offers.py.
"""

from __future__ import annotations

import os
import time
import warnings
from datetime import UTC, datetime
from typing import Any

import offers
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from common import aws
from common.http import HttpError, parse_json_body
from common.observability import get_logger, get_metrics, get_tracer

warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
table = aws.resource("dynamodb").Table(os.environ["OFFERS_TABLE_NAME"])
MAX_DISCOUNT = int(os.environ.get("MAX_DISCOUNT_PERCENT", "90"))
public_app = APIGatewayRestResolver()
admin_app = APIGatewayRestResolver()


def now() -> datetime:
    return datetime.now(UTC)


class _Request:
    """The current request's timings; published when the handler returns."""

    timings = offers.Timings()


def step(name: str) -> Any:
    return _Request.timings.step(name)


@public_app.get("/offers")
@tracer.capture_method
def public_offers() -> dict[str, Any]:
    query = public_app.current_event.query_string_parameters or {}
    restaurant = offers.restaurant_id(query.get("restaurant"))
    moment = offers.parse_time(query["time"], "time") if query.get("time") else now()
    with step("Query"):
        found = offers.offers_at(table, restaurant, moment)
    return {"restaurant": restaurant, "time": offers.iso(moment), "offers": found}


@admin_app.post("/restaurants/<restaurant_id>/offers")
@tracer.capture_method
def create_offer(restaurant_id: str) -> Response:
    restaurant = offers.restaurant_id(restaurant_id, "restaurantId")
    fields = offers.parse_offer(parse_json_body(admin_app.current_event.raw_event), MAX_DISCOUNT)
    with step("Write"):
        offer = offers.create(table, restaurant, fields, now())
    logger.info("Offer created", extra={"restaurant": restaurant, "offer": offer["offerId"]})
    return Response(201, content_types.APPLICATION_JSON, offer, headers={
        "Location": f"/restaurants/{restaurant}/offers/{offer['offerId']}"})


@admin_app.get("/restaurants/<restaurant_id>/offers")
@tracer.capture_method
def list_offers(restaurant_id: str) -> dict[str, Any]:
    restaurant = offers.restaurant_id(restaurant_id, "restaurantId")
    with step("Query"):
        return {"restaurant": restaurant, "offers": offers.list_for(table, restaurant)}


@admin_app.get("/restaurants/<restaurant_id>/offers/<offer_id>")
@tracer.capture_method
def get_offer(restaurant_id: str, offer_id: str) -> dict[str, Any]:
    with step("Read"):
        offer = offers.get(table, restaurant_id, offer_id)
    if offer is None:
        raise HttpError(404, f"No offer {offer_id} at {restaurant_id}")
    return offer


@admin_app.patch("/restaurants/<restaurant_id>/offers/<offer_id>")
@tracer.capture_method
def update_offer(restaurant_id: str, offer_id: str) -> dict[str, Any]:
    fields = offers.parse_offer(parse_json_body(admin_app.current_event.raw_event),
                                MAX_DISCOUNT, partial=True)
    with step("Write"):
        offer = offers.update(table, restaurant_id, offer_id, fields, now())
    if offer is None:
        raise HttpError(404, f"No offer {offer_id} at {restaurant_id}")
    return offer


@admin_app.delete("/restaurants/<restaurant_id>/offers/<offer_id>")
@tracer.capture_method
def delete_offer(restaurant_id: str, offer_id: str) -> Response:
    with step("Write"):
        deleted = offers.delete(table, restaurant_id, offer_id)
    if not deleted:
        raise HttpError(404, f"No offer {offer_id} at {restaurant_id}")
    return Response(204, content_types.APPLICATION_JSON, "")


@admin_app.get("/reports")
@tracer.capture_method
def reports() -> dict[str, Any]:
    with step("Scan"):
        return offers.report(table)


def _install_error_handlers(app: APIGatewayRestResolver) -> None:
    def body(status: int, message: str, **extra: Any) -> Response:
        return Response(status, content_types.APPLICATION_JSON,
                        {"code": status, "message": message,
                         "request-id": app.current_event.request_context.request_id, **extra})

    @app.exception_handler(HttpError)
    def http_error(err: HttpError) -> Response:
        logger.info("Request rejected", extra={"status": err.status, "reason": err.message})
        return body(err.status, err.message, **err.extra)

    @app.exception_handler(Exception)
    def unexpected(err: Exception) -> Response:
        if isinstance(err, ServiceError):
            raise err
        logger.exception("Unhandled error")
        return body(500, "Internal server error")


_install_error_handlers(public_app)
_install_error_handlers(admin_app)


def _resolve(app: APIGatewayRestResolver, event: dict[str, Any],
             context: LambdaContext) -> dict[str, Any]:
    _Request.timings = offers.Timings()
    started = time.perf_counter()
    response = app.resolve(event, context)
    route = f"{event.get('httpMethod')} {event.get('resource')}"
    metrics.add_dimension(name="route", value=route)
    metrics.add_metric(name="RouteLatency", unit=MetricUnit.Milliseconds,
                       value=(time.perf_counter() - started) * 1000)
    for name, ms in _Request.timings.ms.items():
        metrics.add_metric(name=f"{name}Latency", unit=MetricUnit.Milliseconds, value=ms)
    return response


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST,
                               clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def public_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Public API (REST proxy event) -> the route's response."""
    return _resolve(public_app, event, context)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST,
                               clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def admin_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Admin API (REST proxy event) -> the route's response."""
    return _resolve(admin_app, event, context)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def expire_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Scheduled: expire the offers whose validTo has passed."""
    count = offers.expire(table, now())
    metrics.add_metric(name="OffersExpired", unit=MetricUnit.Count, value=count)
    logger.info("Offers expired", extra={"count": count})
    return {"expired": count}
