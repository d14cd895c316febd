from __future__ import annotations

import math

import pytest

from common.http import HttpError
from common.validation import (
    ValidationError,
    require_fields,
    require_list,
    require_number,
    require_object,
    require_str,
    require_type,
)


def _error(func, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        func(*args, **kwargs)
    assert info.value.status == 400
    return info.value


def test_validation_error_is_a_400_http_error():
    err = ValidationError("bad", field="x")
    assert isinstance(err, HttpError)
    assert (err.status, err.message, err.extra, err.field) == (400, "bad", {"field": "x"}, "x")
    assert ValidationError("bad").extra == {}


def test_require_object():
    assert require_object({"a": 1}) == {"a": 1}
    assert _error(require_object, [1]).message == "body must be an object"
    assert _error(require_object, "x", "flight").field == "flight"


def test_require_fields_reports_every_missing_field():
    require_fields({"a": 1, "b": 0, "c": ""}, "a", "b", "c")
    err = _error(require_fields, {"a": 1, "b": None}, "a", "b", "c")
    assert err.message == "Missing required fields: b, c"
    assert err.field is None
    assert _error(require_fields, {}, "a").message == "Missing required field: a"
    assert _error(require_fields, {}, "a").field == "a"
    assert _error(require_fields, None, "a").message == "body must be an object"


def test_require_type():
    assert require_type({"a": "x"}, "a", str) == "x"
    assert require_type({}, "a", str, optional=True) is None
    assert _error(require_type, {"a": 1}, "a", str).message == "Field 'a' must be a string"
    assert _error(require_type, {}, "a", str).message == "Missing required field: a"
    both = _error(require_type, {"a": "1"}, "a", (int, float)).message
    assert both == "Field 'a' must be an integer or a number"


def test_booleans_are_not_numbers():
    assert _error(require_type, {"a": True}, "a", int).field == "a"
    assert require_type({"a": True}, "a", bool) is True


def test_require_str():
    assert require_str({"s": "abc"}, "s", max_length=3) == "abc"
    assert require_str({}, "s", optional=True) is None
    assert _error(require_str, {"s": "  "}, "s").message == "Field 's' must not be empty"
    assert "at most 2 characters" in _error(require_str, {"s": "abc"}, "s", max_length=2).message
    err = _error(require_str, {"s": "x"}, "s", choices=("dev", "prod"))
    assert err.message == "Field 's' must be one of: dev, prod"


def test_require_number():
    assert require_number({"n": 2.5}, "n", minimum=0, maximum=3) == 2.5
    assert require_number({"n": 3}, "n", integer=True) == 3
    assert require_number({}, "n", optional=True) is None
    assert _error(require_number, {"n": 2.5}, "n", integer=True).message == (
        "Field 'n' must be an integer"
    )
    assert (
        _error(require_number, {"n": -1}, "n", minimum=0).message == "Field 'n' must be at least 0"
    )
    assert _error(require_number, {"n": 9}, "n", maximum=5).message == "Field 'n' must be at most 5"
    assert "finite" in _error(require_number, {"n": math.nan}, "n").message
    assert "finite" in _error(require_number, {"n": math.inf}, "n").message


def test_require_list():
    assert require_list({"l": [1, 2]}, "l", item_type=int, min_length=1, max_length=2) == [1, 2]
    assert require_list({}, "l", optional=True) is None
    assert _error(require_list, {"l": []}, "l", min_length=1).message == (
        "Field 'l' must have at least 1 item"
    )
    assert _error(require_list, {"l": [1, 2, 3]}, "l", max_length=2).message == (
        "Field 'l' must have at most 2 items"
    )
    err = _error(require_list, {"l": [1, "x"]}, "l", item_type=int)
    assert err.message == "Field 'l[1]' must be an integer"
    assert err.field == "l"
    assert _error(require_list, {"l": "x"}, "l").message == "Field 'l' must be a list"
