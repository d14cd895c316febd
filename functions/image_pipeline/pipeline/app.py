"""image_pipeline: the upload trigger and the state machine's steps (one code folder).

- start_handler (S3 ObjectCreated under uploads/): one execution per uploaded object version.
- validate_handler: type, size, dimensions, full decode -> the image's facts.
- resize_handler (one Parallel branch): one rendition (size + format) to renditions/<id>/.
- check_handler: the content check on a small rendition (blank, blocked pictures).
- record_handler: the image's item, READY with its renditions and content facts.
- reject_handler (every failure): delete what the execution wrote, item REJECTED with the
  reason; the state machine then ends FAILED with that reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from ip_images import (
    ImageMissing,
    Limits,
    RenditionFailed,
    RenditionSpec,
    check_content,
    inspect_image,
    make_rendition,
)

from common.aws import client, resource
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

_s3 = client("s3")
_sfn = client("stepfunctions")
_dynamodb = resource("dynamodb")

UPLOAD_PREFIX = "uploads/"
RENDITION_PREFIX = "renditions/"


class StepInputError(ValueError):
    """The step got something the state machine does not send."""


class UndecodableKey(ValueError):
    """An S3 event key that is not valid percent-encoded UTF-8."""


# --- plain functions ------------------------------------------------------------------------

def decode_key(raw: str) -> str:
    """S3 event keys are URL-encoded (spaces as '+'); refuse bytes that are not UTF-8."""
    try:
        return unquote_plus(raw, errors="strict")
    except UnicodeDecodeError as err:
        raise UndecodableKey(f"key {raw!r} is not valid UTF-8 once decoded") from err


def image_id_of(key: str) -> str:
    """uploads/<id> -> <id>: the item's key and the renditions' folder."""
    if not key.startswith(UPLOAD_PREFIX) or key == UPLOAD_PREFIX:
        raise StepInputError(f"{key!r} is not under {UPLOAD_PREFIX}")
    return key[len(UPLOAD_PREFIX):]


def execution_name(key: str, etag: str) -> str:
    """One execution per object version: S3 may deliver an event twice."""
    stem = re.sub(r"[^A-Za-z0-9_-]", "-", key.rsplit("/", 1)[-1])[:48]
    return f"{stem}-{hashlib.sha1(f'{key}/{etag}'.encode()).hexdigest()[:20]}"


def rendition_key(image_id: str, spec: RenditionSpec) -> str:
    return f"{RENDITION_PREFIX}{image_id}/{spec.name}.{spec.extension}"


def limits_from_env(env: Mapping[str, str]) -> Limits:
    default = Limits()
    return Limits(max_bytes=int(env.get("MAX_IMAGE_BYTES") or default.max_bytes),
                  min_side=int(env.get("MIN_IMAGE_SIDE") or default.min_side),
                  max_side=int(env.get("MAX_IMAGE_SIDE") or default.max_side),
                  max_pixels=int(env.get("MAX_IMAGE_PIXELS") or default.max_pixels))


def failure_reason(error: Mapping[str, Any] | None) -> tuple[str, str]:
    """(error name, readable reason) from a Catch's {"Error", "Cause"}.

    A Lambda error's Cause is the runtime's JSON ({"errorMessage", "errorType", ...}); other
    causes (timeouts, service errors) are plain text.
    """
    error = error or {}
    name = str(error.get("Error") or "States.Unknown")
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, Mapping) and parsed.get("errorMessage"):
        return str(parsed.get("errorType") or name), str(parsed["errorMessage"])
    return name, str(cause) or name


def read_original(s3: Any, bucket: str, key: str, etag: str | None) -> bytes:
    """The uploaded bytes of exactly the version the event named."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if etag:
        kwargs["IfMatch"] = etag
    try:
        return s3.get_object(**kwargs)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise ImageMissing(f"s3://{bucket}/{key} does not exist (deleted before processing)"
                           ) from None
    except s3.exceptions.ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "412"):
            raise ImageMissing(f"s3://{bucket}/{key} was replaced by a newer upload") from None
        if code in ("NoSuchKey", "404"):
            raise ImageMissing(f"s3://{bucket}/{key} does not exist") from None
        raise


def delete_renditions(s3: Any, bucket: str, image_id: str) -> int:
    """Remove every rendition of the image (a failed execution leaves none behind)."""
    prefix = f"{RENDITION_PREFIX}{image_id}/"
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def _image_input(event: Any) -> dict[str, Any]:
    image = event.get("image") if isinstance(event, Mapping) else None
    if not isinstance(image, Mapping) or not all(
            isinstance(image.get(k), str) and image.get(k)
            for k in ("bucket", "key", "image_id")):
        raise StepInputError('expects {"image": {"bucket", "key", "image_id", ...}}')
    return dict(image)


# --- handlers -------------------------------------------------------------------------------

