"""The event store library on moto's DynamoDB: append, conflicts, replay, time travel,
snapshots (a snapshot replay must equal the full replay)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from entity_domain import registry
from event_store_testlib import T0
from eventstore import (
    ConcurrencyConflict,
    EventStore,
    InvalidEvent,
    TooMuchContention,
    UnknownEventType,
)


def user(store: EventStore, entity_id: str = "user-1", updates: int = 0) -> None:
    store.append(entity_id, "UserCreated", {"name": "The Mill", "email": "mill@example.com",
                                            "address": "Malta"})
    for i in range(updates):
        store.append(entity_id, "UserUpdated", {"address": f"street {i + 1}"})


def test_the_seeds_example_replays_to_the_latest_state(store) -> None:
    user(store)
    event = store.append("user-1", "UserUpdated", {"address": "World"})
    assert event.version == 2 and event.entity_type == "user"
    entity = store.load("user-1")
    assert entity.version == 2
    assert entity.state == {"name": "The Mill", "email": "mill@example.com",
                            "address": "World", "active": True}
    items = store.events.scan()["Items"]
    assert sorted((i["id"], int(i["version"]), i["type"]) for i in items) == [
        ("user-1", 1, "UserCreated"), ("user-1", 2, "UserUpdated")]
    assert items[0]["eventdata"]["name"] == "The Mill"
    assert items[0]["timestamp"] == "2024-05-06T08:00:00.000Z"


def test_expected_version_is_optimistic_locking(store) -> None:
    user(store)
    store.append("user-1", "UserUpdated", {"name": "A"}, expected_version=1)
    with pytest.raises(ConcurrencyConflict) as err:
        store.append("user-1", "UserUpdated", {"name": "B"}, expected_version=1)
    assert (err.value.expected, err.value.current) == (1, 2)
    # an expected version ahead of the store would leave a gap: refused too
    with pytest.raises(ConcurrencyConflict):
        store.append("user-1", "UserUpdated", {"name": "C"}, expected_version=7)
    assert store.latest_version("user-1") == 2


def test_domain_rules_refuse_events_before_they_are_stored(store) -> None:
    with pytest.raises(InvalidEvent, match="needs an existing user"):
        store.append("user-9", "UserUpdated", {"name": "x"})
    user(store)
    with pytest.raises(InvalidEvent, match="this entity exists"):
        store.append("user-1", "UserCreated", {"name": "x", "email": "y"})
    with pytest.raises(InvalidEvent, match="applies to a transaction, not to a user"):
        store.append("user-1", "TransactionAuthorized", {"authorization": "a"})
    with pytest.raises(InvalidEvent, match="unknown field"):
        store.append("user-1", "UserUpdated", {"shoe_size": "44"})
    with pytest.raises(UnknownEventType, match="UserRenamed"):
        store.append("user-1", "UserRenamed", {})
    store.append("user-1", "UserDeactivated", {"reason": "closed"})
    with pytest.raises(InvalidEvent, match="deactivated"):
        store.append("user-1", "UserUpdated", {"name": "x"})
    assert store.latest_version("user-1") == 2


def test_a_transaction_lifecycle(store) -> None:
    tx = "tx-1"
    store.append(tx, "TransactionCreated", {"userId": "user-1", "amount": 2500,
                                            "currency": "eur"})
    with pytest.raises(InvalidEvent, match="pending, not authorized"):
        store.append(tx, "TransactionSettled", {})
    store.append(tx, "TransactionAuthorized", {"authorization": "auth-77"})
    store.append(tx, "TransactionSettled", {})
    store.append(tx, "TransactionRefunded", {"amount": 1000})
    with pytest.raises(InvalidEvent, match="exceed"):
        store.append(tx, "TransactionRefunded", {"amount": 1501})
    store.append(tx, "TransactionRefunded", {"amount": 1500})
    assert store.load(tx).state == {"userId": "user-1", "amount": 2500, "currency": "EUR",
                                    "status": "refunded", "refunded": 2500,
                                    "authorization": "auth-77"}
    with pytest.raises(InvalidEvent, match="positive integer"):
        store.append("tx-2", "TransactionCreated", {"userId": "u", "amount": 9.99,
                                                    "currency": "EUR"})


class Racing:
    """A table whose next `wins` put_item calls first let a rival writer take the version."""

    def __init__(self, table: Any, rival: EventStore, wins: int) -> None:
        self.table, self.rival, self.wins = table, rival, wins

    def put_item(self, **kwargs: Any) -> Any:
        if self.wins:
            self.wins -= 1
            self.rival.append(kwargs["Item"]["id"], "UserUpdated", {"name": f"rival {self.wins}"})
        return self.table.put_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.table, name)


def test_a_lost_race_catches_up_and_retries_without_gaps(tables, clock) -> None:
    rival = EventStore(tables["events"], tables["snapshots"], registry, clock=clock)
    user(rival)
    racing = EventStore(Racing(tables["events"], rival, wins=3), tables["snapshots"],
                        registry, clock=clock, sleep=lambda _s: None)
    event = racing.append("user-1", "UserUpdated", {"address": "mine"})
    assert event.version == 5  # versions 2-4 went to the rival
    versions = [e.version for e in rival.read("user-1")]
    assert versions == [1, 2, 3, 4, 5]
    assert rival.load("user-1").state["address"] == "mine"
    assert rival.load("user-1").state["name"] == "rival 0"


def test_a_lost_race_with_an_expected_version_is_a_conflict(tables, clock) -> None:
    rival = EventStore(tables["events"], tables["snapshots"], registry, clock=clock)
    user(rival)
    racing = EventStore(Racing(tables["events"], rival, wins=1), None, registry, clock=clock)
    with pytest.raises(ConcurrencyConflict) as err:
        racing.append("user-1", "UserUpdated", {"address": "mine"}, expected_version=1)
    assert err.value.current == 2


def test_a_lost_race_revalidates_the_event(tables, clock) -> None:
    rival = EventStore(tables["events"], None, registry, clock=clock)
    user(rival)

    class Deactivating(Racing):
        def put_item(self, **kwargs: Any) -> Any:
            if self.wins:
                self.wins = 0
                self.rival.append("user-1", "UserDeactivated", {"reason": "rival"})
            return self.table.put_item(**kwargs)

    racing = EventStore(Deactivating(tables["events"], rival, 1), None, registry, clock=clock,
                        sleep=lambda _s: None)
    with pytest.raises(InvalidEvent, match="deactivated"):
        racing.append("user-1", "UserUpdated", {"address": "too late"})
    assert rival.latest_version("user-1") == 2


def test_retries_are_bounded(tables, clock) -> None:
    rival = EventStore(tables["events"], None, registry, clock=clock)
    user(rival)
    racing = EventStore(Racing(tables["events"], rival, wins=10), None, registry, clock=clock,
                        max_attempts=3, sleep=lambda _s: None)
    with pytest.raises(TooMuchContention):
        racing.append("user-1", "UserUpdated", {"address": "never"})


def test_state_at_a_version_and_at_a_time(store) -> None:
    user(store, updates=6)  # versions 1..7 at T0, T0+1s, ..., T0+6s
    assert store.load("user-1", version=3).state["address"] == "street 2"
    assert store.load("user-1", version=1).state["address"] == "Malta"
    at = store.load("user-1", at=T0 + timedelta(seconds=4, milliseconds=500))
    assert (at.version, at.state["address"]) == (5, "street 4")
    assert store.load("user-1", at=T0 + timedelta(seconds=4)).version == 5  # inclusive
    assert store.load("user-1", at=T0 - timedelta(seconds=1)).version == 0
    assert store.load("user-1", at=T0 + timedelta(days=1)).version == 7
    assert store.load("nobody").state is None


def test_snapshot_replay_equals_full_replay(store, tables) -> None:
    user(store, updates=44)  # 45 events: snapshots at 10, 20, 30, 40
    snaps = sorted(int(i["version"]) for i in tables["snapshots"].scan()["Items"])
    assert snaps == [10, 20, 30, 40]
    for version in range(1, 46):
        fast = store.load("user-1", version=version)
        full = store.load("user-1", version=version, use_snapshots=False)
        assert (fast.state, fast.version, fast.updated_at) == \
            (full.state, full.version, full.updated_at)
        assert fast.snapshot_version == (version // 10) * 10
        assert fast.replayed == version % 10
        assert full.replayed == version


def test_a_snapshot_of_other_mutators_is_ignored(store, tables) -> None:
    user(store, updates=14)
    item = tables["snapshots"].get_item(Key={"id": "user-1", "version": 10})["Item"]
    tables["snapshots"].put_item(Item={**item, "state": '{"name": "stale"}',
                                       "mutators": "old-revision", "version": 12})
    entity = store.load("user-1")
    assert entity.snapshot_version == 10 and entity.state["address"] == "street 14"


def test_reading_every_page(store, tables) -> None:
    user(store, updates=9)
    store.events = Paging(tables["events"], 3)
    assert [e.version for e in store.read("user-1")] == list(range(1, 11))
    assert [e.version for e in store.read("user-1", after=4, limit=3)] == [5, 6, 7]
    assert store.load("user-1", use_snapshots=False).version == 10


class Paging:
    """A table answering queries in pages of `size` items (DynamoDB pages at 1 MB)."""

    def __init__(self, table: Any, size: int) -> None:
        self.table, self.size = table, size

    def query(self, **kwargs: Any) -> Any:
        return self.table.query(**{**kwargs, "Limit": min(kwargs.get("Limit", self.size),
                                                          self.size)})

    def __getattr__(self, name: str) -> Any:
        return getattr(self.table, name)
