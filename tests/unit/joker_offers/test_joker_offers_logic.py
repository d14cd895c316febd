"""joker_offers' offer logic against moto's DynamoDB (the stack's table definition)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from common.validation import ValidationError
from localcloud import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def offers(load_module: Any) -> Any:
    return load_module("functions/joker_offers/api/offers.py", "joker_offers_offers")


@pytest.fixture
def table() -> Iterator[Any]:
    props = cfn_yaml.load(ROOT / "stacks" / "joker_offers.yaml")["Resources"]["OffersTable"][
        "Properties"]
    with mock_aws():
        ddb = boto3.resource("dynamodb")
        yield ddb.create_table(TableName="offers", BillingMode="PAY_PER_REQUEST",
                               AttributeDefinitions=props["AttributeDefinitions"],
                               KeySchema=props["KeySchema"],
                               GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"])


def at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def offer(offers: Any, table: Any, restaurant: str, pct: int, start: float, end: float) -> Any:
    fields = offers.parse_offer({"title": f"{pct}% off", "discountPercent": pct,
                                 "validFrom": at(start), "validTo": at(end)}, 90)
    return offers.create(table, restaurant, fields, NOW)


@pytest.mark.parametrize(("body", "field"), [
    ({"title": "x", "discountPercent": 0, "validFrom": "2026-01-01T00:00:00Z",
      "validTo": "2026-01-02T00:00:00Z"}, "discountPercent"),
    ({"title": "x", "discountPercent": 95, "validFrom": "2026-01-01T00:00:00Z",
      "validTo": "2026-01-02T00:00:00Z"}, "discountPercent"),
    ({"title": "x", "discountPercent": True, "validFrom": "2026-01-01T00:00:00Z",
      "validTo": "2026-01-02T00:00:00Z"}, "discountPercent"),
    ({"title": "", "discountPercent": 10, "validFrom": "2026-01-01T00:00:00Z",
      "validTo": "2026-01-02T00:00:00Z"}, "title"),
    ({"title": "x", "discountPercent": 10, "validFrom": "2026-01-01T00:00:00",
      "validTo": "2026-01-02T00:00:00Z"}, "validFrom"),
    ({"title": "x", "discountPercent": 10, "validFrom": "yesterday",
      "validTo": "2026-01-02T00:00:00Z"}, "validFrom"),
])
def test_bad_offers(offers: Any, body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        offers.parse_offer(body, 90)
    assert err.value.field == field and err.value.status == 400


def test_missing_unknown_and_window(offers: Any, table: Any) -> None:
    with pytest.raises(ValidationError, match="Missing"):
        offers.parse_offer({"title": "x"}, 90)
    with pytest.raises(ValidationError, match="Unknown"):
        offers.parse_offer({"title": "x", "price": 1}, 90, partial=True)
    fields = offers.parse_offer({"title": "x", "discountPercent": 10, "validFrom": at(2),
                                 "validTo": at(1)}, 90)
    with pytest.raises(ValidationError, match="before"):
        offers.create(table, "r1", fields, NOW)


def test_offers_at_a_time_best_first(offers: Any, table: Any) -> None:
    lunch = offer(offers, table, "r1", 20, -1, 1)
    big = offer(offers, table, "r1", 40, -0.5, 0.5)
    offer(offers, table, "r1", 50, 5, 7)  # dinner: not yet
    offer(offers, table, "r2", 60, -1, 1)  # another restaurant
    found = offers.offers_at(table, "r1", NOW)
    assert [o["offerId"] for o in found] == [big["offerId"], lunch["offerId"]]
    assert [o["discountPercent"] for o in offers.offers_at(table, "r1", NOW +
                                                           timedelta(hours=6))] == [50]
    # validTo is exclusive.
    assert offers.offers_at(table, "r1", NOW + timedelta(hours=1)) == []


def test_update_keeps_the_window_valid_and_detects_conflicts(offers: Any, table: Any) -> None:
    o = offer(offers, table, "r1", 20, -1, 1)
    later = NOW + timedelta(minutes=1)
    updated = offers.update(table, "r1", o["offerId"], {"discountPercent": 25}, later)
    assert updated["discountPercent"] == 25 and updated["updatedAt"] > o["updatedAt"]
    with pytest.raises(ValidationError):
        offers.update(table, "r1", o["offerId"], {"validTo": at(-2)}, later)
    assert offers.update(table, "r1", "missing", {"title": "x"}, later) is None
    assert offers.delete(table, "r1", o["offerId"]) is True
    assert offers.delete(table, "r1", o["offerId"]) is False


def test_expire_and_report(offers: Any, table: Any) -> None:
    past = offer(offers, table, "r1", 20, -3, -1)  # created already past: EXPIRED at once
    assert past["status"] == "EXPIRED"
    soon = offer(offers, table, "r1", 30, -1, 0.25)
    offer(offers, table, "r2", 40, -1, 5)
    assert offers.expire(table, NOW) == 0
    assert offers.expire(table, NOW + timedelta(hours=1)) == 1
    assert offers.get(table, "r1", soon["offerId"])["status"] == "EXPIRED"
    assert offers.expire(table, NOW + timedelta(hours=1)) == 0  # nothing twice
    rep = offers.report(table)
    assert rep == {"total": 3, "byStatus": {"EXPIRED": 2, "ACTIVE": 1},
                   "restaurants": {"r1": {"EXPIRED": 2}, "r2": {"ACTIVE": 1}},
                   "averageActiveDiscount": 40.0}