@logger.inject_lambda_context
@tracer.capture_lambda_handler
def start_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """S3 ObjectCreated under uploads/ -> one execution per object version.

    A record that cannot be started is logged and, once the others are started, raised: the
    async invocation is retried (names make that idempotent) and then reaches the DLQ.
    """
    started, failed = [], []
    for record in event.get("Records", []):
        try:
            bucket = record["s3"]["bucket"]["name"]
            key = decode_key(record["s3"]["object"]["key"])
            etag = record["s3"]["object"].get("eTag", "")
            payload = {"bucket": bucket, "key": key, "image_id": image_id_of(key),
                       "etag": etag, "size": record["s3"]["object"].get("size")}
        except (KeyError, TypeError, UndecodableKey, StepInputError) as err:
            logger.error("Upload event not usable", extra={"error": str(err)})
            failed.append(str(err))
            continue
        try:
            arn = _sfn.start_execution(stateMachineArn=os.environ["STATE_MACHINE_ARN"],
                                       name=execution_name(key, etag),
                                       input=json.dumps(payload))["executionArn"]
        except _sfn.exceptions.ExecutionAlreadyExists:
            logger.info("Upload already started (repeated S3 event)", extra={"key": key})
            continue
        logger.info("Image pipeline started", extra={"key": key, "execution": arn})
        started.append(arn)
    if failed:
        raise ValueError(f"{len(failed)} upload record(s) not started: {'; '.join(failed)}")
    return {"started": started}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def validate_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """{"bucket", "key", "image_id", "etag"} -> {"image": {... facts}} or an ImageRejected."""
    if not isinstance(event, Mapping) or not all(
            isinstance(event.get(k), str) and event.get(k) for k in ("bucket", "key")):
        raise StepInputError('expects {"bucket", "key", "image_id"}')
    bucket, key = event["bucket"], event["key"]
    image_id = event.get("image_id") or image_id_of(key)
    data = read_original(_s3, bucket, key, event.get("etag") or None)
    info = inspect_image(data, limits_from_env(os.environ))
    logger.info("Image valid", extra={"key": key, **info.to_dict()})
    return {"image": {"bucket": bucket, "key": key, "image_id": image_id,
                      "etag": event.get("etag") or "", **info.to_dict()}}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def resize_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """{"image", "rendition": spec} -> the rendition written, its facts."""
    image = _image_input(event)
    try:
        spec = RenditionSpec.from_dict(event.get("rendition") or {})
    except ValueError as err:
        raise StepInputError(str(err)) from None
    data = read_original(_s3, image["bucket"], image["key"], image.get("etag") or None)
    body, width, height = make_rendition(data, spec)
    key = rendition_key(image["image_id"], spec)
    _s3.put_object(Bucket=os.environ["IMAGES_BUCKET"], Key=key, Body=body,
                   ContentType=f"image/{spec.extension.replace('jpg', 'jpeg')}",
                   Metadata={"source-etag": image.get("etag", "").strip('"')})
    return {"name": spec.name, "key": key, "format": spec.format, "width": width,
            "height": height, "bytes": len(body)}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def check_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """{"image", "renditions"} -> content facts, or ContentRejected."""
    image = _image_input(event)
    renditions = event.get("renditions")
    if not isinstance(renditions, list) or not renditions:
        raise StepInputError('expects {"image", "renditions": [...]}')
    failed = [r for r in renditions if r.get("failed")]
    if failed:
        # The branches report instead of raising (see the definition); the first one decides.
        _, reason = failure_reason({"Error": failed[0].get("error"),
                                    "Cause": failed[0].get("cause")})
        raise RenditionFailed(f"rendition {failed[0].get('name')} failed: {reason}")
    wanted = os.environ.get("CHECK_RENDITION", "small")
    chosen = next((r for r in renditions if r.get("name") == wanted), renditions[0])
    data = _s3.get_object(Bucket=os.environ["IMAGES_BUCKET"], Key=chosen["key"])["Body"].read()
    blocked = _dynamodb.Table(os.environ["BLOCKED_TABLE"]).scan().get("Items", [])
    content = check_content(data, blocked, int(os.environ.get("BLOCKED_MAX_DISTANCE") or 6))
    logger.info("Content checked", extra={"image_id": image["image_id"], **content})
    return content


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def record_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """{"image", "renditions", "content"} -> the image's item, READY."""
    image = _image_input(event)
    renditions = {r["name"]: {k: r[k] for k in ("key", "format", "width", "height", "bytes")}
                  for r in event.get("renditions") or []}
    item = {"image_id": image["image_id"], "status": "READY",
            "source": {"bucket": image["bucket"], "key": image["key"],
                       "etag": image.get("etag", "")},
            "format": image["format"], "content_type": image["content_type"],
            "width": image["width"], "height": image["height"], "bytes": image["bytes"],
            "frames": image.get("frames", 1), "renditions": renditions,
            "content": {k: (str(v) if isinstance(v, float) else v)
                        for k, v in (event.get("content") or {}).items()},
            "execution": event.get("execution", ""),
            "updated_at": datetime.now(UTC).isoformat()}
    _dynamodb.Table(os.environ["IMAGES_TABLE"]).put_item(Item=item)
    metrics.add_metric(name="ImagesProcessed", unit=MetricUnit.Count, value=1)
    return {"image_id": image["image_id"], "status": "READY",
            "renditions": sorted(renditions)}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def reject_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """{"bucket", "key", "image_id", "error"} -> renditions removed, item REJECTED."""
    if not isinstance(event, Mapping) or not event.get("key"):
        raise StepInputError('expects {"bucket", "key", "image_id", "error"}')
    image_id = event.get("image_id") or image_id_of(event["key"])
    error, reason = failure_reason(event.get("error"))
    deleted = delete_renditions(_s3, os.environ["IMAGES_BUCKET"], image_id)
    _dynamodb.Table(os.environ["IMAGES_TABLE"]).put_item(Item={
        "image_id": image_id, "status": "REJECTED", "error": error, "reason": reason,
        "source": {"bucket": event.get("bucket", ""), "key": event["key"],
                   "etag": event.get("etag", "")},
        "execution": event.get("execution", ""),
        "updated_at": datetime.now(UTC).isoformat()})
    metrics.add_metric(name="ImagesRejected", unit=MetricUnit.Count, value=1)
    logger.warning("Image rejected", extra={"image_id": image_id, "error": error,
                                            "reason": reason, "renditions_deleted": deleted})
    return {"error": error, "reason": reason, "renditions_deleted": deleted}
