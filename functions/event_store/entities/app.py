"""event_store handlers (one code package, four functions):

- `api_handler` (HTTP API, Powertools event handler):
  POST /entities/{id}/events  {"type", "data", "expectedVersion"?}  -> 201 the stored event
  GET  /entities/{id}         state now, ?version=N or ?at=<ISO 8601 time>
  GET  /entities/{id}/events  ?after=N&limit=M
- `router_handler` (the events table's stream, the only stream reader): each new event to SNS
  (message attributes eventType, entityType, entityId for subscription filters) and to the
  EventBridge bus (source "event_store", detail-type = the event type).
- `projection_handler` (EventBridge rule): the projection table holds each entity's latest
  state; it is rebuilt from the store at the event's version and written only when newer, so
  duplicates and out-of-order deliveries converge.
- `notifier_handler` (SNS, filtered): a readable notification per event, stored once in the
  notifications table (the demo's stand-in for e-mail or push).
"""

from __future__ import annotations

import json
import os
import warnings
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from entity_domain import registry
from eventstore import (
    ConcurrencyConflict,
    EventStore,
    InvalidEvent,
    TooMuchContention,
    UnknownEventType,
    from_dynamo,
)

from common import aws
from common.http import HttpError, parse_json_body
from common.observability import get_logger, get_metrics, get_tracer

warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

dynamodb = aws.resource("dynamodb")
ENV = os.environ
store = EventStore(dynamodb.Table(ENV.get("EVENTS_TABLE_NAME", "events")),
                   dynamodb.Table(ENV.get("SNAPSHOTS_TABLE_NAME", "snapshots")), registry,
                   snapshot_every=int(ENV.get("SNAPSHOT_EVERY", "100")))
sns = aws.client("sns")
events = aws.client("events")
TOPIC_ARN = ENV.get("EVENTS_TOPIC_ARN", "")
BUS_NAME = ENV.get("EVENT_BUS_NAME", "")
EVENT_SOURCE = "event_store"
MAX_ID = 128
MAX_LIST = 1000

app = APIGatewayHttpResolver()
router_processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


# --- API ------------------------------------------------------------------------------------


def _check_id(entity_id: str) -> str:
    if not entity_id or len(entity_id) > MAX_ID or not all(
            c.isalnum() or c in "-_.:" for c in entity_id):
        raise HttpError(400, f"entity id must be 1-{MAX_ID} characters of letters, digits, "
                        "'-', '_', '.', ':'", field="id")
    return entity_id


