"""The demo's entities and their mutators: users and (payment) transactions.

Each mutator returns a new state from the previous one and the event's data, and raises
InvalidEvent when the event does not apply, so the API refuses it before it is stored.
"""

from __future__ import annotations

from typing import Any

from eventstore import InvalidEvent, Registry, State

registry = Registry(revision="user-transaction-1")

USER_FIELDS = ("name", "email", "address")
TRANSACTION_STATUSES = ("pending", "authorized", "settled", "declined", "refunded")


def _text(data: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(f"{key} must be a non-empty string")
    return value.strip()


def _amount(data: dict[str, Any], key: str = "amount") -> int:
    value = data.get(key)
    # Amounts in minor units (cents): integers keep sums exact in JSON and DynamoDB.
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidEvent(f"{key} must be a positive integer (minor units, e.g. cents)")
    return value


def _active_user(state: State | None) -> State:
    assert state is not None
    if not state.get("active", False):
        raise InvalidEvent("the user is deactivated")
    return state


@registry.mutator("UserCreated", "user", creates=True)
def user_created(state: State | None, data: dict[str, Any]) -> State:
    return {"name": _text(data, "name"), "email": _text(data, "email"),
            "address": _text(data, "address", required=False), "active": True}


@registry.mutator("UserUpdated", "user")
def user_updated(state: State | None, data: dict[str, Any]) -> State:
    user = _active_user(state)
    changes = {k: _text(data, k) for k in USER_FIELDS if k in data}
    unknown = sorted(set(data) - set(USER_FIELDS))
    if unknown:
        raise InvalidEvent(f"UserUpdated: unknown field(s) {', '.join(unknown)}")
    if not changes:
        raise InvalidEvent(f"UserUpdated needs at least one of {', '.join(USER_FIELDS)}")
    return {**user, **changes}


@registry.mutator("UserDeactivated", "user")
def user_deactivated(state: State | None, data: dict[str, Any]) -> State:
    user = _active_user(state)
    return {**user, "active": False, "deactivationReason": _text(data, "reason")}


@registry.mutator("TransactionCreated", "transaction", creates=True)
def transaction_created(state: State | None, data: dict[str, Any]) -> State:
    currency = _text(data, "currency")
    assert currency is not None
    if len(currency) != 3 or not currency.isalpha():
        raise InvalidEvent("currency must be a 3-letter ISO 4217 code")
    return {"userId": _text(data, "userId"), "amount": _amount(data),
            "currency": currency.upper(), "status": "pending", "refunded": 0}


def _status(state: State | None, *allowed: str) -> State:
    assert state is not None
    if state["status"] not in allowed:
        raise InvalidEvent(f"the transaction is {state['status']}, not {' or '.join(allowed)}")
    return state


@registry.mutator("TransactionAuthorized", "transaction")
def transaction_authorized(state: State | None, data: dict[str, Any]) -> State:
    return {**_status(state, "pending"), "status": "authorized",
            "authorization": _text(data, "authorization")}


@registry.mutator("TransactionDeclined", "transaction")
def transaction_declined(state: State | None, data: dict[str, Any]) -> State:
    return {**_status(state, "pending"), "status": "declined", "reason": _text(data, "reason")}


@registry.mutator("TransactionSettled", "transaction")
def transaction_settled(state: State | None, data: dict[str, Any]) -> State:
    return {**_status(state, "authorized"), "status": "settled"}


@registry.mutator("TransactionRefunded", "transaction")
def transaction_refunded(state: State | None, data: dict[str, Any]) -> State:
    tx = _status(state, "settled", "refunded")
    amount = _amount(data)
    if tx["refunded"] + amount > tx["amount"]:
        raise InvalidEvent(f"refunds would exceed the amount ({tx['amount'] - tx['refunded']} "
                           "left)")
    refunded = tx["refunded"] + amount
    return {**tx, "refunded": refunded,
            "status": "refunded" if refunded == tx["amount"] else "settled"}
