"""Joker offers: validation, the public "which offers now" query, admin CRUD, the expiry task
and reports. Plain functions over a DynamoDB Table resource.

Table: restaurantId (hash) + offerId (range); GSI ByStatus: status (hash) + validTo (range),
which the expiry task queries for ACTIVE offers whose validTo has passed.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from common.validation import ValidationError

FIELDS = ("title", "discountPercent", "validFrom", "validTo")
ACTIVE, EXPIRED = "ACTIVE", "EXPIRED"


def parse_time(value: Any, field: str) -> datetime:
    """An ISO-8601 instant with a time zone (Z or an offset), as UTC."""
    if not isinstance(value, str):
        raise ValidationError(f"Field '{field}' must be an ISO-8601 time", field=field)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"Field '{field}' is not an ISO-8601 time: {value}",
                              field=field) from None
    if moment.tzinfo is None:
        raise ValidationError(f"Field '{field}' needs a time zone (Z or +hh:mm)", field=field)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def restaurant_id(value: Any, field: str = "restaurant") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise ValidationError(f"'{field}' must be a restaurant id (1-64 characters)",
                              field=field)
    return value.strip()


def parse_offer(body: Any, max_discount: int, partial: bool = False) -> dict[str, Any]:
    """The offer fields of an admin request (all required, or any subset when `partial`)."""
    if not isinstance(body, Mapping):
        raise ValidationError("body must be an object")
    unknown = set(body) - set(FIELDS)
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(sorted(unknown))}")
    missing = [f for f in FIELDS if f not in body]
    if missing and not partial:
        raise ValidationError(f"Missing required field(s): {', '.join(missing)}")
    if partial and not body:
        raise ValidationError("Nothing to update")
    out: dict[str, Any] = {}
    if "title" in body:
        title = body["title"]
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            raise ValidationError("Field 'title' must be 1-200 characters", field="title")
        out["title"] = title.strip()
    if "discountPercent" in body:
        pct = body["discountPercent"]
        if isinstance(pct, bool) or not isinstance(pct, int) or not 1 <= pct <= max_discount:
            raise ValidationError(f"Field 'discountPercent' must be an integer from 1 to "
                                  f"{max_discount}", field="discountPercent")
        out["discountPercent"] = pct
    for field in ("validFrom", "validTo"):
        if field in body:
            out[field] = iso(parse_time(body[field], field))
    return out


def check_window(offer: Mapping[str, Any]) -> None:
    if offer["validFrom"] >= offer["validTo"]:
        raise ValidationError("validFrom must be before validTo", field="validTo")


def view(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (int(v) if isinstance(v, Decimal) else v) for k, v in item.items()}


def create(table: Any, restaurant: str, fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    check_window(fields)
    item = {"restaurantId": restaurant, "offerId": str(uuid.uuid4()), **fields,
            "status": ACTIVE if fields["validTo"] > iso(now) else EXPIRED,
            "createdAt": iso(now), "updatedAt": iso(now)}
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(offerId)")
    return view(item)


def get(table: Any, restaurant: str, offer_id: str) -> dict[str, Any] | None:
    item = table.get_item(Key={"restaurantId": restaurant, "offerId": offer_id}).get("Item")
    return view(item) if item else None


def update(table: Any, restaurant: str, offer_id: str, fields: dict[str, Any],
           now: datetime) -> dict[str, Any] | None:
    current = get(table, restaurant, offer_id)
    if current is None:
        return None
    merged = {**current, **fields}
    check_window(merged)
    merged["status"] = ACTIVE if merged["validTo"] > iso(now) else EXPIRED
    merged["updatedAt"] = iso(now)
    # Conditional on the version read, so two admins' edits cannot silently overwrite.
    try:
        table.put_item(Item=merged, ConditionExpression=Attr("updatedAt").eq(
            current["updatedAt"]))
    except table.meta.client.exceptions.ConditionalCheckFailedException:
        raise ValidationError("The offer changed meanwhile; read it again") from None
    return view(merged)


def delete(table: Any, restaurant: str, offer_id: str) -> bool:
    try:
        table.delete_item(Key={"restaurantId": restaurant, "offerId": offer_id},
                          ConditionExpression="attribute_exists(offerId)")
    except table.meta.client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _query_all(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    while True:
        out = table.query(**kwargs)
        yield from out.get("Items", [])
        if "LastEvaluatedKey" not in out:
            return
        kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]


def list_for(table: Any, restaurant: str) -> list[dict[str, Any]]:
    return [view(i) for i in _query_all(table, KeyConditionExpression=Key("restaurantId").eq(
        restaurant))]


def offers_at(table: Any, restaurant: str, moment: datetime) -> list[dict[str, Any]]:
    """The restaurant's offers valid at `moment` (validFrom <= moment < validTo), best first."""
    at = iso(moment)
    items = [i for i in list_for(table, restaurant)
             if i["status"] == ACTIVE and i["validFrom"] <= at < i["validTo"]]
    return sorted(items, key=lambda i: (-i["discountPercent"], i["validTo"]))


def expire(table: Any, now: datetime) -> int:
    """Mark ACTIVE offers whose validTo has passed EXPIRED; returns how many."""
    count = 0
    for item in _query_all(table, IndexName="ByStatus",
                           KeyConditionExpression=Key("status").eq(ACTIVE)
                           & Key("validTo").lte(iso(now))):
        try:
            table.update_item(Key={"restaurantId": item["restaurantId"],
                                   "offerId": item["offerId"]},
                              UpdateExpression="SET #s = :e, updatedAt = :t",
                              ConditionExpression="#s = :a AND validTo <= :t",
                              ExpressionAttributeNames={"#s": "status"},
                              ExpressionAttributeValues={":e": EXPIRED, ":a": ACTIVE,
                                                         ":t": iso(now)})
            count += 1
        except table.meta.client.exceptions.ConditionalCheckFailedException:
            continue  # edited or deleted meanwhile
    return count


def report(table: Any) -> dict[str, Any]:
    """Counts per status and per restaurant, and the average discount of active offers."""
    by_status: Counter[str] = Counter()
    per_restaurant: dict[str, Counter[str]] = defaultdict(Counter)
    discounts: list[int] = []
    kwargs: dict[str, Any] = {}
    while True:
        out = table.scan(**kwargs)
        for item in out.get("Items", []):
            by_status[item["status"]] += 1
            per_restaurant[item["restaurantId"]][item["status"]] += 1
            if item["status"] == ACTIVE:
                discounts.append(int(item["discountPercent"]))
        if "LastEvaluatedKey" not in out:
            break
        kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]
    return {"total": sum(by_status.values()), "byStatus": dict(by_status),
            "restaurants": {r: dict(c) for r, c in sorted(per_restaurant.items())},
            "averageActiveDiscount": (round(sum(discounts) / len(discounts), 1)
                                      if discounts else None)}


class Timings:
    """Durations of a request's inner steps, in milliseconds (the seed logged these)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = self.ms.get(name, 0.0) + (time.perf_counter() - started) * 1000