def _int_param(name: str, value: str | None, minimum: int,
               maximum: int | None = None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise HttpError(400, f"{name} must be an integer", field=name) from None
    if number < minimum or (maximum is not None and number > maximum):
        limit = f" and at most {maximum}" if maximum is not None else ""
        raise HttpError(400, f"{name} must be at least {minimum}{limit}", field=name)
    return number


def parse_time(value: str) -> datetime:
    """An ISO 8601 time with a zone (Z or +hh:mm)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HttpError(400, "at must be an ISO 8601 time, e.g. 2024-05-06T08:35:00Z",
                        field="at") from None
    if moment.tzinfo is None:
        raise HttpError(400, "at needs a time zone (Z or +hh:mm)", field="at")
    return moment


def parse_append(body: Any) -> tuple[str, dict[str, Any], int | None]:
    """(type, data, expected version) of a POST body; HttpError(400) names the bad field."""
    if not isinstance(body, dict):
        raise HttpError(400, "body must be a JSON object")
    event_type = body.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise HttpError(400, "type must be an event type name", field="type")
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise HttpError(400, "data must be a JSON object", field="data")
    expected = body.get("expectedVersion")
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)
                                 or expected < 0):
        raise HttpError(400, "expectedVersion must be a non-negative integer",
                        field="expectedVersion")
    unknown = sorted(set(body) - {"type", "data", "expectedVersion"})
    if unknown:
        raise HttpError(400, f"unknown field(s): {', '.join(unknown)}", field=unknown[0])
    return event_type, data, expected


@app.post("/entities/<entity_id>/events")
@tracer.capture_method
def append_event(entity_id: str) -> Response:
    _check_id(entity_id)
    event_type, data, expected = parse_append(parse_json_body(app.current_event.raw_event))
    try:
        event = store.append(entity_id, event_type, data, expected)
    except UnknownEventType as err:
        raise HttpError(400, str(err), field="type") from None
    except InvalidEvent as err:
        raise HttpError(422, str(err)) from None
    except ConcurrencyConflict as err:
        metrics.add_metric(name="AppendConflicts", unit=MetricUnit.Count, value=1)
        raise HttpError(409, str(err), currentVersion=err.current) from None
    except TooMuchContention as err:
        raise HttpError(503, str(err)) from None
    metrics.add_metric(name="EventsAppended", unit=MetricUnit.Count, value=1)
    logger.info("Event appended", extra={"entity_id": entity_id, "version": event.version,
                                         "type": event.type})
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON,
                    body=event.to_dict(),
                    headers={"Location": f"/entities/{entity_id}/events/{event.version}"})


@app.get("/entities/<entity_id>")
@tracer.capture_method
def get_entity(entity_id: str) -> dict[str, Any]:
    _check_id(entity_id)
    params = app.current_event.query_string_parameters or {}
    version = _int_param("version", params.get("version"), 1)
    at = parse_time(params["at"]) if "at" in params else None
    if version is not None and at is not None:
        raise HttpError(400, "give version or at, not both")
    entity = store.load(entity_id, version=version, at=at)
    if entity.version == 0:
        when = f" at {params['at']}" if at is not None else ""
        raise HttpError(404, f"entity {entity_id} not found{when}")
    if version is not None and entity.version < version:
        raise HttpError(404, f"entity {entity_id} has no version {version} "
                        f"(latest {entity.version})")
    return {**entity.to_dict(), "replayedEvents": entity.replayed,
            "snapshotVersion": entity.snapshot_version}


@app.get("/entities/<entity_id>/events")
@tracer.capture_method
def list_events(entity_id: str) -> dict[str, Any]:
    _check_id(entity_id)
    params = app.current_event.query_string_parameters or {}
    after = _int_param("after", params.get("after"), 0) or 0
    limit = _int_param("limit", params.get("limit"), 1, MAX_LIST) or 100
    found = [e.to_dict() for e in store.read(entity_id, after=after, limit=limit + 1)]
    if not found and after == 0:
        raise HttpError(404, f"entity {entity_id} not found")
    page = found[:limit]
    body: dict[str, Any] = {"id": entity_id, "events": page}
    if len(found) > limit:
        body["next"] = f"/entities/{entity_id}/events?after={page[-1]['version']}&limit={limit}"
    return body


def _error(status: int, message: str, **extra: Any) -> Response:
    body = {"code": status, "message": message,
            "request-id": app.current_event.request_context.request_id, **extra}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(HttpError)
def http_error(err: HttpError) -> Response:
    logger.info("Request rejected", extra={"status": err.status, "reason": err.message})
    return _error(err.status, err.message, **err.extra)


@app.exception_handler(Exception)
def unexpected(err: Exception) -> Response:
    if isinstance(err, ServiceError):  # Powertools' own 4xx (e.g. 405): its response stands
        raise err
    logger.exception("Unhandled error")
    return _error(500, "Internal server error")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def api_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


# --- stream router ----------------------------------------------------------------------------


def stored_event(record: DynamoDBRecord) -> dict[str, Any] | None:
    """The event of a stream record (None for anything but an insert: events never change)."""
    if record.event_name is None or record.event_name.name != "INSERT":
        return None
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image:
        raise ValueError("stream record without a new image (the stream must be NEW_IMAGE)")
    item = from_dynamo(image)
    return {"id": item["id"], "version": int(item["version"]), "type": item["type"],
            "entityType": item.get("entityType", ""), "timestamp": item["timestamp"],
            "data": item.get("eventdata") or {}}


def route(event: dict[str, Any], sns_client: Any, events_client: Any, topic_arn: str,
          bus_name: str) -> None:
    """One event to SNS (with filterable attributes) and to the EventBridge bus."""
    body = json.dumps(event, separators=(",", ":"))
    sns_client.publish(TopicArn=topic_arn, Message=body,
                       Subject=f"{event['type']} {event['id']} v{event['version']}"[:100],
                       MessageAttributes={
                           "eventType": {"DataType": "String", "StringValue": event["type"]},
                           "entityType": {"DataType": "String",
                                          "StringValue": event["entityType"] or "unknown"},
                           "entityId": {"DataType": "String", "StringValue": event["id"]}})
    out = events_client.put_events(Entries=[{
        "Source": EVENT_SOURCE, "DetailType": event["type"], "Detail": body,
        "EventBusName": bus_name, "Resources": []}])
    if out.get("FailedEntryCount"):
        entry = out["Entries"][0]
        raise RuntimeError(f"EventBridge refused the event: {entry.get('ErrorCode')} "
                           f"{entry.get('ErrorMessage')}")


def _route_record(record: DynamoDBRecord) -> None:
    event = stored_event(record)
    if event is not None:
        route(event, sns, events, TOPIC_ARN, BUS_NAME)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def router_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Partial batch response: Lambda resumes from the first failed record, so the ones after it
    # are routed again (subscribers are idempotent); bisection and the on-failure queue keep a
    # poison record from blocking the shard for ever.
    response = process_partial_response(event=event, record_handler=_route_record,
                                        processor=router_processor, context=context)
    failed = len(response.get("batchItemFailures", []))
    routed = len(event.get("Records", [])) - failed
    metrics.add_metric(name="EventsRouted", unit=MetricUnit.Count, value=routed)
    if failed:
        metrics.add_metric(name="RoutingFailures", unit=MetricUnit.Count, value=failed)
    return response


# --- subscribers ------------------------------------------------------------------------------


def project(detail: dict[str, Any], event_store: EventStore, table: Any) -> bool:
    """Write the entity's state at the event's version unless the projection is newer."""
    entity = event_store.load(detail["id"], version=int(detail["version"]))
    if entity.version != int(detail["version"]):
        raise RuntimeError(f"{detail['id']} v{detail['version']} is not in the store")
    try:
        table.put_item(Item={"id": entity.entity_id, "version": entity.version,
                             "entityType": entity.entity_type,
                             "state": json.dumps(entity.state, sort_keys=True),
                             "updatedAt": entity.updated_at},
                       ConditionExpression="attribute_not_exists(id) OR version < :v",
                       ExpressionAttributeValues={":v": entity.version})
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False  # a newer (or the same) version is already projected
        raise


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
def projection_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = event.get("detail") or {}
    if not {"id", "version"} <= set(detail):
        # Raised, not dropped: the async retries and the on-failure queue keep it.
        raise ValueError("not an event_store event (detail needs id and version)")
    table = dynamodb.Table(ENV["PROJECTION_TABLE_NAME"])
    written = project(detail, store, table)
    logger.info("Projection", extra={"entity_id": detail["id"], "version": detail["version"],
                                     "written": written})
    return {"id": detail["id"], "version": detail["version"], "written": written}


def notification_text(event: dict[str, Any]) -> str:
    """A readable line for a person (the notifier's message)."""
    data, kind = event.get("data") or {}, event["type"]
    if kind == "UserCreated":
        return f"Welcome {data.get('name')}! Your account {event['id']} is ready."
    if kind == "UserDeactivated":
        return f"Account {event['id']} was deactivated: {data.get('reason')}."
    if kind == "TransactionRefunded":
        return f"Transaction {event['id']}: {data.get('amount')} (minor units) refunded."
    if kind == "TransactionDeclined":
        return f"Transaction {event['id']} was declined: {data.get('reason')}."
    return f"{kind} on {event['id']} (version {event['version']})."


def notify(event: dict[str, Any], table: Any) -> bool:
    """Store the notification once per (entity, version): SNS may deliver twice."""
    try:
        table.put_item(Item={"id": f"{event['id']}#{event['version']}", "entityId": event["id"],
                             "version": event["version"], "type": event["type"],
                             "message": notification_text(event)},
                       ConditionExpression="attribute_not_exists(id)")
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
def notifier_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    table = dynamodb.Table(ENV["NOTIFICATIONS_TABLE_NAME"])
    sent = 0
    for record in event.get("Records", []):
        message = json.loads(record["Sns"]["Message"])
        sent += notify(message, table)
    return {"notified": sent}
