"""An event store on DynamoDB: append with a conditional write, replay, time travel, snapshots.

Events table: `id` (partition), `version` (sort, 1, 2, 3, ...), `type`, `eventdata`,
`timestamp` (ISO 8601 UTC, milliseconds), `entityType`. Snapshots table: the same key, with the
entity's state after that version (JSON text) and the snapshot's `mutators` revision.

Invariant: versions of one entity are gapless and unique. `append` only writes version n + 1
after reading version n (or n = 0), and writes it with `attribute_not_exists`, so two writers
can never both write n + 1; the loser either reports the conflict (an expected version was
given) or catches up on the events it missed, re-validates its event against the new state and
tries n + 2 (retry allowed).

The domain lives in a `Registry` of mutators: one function per event type that returns the new
state from the old state (None before the first event) and the event's data, raising
`InvalidEvent` when the event does not apply. Replays are therefore deterministic, so a
snapshot equals the full replay up to its version (tested).
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

State = dict[str, Any]
Mutator = Callable[[State | None, dict[str, Any]], State]


class EventStoreError(Exception):
    """Base class of the store's errors."""


class UnknownEventType(EventStoreError):
    pass


class InvalidEvent(EventStoreError):
    """The event does not apply to the entity's current state (a domain rule)."""


class ConcurrencyConflict(EventStoreError):
    """The expected version is not the current one (or another writer won the race)."""

    def __init__(self, entity_id: str, expected: int, current: int) -> None:
        super().__init__(f"{entity_id}: expected version {expected}, current version {current}")
        self.entity_id, self.expected, self.current = entity_id, expected, current


class TooMuchContention(EventStoreError):
    """Retries ran out while other writers kept winning."""


@dataclass(frozen=True)
class MutatorSpec:
    entity_type: str
    apply: Mutator
    creates: bool


@dataclass
class Registry:
    """Event type -> mutator. `revision` names the mutators' behaviour: snapshots taken with
    another revision are ignored, so changing a mutator never serves a stale snapshot."""

    revision: str = "1"
    mutators: dict[str, MutatorSpec] = field(default_factory=dict)

    def mutator(self, event_type: str, entity_type: str,
                creates: bool = False) -> Callable[[Mutator], Mutator]:
        def register(fn: Mutator) -> Mutator:
            self.mutators[event_type] = MutatorSpec(entity_type, fn, creates)
            return fn
        return register

    def spec(self, event_type: str) -> MutatorSpec:
        try:
            return self.mutators[event_type]
        except KeyError:
            raise UnknownEventType(
                f"unknown event type {event_type!r}; known: {', '.join(sorted(self.mutators))}"
            ) from None

    def apply(self, entity_type: str | None, state: State | None, event_type: str,
              data: dict[str, Any]) -> tuple[str, State]:
        """(entity type, new state); raises InvalidEvent when the event does not apply."""
        spec = self.spec(event_type)
        if state is None and not spec.creates:
            raise InvalidEvent(f"{event_type} needs an existing {spec.entity_type}")
        if state is not None and spec.creates:
            raise InvalidEvent(f"{event_type} creates a {spec.entity_type}; this entity exists")
        if entity_type is not None and entity_type != spec.entity_type:
            raise InvalidEvent(f"{event_type} applies to a {spec.entity_type}, "
                               f"not to a {entity_type}")
        return spec.entity_type, spec.apply(state, data)


@dataclass(frozen=True)
class Event:
    entity_id: str
    version: int
    type: str
    data: dict[str, Any]
    timestamp: str
    entity_type: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.entity_id, "version": self.version, "type": self.type,
                "data": self.data, "timestamp": self.timestamp, "entityType": self.entity_type}


