"""document_watermark's S3 Object Lambda function: a GET through the Object Lambda access
point -> download the original from getObjectContext.inputS3Url -> convert to PDF, stamp the
requester's watermark (userRequest header X-Watermark-Text) -> WriteGetObjectResponse.

Every outcome is answered through WriteGetObjectResponse, errors included (status, code,
message), so the caller gets S3's error instead of a timeout.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from aws_lambda_powertools.metrics import MetricUnit
from dw_render import RenderError, Watermark, render

from common.aws import client
from common.object_lambda import ObjectResponse, write_get_object_response
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
_s3 = client("s3")

WATERMARK_HEADER = "x-watermark-text"
FOOTER_HEADER = "x-watermark-footer"
DOWNLOAD_TIMEOUT = 20


class BadObjectLambdaEvent(ValueError):
    """Not a getObjectContext event."""


def request_key(event: Mapping[str, Any]) -> str:
    """The object key the caller asked for (the path of userRequest.url)."""
    url = (event.get("userRequest") or {}).get("url") or ""
    return unquote(urlsplit(url).path.lstrip("/"))


def watermark_of(event: Mapping[str, Any]) -> Watermark | None:
    headers = {k.lower(): v for k, v in ((event.get("userRequest") or {}).get("headers")
                                         or {}).items()}
    text = unquote(headers.get(WATERMARK_HEADER, "")).strip()
    if not text:
        return None
    return Watermark(text=text[:120], footer=unquote(headers.get(FOOTER_HEADER, ""))[:200])


def download(url: str) -> tuple[bytes, str | None]:
    """The original through the presigned URL S3 put in the event."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as resp:  # noqa: S310 - S3's URL
        return resp.read(), resp.headers.get("Content-Type")


def transform(event: Mapping[str, Any],
              fetch: Any = download) -> ObjectResponse:
    """The answer for one getObjectContext event (never raises for the document's faults)."""
    context = event.get("getObjectContext") or {}
    if not context.get("inputS3Url"):
        raise BadObjectLambdaEvent("no getObjectContext.inputS3Url")
    key = request_key(event)
    mark = watermark_of(event)
    if mark is None:
        # No watermark, no document: this access point only serves stamped copies.
        return ObjectResponse(status_code=403, error_code="WatermarkRequired",
                              error_message="the request names no watermark")
    try:
        data, content_type = fetch(context["inputS3Url"])
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return ObjectResponse(status_code=404, error_code="NoSuchKey",
                                  error_message=f"{key} does not exist")
        return ObjectResponse(status_code=502, error_code="SourceUnavailable",
                              error_message=f"reading {key} failed with HTTP {err.code}")
    try:
        body = render(data, key, content_type, mark)
    except RenderError as err:
        logger.warning("Document not rendered", extra={"key": key, "reason": str(err)})
        return ObjectResponse(status_code=err.status, error_code=err.code,
                              error_message=str(err))
    return ObjectResponse(body=body, content_type="application/pdf",
                          metadata={"source-key": key[:512], "watermarked": "true"})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    context_ = event.get("getObjectContext") or {}
    route, token = context_.get("outputRoute"), context_.get("outputToken")
    if not route or not token:
        raise BadObjectLambdaEvent("not an S3 Object Lambda getObjectContext event")
    try:
        response = transform(event)
    except Exception as err:  # noqa: BLE001 - the GET must get an answer, not a timeout
        logger.exception("Transform failed")
        response = ObjectResponse(status_code=500, error_code="TransformFailed",
                                  error_message=type(err).__name__)
    write_get_object_response(_s3, route, token, response)
    outcome = "Rendered" if response.status_code < 400 else "Refused"
    metrics.add_metric(name=f"Documents{outcome}", unit=MetricUnit.Count, value=1)
    logger.info("Answered", extra={"key": request_key(event), "status": response.status_code,
                                   "bytes": len(response.body)})
    return {"status_code": response.status_code}
