"""document_watermark API: GET /documents/{key+} with a bearer JWT.

JWT verified against the JWKS -> access logged (user, file, time, watermark) -> GET through the
S3 Object Lambda access point (convert to PDF, stamp the user's watermark) -> the PDF stored in
the temporary bucket (lifecycle expiry) -> 302 to a presigned URL of it.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from dw_auth import AuthError, Principal, bearer_token, verify

from common.aws import client, resource
from common.object_lambda import ObjectLambdaError, get_object
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
app = APIGatewayHttpResolver()

_s3 = client("s3")
_lambda = client("lambda")
_dynamodb = resource("dynamodb")
_jwks_cache: tuple[float, dict[str, Any]] | None = None
JWKS_MAX_AGE = 300

MAX_KEY_LENGTH = 1024
# What the transform's errors mean to the caller.
_ERROR_STATUS = {404: 404, 415: 415, 422: 422}


def _error(status: int, message: str, **extra: Any) -> Response:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body={"message": message, **extra}, headers=headers)


def load_jwks(refresh: bool) -> dict[str, Any]:
    """The JWKS: from JWKS_URL (e.g. a Cognito user pool's jwks.json) or the SSM parameter
    JWKS_PARAMETER; cached for 5 minutes, `refresh` reads it again (an unknown key id)."""
    global _jwks_cache
    url = os.environ.get("JWKS_URL", "")
    if not url:
        return parameters.get_parameter(os.environ["JWKS_PARAMETER"], transform="json",
                                        max_age=JWKS_MAX_AGE, force_fetch=refresh)
    if refresh or _jwks_cache is None or time.monotonic() - _jwks_cache[0] > JWKS_MAX_AGE:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - configured URL
            _jwks_cache = (time.monotonic(), json.loads(resp.read()))
    return _jwks_cache[1]


def valid_key(raw: str) -> str:
    """The document key, if it is one (no traversal, a sane length)."""
    if not raw or len(raw) > MAX_KEY_LENGTH or raw.startswith("/") or any(
            part in ("", ".", "..") for part in raw.split("/")) or any(
            ord(c) < 32 for c in raw):
        raise ValueError(f"not a document key: {raw[:80]!r}")
    return raw


def watermark_text(principal: Principal, mode: str) -> str:
    """The user's name, or in "token" mode an opaque code that only the access log resolves."""
    if mode == "token":
        return f"WM-{secrets.token_hex(6).upper()}"
    return principal.username


def _local_invoke(event: dict[str, Any]) -> None:
    """Under localcloud: run the Object Lambda function itself (see common.object_lambda)."""
    result = _lambda.invoke(FunctionName=os.environ["WATERMARK_FUNCTION_NAME"],
                            Payload=json.dumps(event).encode())
    if result.get("FunctionError"):
        logger.error("Object Lambda function failed",
                     extra={"error": result["Payload"].read().decode()[:500]})


@app.get("/documents/.+")
@tracer.capture_method
def get_document() -> Response:
    event = app.current_event
    try:
        principal = verify(bearer_token(event.headers), load_jwks,
                           issuer=os.environ["JWT_ISSUER"], audience=os.environ["JWT_AUDIENCE"],
                           required_scope=os.environ.get("REQUIRED_SCOPE", ""))
    except AuthError as err:
        logger.info("Request refused", extra={"status": err.status, "reason": str(err)})
        metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
        return _error(err.status, str(err))
    try:
        key = valid_key((event.path_parameters or {}).get("key") or "")
    except ValueError as err:
        return _error(400, str(err))
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    request_id = event.request_context.request_id
    mark = watermark_text(principal, os.environ.get("WATERMARK_MODE", "name"))
    table = _dynamodb.Table(os.environ["ACCESS_LOG_TABLE"])
    log_key = {"user_id": principal.subject, "accessed_at": f"{now}#{request_id}"}
    # Logged before the document is read: an attempt counts even if it then fails.
    table.put_item(Item={**log_key, "username": principal.username, "document": key,
                         "watermark": mark, "outcome": "requested", "request_id": request_id,
                         "source_ip": event.request_context.http.source_ip})
    try:
        rendered = get_object(
            _s3, os.environ["OBJECT_LAMBDA_ACCESS_POINT_ARN"], key,
            {"X-Watermark-Text": quote(mark),
             "X-Watermark-Footer": quote(f"{mark} - {now[:16].replace('T', ' ')} UTC - "
                                         f"{request_id}")},
            local_invoke=_local_invoke, supporting_bucket=os.environ["DOCUMENTS_BUCKET"])
    except ObjectLambdaError as err:
        status = _ERROR_STATUS.get(err.status_code, 502)
        outcome = {404: "not_found"}.get(status, "refused" if status < 500 else "failed")
        table.update_item(Key=log_key, UpdateExpression="SET outcome = :o, reason = :r",
                          ExpressionAttributeValues={":o": outcome, ":r": err.message[:500]})
        logger.warning("Document not served", extra={"key": key, "status": err.status_code,
                                                     "code": err.code})
        return _error(status, "document not found" if status == 404 else err.message,
                      code=err.code)
    name = key.rsplit("/", 1)[-1].rsplit(".", 1)[0] + ".pdf"
    temp_key = f"rendered/{uuid.uuid4().hex}/{name}"
    _s3.put_object(Bucket=os.environ["TEMP_BUCKET"], Key=temp_key, Body=rendered.body,
                   ContentType="application/pdf",
                   ContentDisposition=f"inline; filename*=UTF-8''{quote(name)}",
                   ServerSideEncryption="AES256")
    url = _s3.generate_presigned_url(
        "get_object", Params={"Bucket": os.environ["TEMP_BUCKET"], "Key": temp_key},
        ExpiresIn=int(os.environ.get("PRESIGNED_URL_SECONDS") or 300))
    table.update_item(Key=log_key, UpdateExpression="SET outcome = :o, rendered_key = :k",
                      ExpressionAttributeValues={":o": "served", ":k": temp_key})
    metrics.add_metric(name="DocumentsServed", unit=MetricUnit.Count, value=1)
    logger.info("Document served", extra={"key": key, "user": principal.subject,
                                          "bytes": len(rendered.body)})
    return Response(status_code=302, content_type="text/plain", body="",
                    headers={"Location": url, "Cache-Control": "no-store"})


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
