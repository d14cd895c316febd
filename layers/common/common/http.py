"""API Gateway proxy helpers for plain handlers (REST API v1 and HTTP API v2 events).

Apps built on Powertools' event handler (APIGatewayRestResolver and friends) get responses and
HTTP exceptions from Powertools; these helpers are for handlers that take the raw proxy event.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from common.observability import get_logger

try:
    from aws_lambda_powertools.utilities.validation.exceptions import SchemaValidationError
except ImportError:  # no fastjsonschema (Powertools' validation extra): nothing can raise it

    class SchemaValidationError(Exception):  # type: ignore[no-redef]
        """Stand-in for Powertools' SchemaValidationError when its validation extra is absent."""

        validation_message: str | None = None


Handler = Callable[[dict[str, Any], Any], Any]

JSON_HEADERS = {"Content-Type": "application/json"}


class HttpError(Exception):
    """An error meant for the caller: `status` and `message` become the response.

    Extra keyword arguments are added to the JSON error body (e.g. the offending field).
    """

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status!r}, {self.message!r})"


def _json_default(value: Any) -> Any:
    # DynamoDB hands numbers back as Decimal, which json cannot encode.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """JSON text of `value`, with DynamoDB's Decimals and sets encoded."""
    return json.dumps(value, default=_json_default)


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A proxy integration response whose body is `body` as JSON."""
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": dumps(body),
        "isBase64Encoded": False,
    }


def error_response(
    status: int, message: str, request_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A JSON error response: {"code": status, "message": ..., "request-id": ...} plus `extra`."""
    return json_response(
        status, {"code": status, "message": message, "request-id": request_id, **extra}
    )


def request_id(event: Mapping[str, Any] | None, context: Any = None) -> str | None:
    """The API Gateway request id (both event versions), else the Lambda request id."""
    request_context = (event or {}).get("requestContext") or {}
    return request_context.get("requestId") or getattr(context, "aws_request_id", None)


def parse_json_body(event: Mapping[str, Any], *, required: bool = True) -> Any:
    """The event's body decoded from JSON; base64 bodies are decoded first.

    Raises HttpError(400) when the body is missing (and `required`), not base64 when it says it
    is, or not valid JSON. Returns None for a missing optional body.
    """
    body = event.get("body")
    if body is None or body == "":
        if required:
            raise HttpError(400, "Request body is required")
        return None
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as err:
            raise HttpError(400, "Request body is not valid base64") from err
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise HttpError(400, "Request body is not valid JSON") from err


def api_handler(func: Handler) -> Handler:
    """Decorate a proxy handler so errors become JSON responses.

    HttpError (and ValidationError) becomes its status; a Powertools schema validation error
    becomes 400; anything else is logged and becomes a bare 500, so no internals leak. A return
    value that is not already a proxy response (no "statusCode") is sent as 200 JSON.
    """

    @functools.wraps(func)
    def wrapper(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            result = func(event, context)
        except HttpError as err:
            get_logger().info(
                "Request rejected", extra={"status": err.status, "reason": err.message}
            )
            return error_response(err.status, err.message, request_id(event, context), **err.extra)
        except SchemaValidationError as err:
            message = err.validation_message or "Request is not valid"
            get_logger().info("Request rejected", extra={"status": 400, "reason": message})
            return error_response(400, message, request_id(event, context))
        except Exception:  # noqa: BLE001 - the caller gets a 500, never a traceback
            get_logger().exception("Unhandled error")
            return error_response(500, "Internal server error", request_id(event, context))
        if isinstance(result, Mapping) and "statusCode" in result:
            return dict(result)
        return json_response(200, result)

    return wrapper
