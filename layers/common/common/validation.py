"""Input checks shared by the apps; each failure is a ValidationError (HTTP 400).

Messages name the field and what was expected, so the caller can fix the request from the error
alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from common.http import HttpError

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "an object",
}


class ValidationError(HttpError):
    """The request is malformed; the response is 400 with the offending `field` when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        extra = {"field": field} if field is not None else {}
        super().__init__(400, message, **extra)
        self.field = field


def _type_name(expected: type | tuple[type, ...]) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(_TYPE_NAMES.get(t, f"a {t.__name__}") for t in types)


def _is_instance(value: Any, expected: type | tuple[type, ...]) -> bool:
    types = expected if isinstance(expected, tuple) else (expected,)
    # bool is a subclass of int, but `true` is not an acceptable count or price.
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def require_object(value: Any, name: str = "body") -> dict[str, Any]:
    """`value` itself, which must be a JSON object (dict)."""
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name} must be an object", field=None if name == "body" else name)
    return dict(value)


def require_fields(obj: Any, *names: str) -> None:
    """Every one of `names` is present in `obj` and not null (all missing ones are reported)."""
    require_object(obj)
    missing = [name for name in names if obj.get(name) is None]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise ValidationError(
            f"Missing required field{plural}: {', '.join(missing)}",
            field=missing[0] if len(missing) == 1 else None,
        )


def require_type(
    obj: Mapping[str, Any],
    name: str,
    expected: type | tuple[type, ...],
    *,
    optional: bool = False,
) -> Any:
    """`obj[name]`, which must be of type `expected` (None when `optional` and absent)."""
    value = obj.get(name)
    if value is None:
        if optional:
            return None
        raise ValidationError(f"Missing required field: {name}", field=name)
    if not _is_instance(value, expected):
        raise ValidationError(f"Field '{name}' must be {_type_name(expected)}", field=name)
    return value


def require_str(
    obj: Mapping[str, Any],
    name: str,
    *,
    max_length: int | None = None,
    choices: tuple[str, ...] | None = None,
    optional: bool = False,
) -> str | None:
    """`obj[name]`, a non-blank string, at most `max_length` long, one of `choices` if given."""
    value = require_type(obj, name, str, optional=optional)
    if value is None:
        return None
    if not value.strip():
        raise ValidationError(f"Field '{name}' must not be empty", field=name)
    if max_length is not None and len(value) > max_length:
        raise ValidationError(
            f"Field '{name}' must be at most {max_length} characters long", field=name
        )
    if choices is not None and value not in choices:
        raise ValidationError(f"Field '{name}' must be one of: {', '.join(choices)}", field=name)
    return value


def require_number(
    obj: Mapping[str, Any],
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    optional: bool = False,
) -> int | float | None:
    """`obj[name]`, a number (an integer if `integer`) within [`minimum`, `maximum`]."""
    value = require_type(obj, name, int if integer else (int, float), optional=optional)
    if value is None:
        return None
    if not math.isfinite(value):
        raise ValidationError(f"Field '{name}' must be a finite number", field=name)
    if minimum is not None and value < minimum:
        raise ValidationError(f"Field '{name}' must be at least {minimum}", field=name)
    if maximum is not None and value > maximum:
        raise ValidationError(f"Field '{name}' must be at most {maximum}", field=name)
    return value


def require_list(
    obj: Mapping[str, Any],
    name: str,
    *,
    item_type: type | tuple[type, ...] | None = None,
    min_length: int = 0,
    max_length: int | None = None,
    optional: bool = False,
) -> list[Any] | None:
    """`obj[name]`, a list of `min_length`..`max_length` items, each of `item_type` if given."""
    value = require_type(obj, name, list, optional=optional)
    if value is None:
        return None
    if len(value) < min_length:
        noun = "item" if min_length == 1 else "items"
        raise ValidationError(f"Field '{name}' must have at least {min_length} {noun}", field=name)
    if max_length is not None and len(value) > max_length:
        noun = "item" if max_length == 1 else "items"
        raise ValidationError(f"Field '{name}' must have at most {max_length} {noun}", field=name)
    if item_type is not None:
        for index, item in enumerate(value):
            if not _is_instance(item, item_type):
                raise ValidationError(
                    f"Field '{name}[{index}]' must be {_type_name(item_type)}", field=name
                )
    return value