@dataclass(frozen=True)
class Entity:
    entity_id: str
    entity_type: str | None
    version: int
    state: State | None
    updated_at: str | None
    replayed: int = 0  # events applied on top of the snapshot (0 when none was used)
    snapshot_version: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.entity_id, "entityType": self.entity_type, "version": self.version,
                "state": self.state, "updatedAt": self.updated_at}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_dynamo(value: Any) -> Any:
    """JSON-compatible data with floats as Decimal (DynamoDB refuses floats)."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def from_dynamo(value: Any) -> Any:
    """DynamoDB data back to JSON types (Decimal -> int or float)."""
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _event_of(item: dict[str, Any]) -> Event:
    return Event(entity_id=item["id"], version=int(item["version"]), type=item["type"],
                 data=from_dynamo(item.get("eventdata") or {}), timestamp=item["timestamp"],
                 entity_type=item.get("entityType", ""))


class EventStore:
    """Append and replay events of entities; `events_table`/`snapshots_table` are boto3
    DynamoDB Table resources."""

    def __init__(self, events_table: Any, snapshots_table: Any | None, registry: Registry, *,
                 snapshot_every: int = 100, max_attempts: int = 100,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.events = events_table
        self.snapshots = snapshots_table
        self.registry = registry
        self.snapshot_every = snapshot_every
        self.max_attempts = max_attempts
        self.clock = clock
        self.sleep = sleep

    # --- reading --------------------------------------------------------------------------

    def read(self, entity_id: str, after: int = 0, upto: int | None = None,
             limit: int | None = None) -> Iterator[Event]:
        """Events with after < version <= upto, in version order, every page."""
        cond = Key("id").eq(entity_id)
        if upto is None:
            cond = cond & Key("version").gt(after)
        else:
            cond = cond & Key("version").between(after + 1, upto)
        kwargs: dict[str, Any] = {"KeyConditionExpression": cond, "ConsistentRead": True}
        if limit is not None:
            kwargs["Limit"] = limit
        count = 0
        while True:
            page = self.events.query(**kwargs)
            for item in page.get("Items", []):
                yield _event_of(item)
                count += 1
                if limit is not None and count >= limit:
                    return
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def latest_version(self, entity_id: str) -> int:
        page = self.events.query(KeyConditionExpression=Key("id").eq(entity_id),
                                 ScanIndexForward=False, Limit=1, ConsistentRead=True,
                                 ProjectionExpression="version")
        items = page.get("Items", [])
        return int(items[0]["version"]) if items else 0

    def version_at(self, entity_id: str, at: datetime) -> int:
        """The highest version whose event was stored at or before `at` (0: none)."""
        found = 0
        # The timestamps of one entity rise with its versions (one clock, writes in order),
        # but a filter rather than a stop at the first later event keeps skewed clocks honest.
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("id").eq(entity_id),
            "FilterExpression": Attr("timestamp").lte(iso(at)),
            "ProjectionExpression": "version", "ConsistentRead": True}
        while True:
            page = self.events.query(**kwargs)
            for item in page.get("Items", []):
                found = max(found, int(item["version"]))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def latest_snapshot(self, entity_id: str,
                        upto: int | None = None) -> tuple[int, str | None, State | None, str]:
        """(version, entity type, state, timestamp) of the newest usable snapshot at or below
        `upto`; version 0 when there is none."""
        if self.snapshots is None:
            return 0, None, None, ""
        cond = Key("id").eq(entity_id)
        if upto is not None:
            cond = cond & Key("version").lte(upto)
        kwargs: dict[str, Any] = {"KeyConditionExpression": cond, "ScanIndexForward": False,
                                  "ConsistentRead": True, "Limit": 5}
        while True:
            page = self.snapshots.query(**kwargs)
            for item in page.get("Items", []):
                if item.get("mutators") == self.registry.revision:
                    return (int(item["version"]), item.get("entityType"),
                            json.loads(item["state"]), item.get("timestamp", ""))
            if "LastEvaluatedKey" not in page:
                return 0, None, None, ""
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def load(self, entity_id: str, version: int | None = None, at: datetime | None = None,
             use_snapshots: bool = True) -> Entity:
        """The entity's state at `version`, at time `at`, or now (latest)."""
        if at is not None:
            version = self.version_at(entity_id, at)
            if version == 0:
                return Entity(entity_id, None, 0, None, None)
        base, etype, state, stamp = (self.latest_snapshot(entity_id, version)
                                     if use_snapshots else (0, None, None, ""))
        return self.replay(Entity(entity_id, etype, base, state, stamp or None,
                                  snapshot_version=base), upto=version)

    def replay(self, entity: Entity, upto: int | None = None) -> Entity:
        """`entity` brought forward with the events after its version (up to `upto`)."""
        etype, state, version, stamp = (entity.entity_type, entity.state, entity.version,
                                        entity.updated_at)
        replayed = entity.replayed
        for event in self.read(entity.entity_id, after=entity.version, upto=upto):
            if event.version != version + 1:  # never expected: the write path forbids gaps
                raise EventStoreError(f"{entity.entity_id}: version {version + 1} missing")
            etype, state = self.registry.apply(etype, state, event.type, event.data)
            version, stamp = event.version, event.timestamp
            replayed += 1
        return Entity(entity.entity_id, etype, version, state, stamp, replayed,
                      entity.snapshot_version)

    # --- writing --------------------------------------------------------------------------

    def append(self, entity_id: str, event_type: str, data: dict[str, Any],
               expected_version: int | None = None, *, retry: bool | None = None) -> Event:
        """Validate the event against the current state and store it as the next version.

        expected_version: the version the caller based its decision on; a different current
        version raises ConcurrencyConflict (optimistic locking). `retry` (default: only when no
        expected version is given) catches up and tries again when another writer won.
        """
        retry = expected_version is None if retry is None else retry
        self.registry.spec(event_type)  # unknown types fail before any read
        entity = self.load(entity_id)
        if expected_version is not None and expected_version != entity.version:
            raise ConcurrencyConflict(entity_id, expected_version, entity.version)
        for attempt in range(self.max_attempts):
            etype, state = self.registry.apply(entity.entity_type, entity.state, event_type,
                                               data)
            version = entity.version + 1
            event = Event(entity_id, version, event_type, data, iso(self.clock()), etype)
            if self._put(event):
                self._maybe_snapshot(event, state)
                return event
            if not retry:
                raise ConcurrencyConflict(entity_id, entity.version,
                                          self.latest_version(entity_id))
            # Another writer took this version: catch up on what it (and others) wrote, then
            # decide again. Jitter spreads the writers so one of them wins each round.
            entity = self.replay(entity)
            self.sleep(random.uniform(0, min(0.05, 0.002 * 2 ** min(attempt, 5))))
        raise TooMuchContention(f"{entity_id}: no version won in {self.max_attempts} attempts")

    def _put(self, event: Event) -> bool:
        try:
            self.events.put_item(
                Item={"id": event.entity_id, "version": event.version, "type": event.type,
                      "eventdata": to_dynamo(event.data), "timestamp": event.timestamp,
                      "entityType": event.entity_type},
                ConditionExpression="attribute_not_exists(version)")
            return True
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def _maybe_snapshot(self, event: Event, state: State) -> None:
        # The writer has the state in hand: a snapshot every N versions costs one write.
        if self.snapshots is None or self.snapshot_every <= 0 or \
                event.version % self.snapshot_every:
            return
        # The event is stored; a missing snapshot only makes later loads longer.
        with contextlib.suppress(ClientError):
            self.save_snapshot(event.entity_id, event.version, event.entity_type, state,
                               event.timestamp)

    def save_snapshot(self, entity_id: str, version: int, entity_type: str, state: State,
                      timestamp: str) -> bool:
        """Store a snapshot once (a second writer of the same version changes nothing)."""
        if self.snapshots is None:
            return False
        try:
            self.snapshots.put_item(
                Item={"id": entity_id, "version": version, "entityType": entity_type,
                      "state": json.dumps(state, sort_keys=True), "timestamp": timestamp,
                      "mutators": self.registry.revision},
                ConditionExpression="attribute_not_exists(version)")
            return True
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
