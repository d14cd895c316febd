"""The Slack bot: the Events API endpoint, the `dns` slash command, and alarm forwarding.

events_handler (HTTP API, POST /slack/events and POST /slack/commands):
  every request's v0 signature is checked first (401 otherwise); url_verification answers the
  challenge; an app_mention `dns <name> [type]` is answered in the channel through the webhook;
  the slash command is answered in its HTTP response.
alarm_handler (SNS): each notification (a CloudWatch alarm, or any text) is posted to the
  webhook; a failed post raises, so Lambda retries and then sends the event to the on-failure
  queue.

Configuration: the signing secret and the webhook URL live in one Secrets Manager secret
(JSON: signing_secret, webhook_url), the DNS resolver in an SSM parameter; both are read with
Powertools parameters (cached), never logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import warnings
from typing import Any
from urllib.parse import parse_qs

import requests
from alarm_message import slack_message
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import SNSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from dns_command import CommandError, lookup, make_resolver, parse
from slack_signature import SignatureError, verify

from common.http import HttpError
from common.observability import get_logger, get_metrics, get_tracer

warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
SECRET_ID = os.environ["SLACK_SECRET_ARN"]
RESOLVER_PARAMETER = os.environ["DNS_RESOLVERS_PARAMETER"]
CONFIG_MAX_AGE = int(os.environ.get("CONFIG_MAX_AGE_SECONDS", "60"))
WEBHOOK_TIMEOUT_S = 5
http = requests.Session()
app = APIGatewayHttpResolver()


def slack_config() -> dict[str, str]:
    config = parameters.get_secret(SECRET_ID, transform="json", max_age=CONFIG_MAX_AGE)
    return config if isinstance(config, dict) else {}


def post_webhook(payload: dict[str, Any]) -> None:
    """POST to the incoming webhook; raise on any failure (the caller decides to retry)."""
    url = slack_config().get("webhook_url")
    if not url:
        raise RuntimeError("no webhook_url in the Slack secret")
    resp = http.post(url, json=payload, timeout=WEBHOOK_TIMEOUT_S)
    if resp.status_code >= 300:
        raise RuntimeError(f"webhook answered {resp.status_code}: {resp.text[:200]}")


def raw_body() -> bytes:
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "body is not valid base64") from None
    return body.encode()


def verified_body() -> bytes:
    body = raw_body()
    try:
        verify(slack_config().get("signing_secret", ""), app.current_event.headers, body)
    except SignatureError as err:
        metrics.add_metric(name="RejectedRequests", unit=MetricUnit.Count, value=1)
        raise HttpError(401, str(err)) from None
    return body


@tracer.capture_method
def answer_dns(text: str) -> tuple[bool, str]:
    """(answered, reply text) for a `dns ...` command."""
    try:
        query = parse(text)
    except CommandError as err:
        return False, str(err)
    resolver_spec = parameters.get_parameter(RESOLVER_PARAMETER, max_age=CONFIG_MAX_AGE)
    answer = lookup(query, make_resolver(str(resolver_spec)))
    metrics.add_metric(name="DnsLookups", unit=MetricUnit.Count, value=1)
    logger.info("DNS lookup", extra={"qname": query.name, "qtype": query.rdtype,
                                     "found": answer.ok})
    return True, answer.text()


@app.post("/slack/events")
@tracer.capture_method
def slack_events() -> Response:
    body = verified_body()
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise HttpError(400, "body is not JSON") from None
    if not isinstance(payload, dict):
        raise HttpError(400, "body must be a JSON object")
    kind = payload.get("type")
    if kind == "url_verification":
        challenge = payload.get("challenge")
        if not isinstance(challenge, str):
            raise HttpError(400, "url_verification without a challenge")
        return Response(200, content_types.APPLICATION_JSON, {"challenge": challenge})
    if kind != "event_callback" or not isinstance(payload.get("event"), dict):
        raise HttpError(400, f"unsupported payload type {kind!r}")
    if app.current_event.headers.get("x-slack-retry-num"):
        # Slack retries when our first answer was slow; that one already posted the reply.
        logger.info("Slack retry acknowledged", extra={"event_id": payload.get("event_id")})
        return Response(200, content_types.APPLICATION_JSON, {"ok": True, "retry": True})
    event = payload["event"]
    if event.get("type") != "app_mention" or event.get("bot_id"):
        return Response(200, content_types.APPLICATION_JSON, {"ok": True, "ignored": True})
    words = [w for w in str(event.get("text", "")).split() if not w.startswith("<@")]
    _, reply = answer_dns(" ".join(words))
    post_webhook({"text": f"<@{event.get('user')}> {reply}"})
    return Response(200, content_types.APPLICATION_JSON, {"ok": True})


@app.post("/slack/commands")
@tracer.capture_method
def slash_command() -> Response:
    body = verified_body()
    form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
    if "command" not in form:
        raise HttpError(400, "not a slash command")
    text = form.get("text", "")
    if form["command"].lower() != "/dns" and not text.lower().startswith("dns"):
        return Response(200, content_types.APPLICATION_JSON,
                        {"response_type": "ephemeral", "text": "Try `dns example.com MX`."})
    answered, reply = answer_dns(text)
    return Response(200, content_types.APPLICATION_JSON,
                    {"response_type": "in_channel" if answered else "ephemeral", "text": reply})


@app.exception_handler(HttpError)
def http_error(err: HttpError) -> Response:
    logger.info("Request rejected", extra={"status": err.status, "reason": err.message})
    return Response(err.status, content_types.APPLICATION_JSON,
                    {"code": err.status, "message": err.message,
                     "request-id": app.current_event.request_context.request_id})


@app.exception_handler(Exception)
def unexpected(err: Exception) -> Response:
    if isinstance(err, ServiceError):
        raise err
    logger.exception("Unhandled error")
    return Response(500, content_types.APPLICATION_JSON,
                    {"code": 500, "message": "Internal server error"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP,
                               clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def events_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """HTTP API v2 proxy event (Slack Events API or a slash command) -> the response."""
    return app.resolve(event, context)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def alarm_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """SNS notifications -> Slack; raises when a post fails, so nothing is lost silently."""
    records = list(SNSEvent(event).records)
    for record in records:
        sns = record.sns
        post_webhook(slack_message(sns.subject, sns.message))
        logger.info("Notification forwarded", extra={"message_id": sns.message_id,
                                                     "topic": sns.topic_arn})
    metrics.add_metric(name="AlarmsForwarded", unit=MetricUnit.Count, value=len(records))
    return {"forwarded": len(records)}
