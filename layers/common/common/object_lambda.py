"""S3 Object Lambda on both sides: answering a getObjectContext event with
WriteGetObjectResponse, and GETting an object through an Object Lambda access point.

moto (and so localcloud) emulates neither Object Lambda access points nor
WriteGetObjectResponse. Under localcloud (LOCALCLOUD=1 with LOCALCLOUD_STATE_DIR set) both sides
switch to a stand-in at that edge only: the caller builds the real getObjectContext event (a
presigned URL of the object on the local S3, an output route and token), invokes the transform
function synchronously, and reads what the function "wrote" from the cloud's state folder,
where the function's WriteGetObjectResponse goes instead. Everything else (the event, the
presigned download, the transform, the caller's error handling) is the code that runs on AWS.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

_STATE_SUBDIR = "s3-object-lambda"


def local_state_dir() -> Path | None:
    """The localcloud state folder when running under localcloud, else None (AWS)."""
    state = os.environ.get("LOCALCLOUD_STATE_DIR")
    return Path(state) if os.environ.get("LOCALCLOUD") == "1" and state else None


def _response_path(state_dir: Path, route: str, token: str) -> Path:
    safe = [p.replace("/", "_") for p in (route, token)]
    return state_dir / _STATE_SUBDIR / safe[0] / safe[1]


@dataclass
class ObjectResponse:
    """What the transform answered: a body, or an error status with its code and message."""

    status_code: int = 200
    body: bytes = b""
    content_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def write_get_object_response(s3: Any, route: str, token: str, response: ObjectResponse,
                              state_dir: Path | None = None) -> None:
    """The transform's answer: S3's WriteGetObjectResponse on AWS, a file under localcloud."""
    state_dir = state_dir if state_dir is not None else local_state_dir()
    if state_dir is None:
        kwargs: dict[str, Any] = {"RequestRoute": route, "RequestToken": token,
                                  "StatusCode": response.status_code}
        if response.status_code < 400:
            kwargs["Body"] = response.body
            if response.content_type:
                kwargs["ContentType"] = response.content_type
            if response.metadata:
                kwargs["Metadata"] = response.metadata
        else:
            kwargs["ErrorCode"] = response.error_code or "TransformError"
            kwargs["ErrorMessage"] = response.error_message or ""
        s3.write_get_object_response(**kwargs)
        return
    path = _response_path(state_dir, route, token)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".body").write_bytes(response.body)
    # Written last: its presence says the response is complete.
    path.with_suffix(".json").write_text(json.dumps({
        "status_code": response.status_code, "content_type": response.content_type,
        "error_code": response.error_code, "error_message": response.error_message,
        "metadata": response.metadata}))


class ObjectLambdaError(Exception):
    """The transform answered an error (or none): status, code and message as S3 reports."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code, self.code, self.message = status_code, code, message


def get_object(s3: Any, access_point_arn: str, key: str, headers: Mapping[str, str],
               *, local_invoke: Callable[[dict[str, Any]], Any] | None = None,
               supporting_bucket: str | None = None,
               state_dir: Path | None = None) -> ObjectResponse:
    """GET `key` through the Object Lambda access point, with extra request headers (which
    reach the transform as userRequest.headers). Raises ObjectLambdaError for its errors.

    Under localcloud, `local_invoke(event)` runs the transform and `supporting_bucket` is
    the bucket behind the supporting access point.
    """
    state_dir = state_dir if state_dir is not None else local_state_dir()
    if state_dir is None:
        return _get_on_aws(s3, access_point_arn, key, headers)
    if local_invoke is None or not supporting_bucket:
        raise ValueError("under localcloud, get_object needs local_invoke and supporting_bucket")
    return _get_locally(s3, access_point_arn, key, headers, local_invoke, supporting_bucket,
                        state_dir)


def _get_on_aws(s3: Any, access_point_arn: str, key: str,
                headers: Mapping[str, str]) -> ObjectResponse:
    from botocore.exceptions import ClientError

    def add_headers(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    # Registered per call and removed after: the headers belong to this request only.
    s3.meta.events.register_first("before-sign.s3.GetObject", add_headers)
    try:
        got = s3.get_object(Bucket=access_point_arn, Key=key)
    except ClientError as err:
        error = err.response.get("Error", {})
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
        raise ObjectLambdaError(status, str(error.get("Code", "")),
                                str(error.get("Message", ""))) from None
    finally:
        s3.meta.events.unregister("before-sign.s3.GetObject", add_headers)
    return ObjectResponse(body=got["Body"].read(), content_type=got.get("ContentType"),
                          metadata=dict(got.get("Metadata") or {}))


def _get_locally(s3: Any, access_point_arn: str, key: str, headers: Mapping[str, str],
                 local_invoke: Callable[[dict[str, Any]], Any], bucket: str,
                 state_dir: Path) -> ObjectResponse:
    route = f"io-local-{uuid.uuid4().hex[:12]}"
    token = secrets.token_urlsafe(24)
    event = {
        "xAmzRequestId": uuid.uuid4().hex,
        "getObjectContext": {
            "inputS3Url": s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60),
            "outputRoute": route, "outputToken": token},
        "configuration": {"accessPointArn": access_point_arn,
                          "supportingAccessPointArn": f"local-supporting-access-point/{bucket}",
                          "payload": ""},
        "userRequest": {
            "url": f"https://{access_point_arn.rsplit('/', 1)[-1]}.s3-object-lambda."
                   f"{os.environ.get('AWS_REGION', 'us-east-1')}.amazonaws.com/"
                   f"{quote(key, safe='/')}",
            "headers": {"Accept-Encoding": "identity", **headers}},
        "userIdentity": {"type": "AssumedRole", "principalId": "local",
                         "arn": "arn:aws:sts::123456789012:assumed-role/local/caller",
                         "accountId": "123456789012"},
        "protocolVersion": "1.00",
    }
    local_invoke(event)
    path = _response_path(state_dir, route, token)
    meta_path, body_path = path.with_suffix(".json"), path.with_suffix(".body")
    try:
        meta = json.loads(meta_path.read_text())
        body = body_path.read_bytes()
    except FileNotFoundError:
        # As on AWS: a transform that returns without WriteGetObjectResponse fails the GET.
        raise ObjectLambdaError(500, "LambdaResponseNotReceived",
                                "the Object Lambda function did not answer") from None
    finally:
        for p in (meta_path, body_path):
            p.unlink(missing_ok=True)
    if meta["status_code"] >= 400:
        raise ObjectLambdaError(meta["status_code"], meta.get("error_code") or "",
                                meta.get("error_message") or "")
    return ObjectResponse(body=body, content_type=meta.get("content_type"),
                          metadata=meta.get("metadata") or {})
