"""url_shortener: POST /shorten, GET /{id} (the redirect), GET /admin (the admin page).

A short link is the seed's redirect object: an empty S3 object u/<id> whose website redirect
location is the long URL, expired by the bucket's lifecycle rule after URLExpiration days.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from us_links import (
    InvalidUrl,
    host_port,
    is_expired,
    is_id,
    new_id,
    public_base,
    validate_url,
)

from common.aws import client
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
app = APIGatewayHttpResolver()

_s3 = client("s3")
ADMIN_PAGE = (Path(__file__).parent / "admin.html").read_text()
MAX_ID_ATTEMPTS = 5
PREFIX = "u/"


class IdSpaceExhausted(RuntimeError):
    """MAX_ID_ATTEMPTS random ids were all taken (practically impossible with 62**7)."""


def _own_hosts(headers: dict[str, str]) -> list[tuple[str, int]]:
    lower = {k.lower(): v for k, v in headers.items()}
    proto = lower.get("x-forwarded-proto", "https").split(",")[0].strip()
    hosts = [host_port(lower.get("host", ""), proto)]
    configured = os.environ.get("PUBLIC_BASE_URL", "")
    if configured:
        hosts.append(host_port(configured))
    return hosts


def store_link(s3: Any, bucket: str, url: str, *, attempts: int = MAX_ID_ATTEMPTS) -> str:
    """A fresh id whose u/<id> redirects to `url`; never overwrites an existing link.

    If-None-Match: * makes S3 refuse the write when the key exists (412), so two requests
    drawing the same id cannot both win, whatever the timing.
    """
    for _ in range(attempts):
        short_id = new_id()
        try:
            s3.put_object(Bucket=bucket, Key=f"{PREFIX}{short_id}", Body=b"",
                          WebsiteRedirectLocation=url, ContentType="text/plain",
                          IfNoneMatch="*")
            return short_id
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("PreconditionFailed",
                                                                 "ConditionalRequestConflict"):
                raise
            logger.info("Short id taken, drawing another")
    raise IdSpaceExhausted(f"no free id after {attempts} attempts")


def resolve_link(s3: Any, bucket: str, short_id: str, days: int,
                 now: datetime | None = None) -> str | None:
    """The long URL of a live link, None for an unknown or expired one."""
    try:
        head = s3.head_object(Bucket=bucket, Key=f"{PREFIX}{short_id}")
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    if is_expired(head["LastModified"], days, now or datetime.now(UTC)):
        return None
    return head.get("WebsiteRedirectLocation")


@app.post("/shorten")
@tracer.capture_method
def shorten() -> Response:
    try:
        body = app.current_event.json_body if app.current_event.body else None
    except ValueError:  # json.JSONDecodeError, or a body that is not UTF-8
        raise BadRequestError("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequestError('body must be a JSON object: {"url": "https://..."}')
    headers = dict(app.current_event.headers or {})
    try:
        url = validate_url(body.get("url"), own_hosts=_own_hosts(headers),
                           own_domains=[d for d in os.environ.get("OWN_DOMAINS", "").split(",")
                                        if d],
                           max_length=int(os.environ.get("MAX_URL_LENGTH") or 2048))
    except InvalidUrl as err:
        logger.info("URL refused", extra={"reason": str(err)})
        raise BadRequestError(str(err)) from None
    short_id = store_link(_s3, os.environ["BUCKET_NAME"], url)
    days = int(os.environ["URL_EXPIRATION_DAYS"])
    short_url = f"{public_base(headers, os.environ.get('PUBLIC_BASE_URL', ''))}/{short_id}"
    metrics.add_metric(name="LinksCreated", unit=MetricUnit.Count, value=1)
    logger.info("Link created", extra={"id": short_id})  # the URL may carry secrets: not logged
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON,
                    body={"id": short_id, "short_url": short_url, "url": url,
                          "expires_in_days": days},
                    headers={"Location": short_url})


@app.get("/admin")
def admin_page() -> Response:
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=ADMIN_PAGE,
                    headers={"Cache-Control": "no-cache",
                             "Content-Security-Policy": "default-src 'self'; "
                             "script-src 'unsafe-inline'; style-src 'unsafe-inline'"})


@app.get("/<short_id>")
@tracer.capture_method
def redirect(short_id: str) -> Response:
    if not is_id(short_id):
        raise NotFoundError(f"no short link {short_id!r}")
    url = resolve_link(_s3, os.environ["BUCKET_NAME"], short_id,
                       int(os.environ["URL_EXPIRATION_DAYS"]))
    if url is None:
        metrics.add_metric(name="LinksNotFound", unit=MetricUnit.Count, value=1)
        raise NotFoundError(f"no short link {short_id!r} (unknown or expired)")
    metrics.add_metric(name="Redirects", unit=MetricUnit.Count, value=1)
    # 301, as S3's website redirect answers; no-store so an expired link stops redirecting.
    return Response(status_code=301, content_type="text/plain", body="",
                    headers={"Location": url, "Cache-Control": "no-store"})


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
