from __future__ import annotations

import base64
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest

from common.http import (
    HttpError,
    SchemaValidationError,
    api_handler,
    error_response,
    json_response,
    parse_json_body,
    request_id,
)
from common.validation import ValidationError

CONTEXT = SimpleNamespace(aws_request_id="lambda-request-1")
REST_EVENT = {"resource": "/items", "httpMethod": "POST", "requestContext": {"requestId": "rest-1"}}
HTTP_EVENT = {"version": "2.0", "routeKey": "POST /items", "requestContext": {"requestId": "v2-1"}}


def test_json_response_shape():
    response = json_response(201, {"id": 1}, headers={"Location": "/items/1"})
    assert response["statusCode"] == 201
    assert response["headers"] == {"Content-Type": "application/json", "Location": "/items/1"}
    assert json.loads(response["body"]) == {"id": 1}
    assert response["isBase64Encoded"] is False


def test_json_response_encodes_dynamodb_numbers_and_sets():
    body = json.loads(
        json_response(200, {"a": Decimal("3"), "b": Decimal("1.5"), "s": {2, 1}})["body"]
    )
    assert body == {"a": 3, "b": 1.5, "s": [1, 2]}
    assert isinstance(body["a"], int)


def test_json_response_rejects_unknown_types():
    with pytest.raises(TypeError, match="object is not JSON serializable|not JSON serializable"):
        json_response(200, {"x": object()})


def test_error_response_body():
    response = error_response(404, "Not found", "req-9", resource="items")
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {
        "code": 404,
        "message": "Not found",
        "request-id": "req-9",
        "resource": "items",
    }


def test_request_id_from_event_or_context():
    assert request_id(REST_EVENT, CONTEXT) == "rest-1"
    assert request_id(HTTP_EVENT, CONTEXT) == "v2-1"
    assert request_id({}, CONTEXT) == "lambda-request-1"
    assert request_id(None) is None


@pytest.mark.parametrize("base", [REST_EVENT, HTTP_EVENT])
def test_parse_json_body_plain_and_base64(base):
    assert parse_json_body({**base, "body": '{"a": 1}'}) == {"a": 1}
    encoded = base64.b64encode(b'{"a": [1, 2]}').decode()
    assert parse_json_body({**base, "body": encoded, "isBase64Encoded": True}) == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"body": None}, "required"),
        ({}, "required"),
        ({"body": ""}, "required"),
        ({"body": "{not json"}, "not valid JSON"),
        ({"body": "!!!", "isBase64Encoded": True}, "not valid base64"),
        ({"body": base64.b64encode(b"\xff\xfe").decode(), "isBase64Encoded": True}, "JSON"),
    ],
)
def test_parse_json_body_errors(event, message):
    with pytest.raises(HttpError) as info:
        parse_json_body(event)
    assert info.value.status == 400
    assert message in info.value.message


def test_parse_json_body_optional():
    assert parse_json_body({"body": None}, required=False) is None


def test_api_handler_passes_responses_and_wraps_plain_results():
    @api_handler
    def created(event, context):
        return json_response(201, {"ok": True})

    @api_handler
    def plain(event, context):
        return {"items": []}

    assert created(REST_EVENT, CONTEXT)["statusCode"] == 201
    response = plain(REST_EVENT, CONTEXT)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"items": []}


def test_api_handler_turns_http_errors_into_responses():
    @api_handler
    def handler(event, context):
        raise HttpError(409, "Seat already taken", seat="12A")

    response = handler(HTTP_EVENT, CONTEXT)
    assert response["statusCode"] == 409
    assert json.loads(response["body"]) == {
        "code": 409,
        "message": "Seat already taken",
        "request-id": "v2-1",
        "seat": "12A",
    }


def test_api_handler_validation_error_is_400_with_field():
    @api_handler
    def handler(event, context):
        raise ValidationError("Field 'qty' must be an integer", field="qty")

    body = json.loads(handler(REST_EVENT, CONTEXT)["body"])
    assert body == {
        "code": 400,
        "message": "Field 'qty' must be an integer",
        "request-id": "rest-1",
        "field": "qty",
    }


def test_api_handler_powertools_schema_error_is_400():
    @api_handler
    def handler(event, context):
        err = SchemaValidationError("Failed")
        err.validation_message = "data.qty must be integer"
        raise err

    response = handler(REST_EVENT, CONTEXT)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["message"] == "data.qty must be integer"


def test_api_handler_hides_unexpected_errors(caplog):
    @api_handler
    def handler(event, context):
        raise RuntimeError("database password is hunter2")

    response = handler({}, CONTEXT)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {
        "code": 500,
        "message": "Internal server error",
        "request-id": "lambda-request-1",
    }
    assert "hunter2" not in response["body"]
    # Logged, with the traceback, for the operator.
    assert any(r.message == "Unhandled error" and r.exc_info for r in caplog.records)


def test_http_error_repr():
    assert repr(HttpError(404, "Not found")) == "HttpError(404, 'Not found')"
