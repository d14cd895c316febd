"""The guestbook's logic: signatures, their ids, and pages of the newest first.

Plain functions over a DynamoDB Table resource, testable without the API. The table keeps the
seed's key (ID hash, Epoch range); a GSI with one constant partition (`Book`) sorted by
`Created` (milliseconds, then the id: unique, so pages never skip or repeat an entry) lists
the book newest first.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import string
import time
from collections.abc import Callable, Mapping
from typing import Any

from common.validation import ValidationError

ID_LENGTH = 20
ID_ALPHABET = string.ascii_uppercase
MAX_MESSAGE = 1000
DEFAULT_PAGE, MAX_PAGE = 25, 100
BOOK = "guestbook"  # the GSI's single partition value
INDEX = "ByTime"


def generate_id(n: int = ID_LENGTH) -> str:
    """`n` uppercase letters from the operating system's CSPRNG (the seed used math/rand)."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(n))


def parse_message(body: Any) -> str:
    """The message of a /sign body: a string of 1 to 1,000 characters, not only blanks."""
    if not isinstance(body, Mapping):
        raise ValidationError("body must be an object")
    message = body.get("message")
    if message is None:
        raise ValidationError("Missing required field: message", field="message")
    if not isinstance(message, str):
        raise ValidationError("Field 'message' must be a string", field="message")
    if not message.strip():
        raise ValidationError("Field 'message' must not be empty", field="message")
    if len(message) > MAX_MESSAGE:
        raise ValidationError(f"Field 'message' must be at most {MAX_MESSAGE} characters long "
                              f"(got {len(message)})", field="message")
    return message


def new_item(message: str, sign_id: str, now_ms: int) -> dict[str, Any]:
    """The table item of a signature made at `now_ms` (Unix milliseconds)."""
    return {"ID": sign_id, "Epoch": now_ms // 1000, "Message": message, "Book": BOOK,
            "Created": f"{now_ms:013d}#{sign_id}"}


def view(item: Mapping[str, Any]) -> dict[str, Any]:
    """What a client sees of an item."""
    return {"ID": item["ID"], "Message": item["Message"], "Epoch": int(item["Epoch"])}


def sign(table: Any, message: str, make_id: Callable[[], str] = generate_id,
         clock: Callable[[], float] | None = None) -> dict[str, Any]:
    """Store a signature; a (vanishingly unlikely) id collision gets a new id."""
    now = clock or time.time
    for _ in range(3):
        item = new_item(message, make_id(), int(now() * 1000))
        try:
            table.put_item(Item=item, ConditionExpression="attribute_not_exists(ID)")
            return view(item)
        except table.meta.client.exceptions.ConditionalCheckFailedException:
            continue
    raise RuntimeError("could not find a free signature id")


def parse_page_query(params: Mapping[str, str] | None) -> tuple[int, dict[str, Any] | None]:
    """(limit, exclusive start key) from ?limit=&next=; 400 on a bad value or token."""
    params = params or {}
    raw = params.get("limit")
    limit = DEFAULT_PAGE
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
            raise ValidationError(f"limit must be an integer from 1 to {MAX_PAGE}",
                                  field="limit")
        limit = int(raw)
    token = params.get("next")
    return limit, (decode_token(token) if token else None)


def encode_token(key: Mapping[str, Any]) -> str:
    plain = {k: (int(v) if k == "Epoch" else v) for k, v in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode()


def decode_token(token: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationError("next is not a valid page token", field="next") from None
    if (not isinstance(key, dict) or set(key) != {"ID", "Epoch", "Book", "Created"}
            or key["Book"] != BOOK or not isinstance(key["Epoch"], int)
            or not all(isinstance(key[k], str) for k in ("ID", "Created"))):
        raise ValidationError("next is not a valid page token", field="next")
    return key


def list_page(table: Any, limit: int, start: dict[str, Any] | None) -> dict[str, Any]:
    """One page of messages, newest first, and the token of the next page (None at the end)."""
    kwargs: dict[str, Any] = {"IndexName": INDEX, "ScanIndexForward": False, "Limit": limit,
                              "KeyConditionExpression": "Book = :b",
                              "ExpressionAttributeValues": {":b": BOOK}}
    if start:
        kwargs["ExclusiveStartKey"] = start
    out = table.query(**kwargs)
    last = out.get("LastEvaluatedKey")
    return {"messages": [view(i) for i in out.get("Items", [])],
            "next": encode_token(last) if last else None}
