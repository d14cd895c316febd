"""device_grant's DynamoDB items: one table, three kinds of item.

- D#<sha256(device code)>: the authorization request (client, scope, user code, status
  PENDING -> APPROVED | DENIED -> DELIVERED, expires_at, interval, next_poll_at, tokens).
- U#<user code>: points to its request, so the page finds it with a GetItem (the pair is
  written in one transaction, so a user code is never given twice while it lives).
- S#<state>: one sign-in attempt from the page (the request, authorize or deny, the PKCE
  verifier), taken once by /callback.
`ttl` lets DynamoDB remove them a day after they expire; reads check expiry themselves.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

TTL_GRACE_S = 86400
SIGN_IN_TTL_S = 600  # the user has 10 minutes to sign in at the hosted UI


class CodeTaken(Exception):
    """The device or user code drawn is already in use: draw again."""


def _failed_condition(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") in (
        "ConditionalCheckFailedException", "TransactionCanceledException")


def _plain(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {k: (int(v) if isinstance(v, Decimal) and v == v.to_integral_value()
                else float(v) if isinstance(v, Decimal) else v) for k, v in item.items()}


def create_request(client: Any, table: str, *, device_hash: str, user_code: str,
                   client_id: str, scope: str, now: float, expires_in: int,
                   interval: int) -> None:
    """Store a new request and its user code together; CodeTaken when either exists."""
    expires_at = int(now) + expires_in
    ttl = expires_at + TTL_GRACE_S
    request = {
        "pk": {"S": f"D#{device_hash}"}, "client_id": {"S": client_id}, "scope": {"S": scope},
        "user_code": {"S": user_code}, "status": {"S": "PENDING"},
        "created_at": {"N": str(int(now))}, "expires_at": {"N": str(expires_at)},
        "interval": {"N": str(interval)}, "ttl": {"N": str(ttl)},
    }
    pointer = {"pk": {"S": f"U#{user_code}"}, "device_hash": {"S": device_hash},
               "expires_at": {"N": str(expires_at)}, "ttl": {"N": str(ttl)}}
    try:
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": request,
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": table, "Item": pointer,
                     "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
                     "ExpressionAttributeValues": {":now": {"N": str(int(now))}}}},
        ])
    except ClientError as err:
        if _failed_condition(err):
            raise CodeTaken() from None
        raise


def get_request(table: Any, device_hash: str) -> dict[str, Any] | None:
    return _plain(table.get_item(Key={"pk": f"D#{device_hash}"},
                                 ConsistentRead=True).get("Item"))


def find_by_user_code(table: Any, user_code: str) -> tuple[str, dict[str, Any]] | None:
    """(device hash, request) of a user code, None when unknown."""
    pointer = table.get_item(Key={"pk": f"U#{user_code}"}, ConsistentRead=True).get("Item")
    if pointer is None:
        return None
    request = get_request(table, pointer["device_hash"])
    if request is None or request.get("user_code") != user_code:
        return None
    return pointer["device_hash"], request


def record_poll(table: Any, device_hash: str, now: float, interval: int, slower: int) -> bool:
    """Note a poll; False (slow_down) when it came before the previous poll's next_poll_at,
    in which case the interval becomes `slower` (RFC 8628 3.5). Atomic: two polls racing
    cannot both pass. (Condition expressions have no arithmetic: each poll stores when the
    next may come.)"""
    now_d = Decimal(str(round(now, 3)))
    try:
        table.update_item(
            Key={"pk": f"D#{device_hash}"},
            UpdateExpression="SET last_poll = :now, next_poll_at = :next",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(next_poll_at) "
                                "OR next_poll_at <= :now)",
            ExpressionAttributeValues={":now": now_d, ":next": now_d + interval})
        return True
    except ClientError as err:
        if not _failed_condition(err):
            raise
    table.update_item(
        Key={"pk": f"D#{device_hash}"},
        UpdateExpression="SET last_poll = :now, next_poll_at = :next, #interval = :interval",
        ExpressionAttributeNames={"#interval": "interval"},
        ExpressionAttributeValues={":now": now_d, ":next": now_d + slower, ":interval": slower})
    return False


def start_sign_in(table: Any, *, state: str, device_hash: str, verifier: str, action: str,
                  client_id: str, now: float) -> None:
    table.put_item(Item={"pk": f"S#{state}", "device_hash": device_hash, "verifier": verifier,
                         "action": action, "client_id": client_id,
                         "expires_at": int(now) + SIGN_IN_TTL_S,
                         "ttl": int(now) + SIGN_IN_TTL_S + TTL_GRACE_S})


def take_sign_in(table: Any, state: str, now: float) -> dict[str, Any] | None:
    """The sign-in attempt of `state`, removed as it is read (a callback works once); None
    when unknown, used or older than SIGN_IN_TTL_S."""
    try:
        old = table.delete_item(Key={"pk": f"S#{state}"}, ReturnValues="ALL_OLD",
                                ConditionExpression="attribute_exists(pk)").get("Attributes")
    except ClientError as err:
        if _failed_condition(err):
            return None
        raise
    item = _plain(old)
    if item is None or now >= float(item["expires_at"]):
        return None
    return item


def record_decision(table: Any, device_hash: str, *, approved: bool, user: str,
                    tokens: dict[str, Any] | None, now: float) -> bool:
    """PENDING -> APPROVED (with the tokens) or DENIED; False when the request is no longer
    pending or has expired (a second approval, a race with expiry)."""
    values: dict[str, Any] = {":pending": "PENDING", ":status": "APPROVED" if approved
                              else "DENIED", ":user": user, ":now": int(now)}
    update = "SET #status = :status, decided_by = :user, decided_at = :now"
    if approved:
        update += ", tokens = :tokens"
        values[":tokens"] = tokens or {}
    try:
        table.update_item(Key={"pk": f"D#{device_hash}"}, UpdateExpression=update,
                          ConditionExpression="#status = :pending AND expires_at > :now",
                          ExpressionAttributeNames={"#status": "status"},
                          ExpressionAttributeValues=values)
        return True
    except ClientError as err:
        if _failed_condition(err):
            return False
        raise


def deliver(table: Any, device_hash: str, now: float) -> dict[str, Any] | None:
    """APPROVED -> DELIVERED, removing and returning the tokens: only one poll gets them."""
    try:
        old = table.update_item(
            Key={"pk": f"D#{device_hash}"},
            UpdateExpression="SET #status = :delivered, delivered_at = :now REMOVE tokens",
            ConditionExpression="#status = :approved",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":delivered": "DELIVERED", ":approved": "APPROVED",
                                       ":now": int(now)},
            ReturnValues="ALL_OLD")["Attributes"]
    except ClientError as err:
        if _failed_condition(err):
            return None
        raise
    return _plain(old.get("tokens") or {})
