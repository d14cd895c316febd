"""event_store on localcloud: the API behind the local HTTP API, the stream delivered by the
local poller to the router, SNS and EventBridge to the subscribers. The concurrency invariant
(20 writers on one entity) is checked here, on the local cloud."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.cloud import LocalCloud
from localcloud.demo import DemoContext
from localcloud.testing import free_port as _free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ctx() -> Iterator[DemoContext]:
    cloud = LocalCloud(aws_port=0, api_port=_free_port(), quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"event_store"})
        cloud.start_api()
        cloud.start_delivery()
        yield DemoContext(cloud, "event_store")
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/event_store/demo.py", "event_store_demo_it")


@pytest.fixture(scope="module")
def base(ctx) -> str:
    return ctx.outputs["ApiUrl"].rstrip("/") + "/"


@pytest.mark.slow
def test_twenty_writers_leave_gapless_unique_versions_and_lose_nothing(ctx, demo, base) -> None:
    entity = demo.new_id("user")
    demo.post(ctx, base, entity, "UserCreated", {"name": "Race", "email": "race@example.com"})
    writers, each = 20, 5
    demo.concurrent_appends(ctx, base, entity, writers, each)
    events = demo.all_events(ctx, base, entity)
    assert len(events) == 1 + writers * each
    demo.check_invariant(events, writers, each, before=1)
    items = ctx.client("dynamodb").query(
        TableName=ctx.outputs["EventsTableName"], KeyConditionExpression="id = :id",
        ExpressionAttributeValues={":id": {"S": entity}}, ConsistentRead=True)["Items"]
    assert sorted(int(i["version"]["N"]) for i in items) == list(range(1, len(events) + 1))
    status, now = ctx.http("GET", f"{base}entities/{entity}")
    assert now["snapshotVersion"] == 100 and now["state"] == demo.replay(events)


def test_conflicts_validation_and_time_travel_over_http(ctx, demo, base) -> None:
    entity = demo.new_id("user")
    first = demo.post(ctx, base, entity, "UserCreated", {"name": "A", "email": "a@example.com",
                                                         "address": "Malta"})
    demo.post(ctx, base, entity, "UserUpdated", {"address": "World"}, expected=1)
    status, body = ctx.http("POST", f"{base}entities/{entity}/events",
                            {"type": "UserUpdated", "data": {"address": "Late"},
                             "expectedVersion": 1})
    assert status == 409 and body["currentVersion"] == 2
    status, body = ctx.http("POST", f"{base}entities/{entity}/events", {"type": "Nope"})
    assert status == 400 and "unknown event type" in body["message"]
    status, body = ctx.http("GET", f"{base}entities/{entity}?version=1")
    assert (status, body["state"]["address"]) == (200, "Malta")
    status, body = ctx.http("GET", f"{base}entities/{entity}?at={first['timestamp']}")
    assert (body["version"], body["state"]["address"]) == (1, "Malta")
    status, body = ctx.http("GET", f"{base}entities/{entity}?at=2000-01-01T00:00:00Z")
    assert status == 404
    assert ctx.http("GET", f"{base}entities/nobody-here")[0] == 404


def test_the_router_feeds_both_subscribers(ctx, demo, base) -> None:
    out, ddb = ctx.outputs, ctx.client("dynamodb")
    tx = demo.new_id("tx")
    demo.post(ctx, base, tx, "TransactionCreated", {"userId": "u", "amount": 700,
                                                    "currency": "usd"})
    demo.post(ctx, base, tx, "TransactionDeclined", {"reason": "insufficient funds"})

    def projected():
        item = ddb.get_item(TableName=out["ProjectionTableName"], Key={"id": {"S": tx}},
                            ConsistentRead=True).get("Item")
        return item if item and item["version"]["N"] == "2" else None

    item = ctx.wait_for("the projection", projected, timeout=60)
    assert '"status": "declined"' in item["state"]["S"]
    note = ctx.wait_for("the notification", lambda: ddb.get_item(
        TableName=out["NotificationsTableName"], Key={"id": {"S": f"{tx}#2"}}).get("Item"),
        timeout=60)
    assert note["message"]["S"] == f"Transaction {tx} was declined: insufficient funds."
    assert ctx.cloud.wait_idle(30)
    # TransactionCreated is not in the notifier's filter policy
    assert "Item" not in ddb.get_item(TableName=out["NotificationsTableName"],
                                      Key={"id": {"S": f"{tx}#1"}})
