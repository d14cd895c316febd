"""The event_store scenario for `localcloud demo` (helpers shared with the tests and bench).

A user and a transaction live through their events over the HTTP API; 20 writers then append
to one entity at once (versions must be gapless and unique, nothing lost); time travel by
version and by time; the snapshot replay must equal a full replay; the projection table and
the notifier (the two subscribers behind the stream router) must have seen the events.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

ENTITIES_DIR = Path(__file__).resolve().parent / "entities"


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def http(self, method: str, url: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


def registry() -> Any:
    """The app's mutators (functions/event_store/entities/entity_domain.py), for local replays."""
    if str(ENTITIES_DIR) not in sys.path:
        sys.path.insert(0, str(ENTITIES_DIR))
    spec = importlib.util.spec_from_file_location("event_store_domain", ENTITIES_DIR /
                                                  "entity_domain.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.registry


def new_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}"


def post(ctx: DemoContext, base: str, entity_id: str, event_type: str, data: dict[str, Any],
         expected: int | None = None, ok: tuple[int, ...] = (201,)) -> dict[str, Any]:
    body: dict[str, Any] = {"type": event_type, "data": data}
    if expected is not None:
        body["expectedVersion"] = expected
    status, answer = ctx.http("POST", f"{base}entities/{entity_id}/events", body)
    if status not in ok:
        raise AssertionError(f"POST {event_type} on {entity_id}: {status} {answer}")
    return answer


def all_events(ctx: DemoContext, base: str, entity_id: str) -> list[dict[str, Any]]:
    out, url = [], f"{base}entities/{entity_id}/events?limit=1000"
    while url:
        status, page = ctx.http("GET", url)
        if status != 200:
            raise AssertionError(f"GET events of {entity_id}: {status} {page}")
        out.extend(page["events"])
        url = base + page["next"].lstrip("/") if page.get("next") else ""
    return out


def concurrent_appends(ctx: DemoContext, base: str, entity_id: str, writers: int,
                       each: int) -> float:
    """`writers` threads each append `each` UserUpdated events; returns the seconds taken."""
    def write(writer: int) -> None:
        for n in range(each):
            post(ctx, base, entity_id, "UserUpdated", {"address": f"writer {writer} #{n}"})

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(write, range(writers)))
    return time.perf_counter() - started


def check_invariant(events: list[dict[str, Any]], writers: int, each: int,
                    before: int) -> None:
    """Versions 1..n gapless and unique; every writer's every event present exactly once."""
    versions = [e["version"] for e in events]
    if versions != list(range(1, len(events) + 1)):
        raise AssertionError(f"versions are not gapless and unique: {versions[:20]}...")
    written = [e["data"]["address"] for e in events[before:]]
    expected = [f"writer {w} #{n}" for w in range(writers) for n in range(each)]
    if sorted(written) != sorted(expected):
        missing = sorted(set(expected) - set(written))
        raise AssertionError(f"{len(missing)} event(s) lost or duplicated, e.g. {missing[:3]}")
    for w in range(writers):  # each writer's events in its own order
        mine = [int(a.split("#")[1]) for a in written if a.startswith(f"writer {w} #")]
        if mine != sorted(mine):
            raise AssertionError(f"writer {w}'s events out of order: {mine}")


def replay(events: list[dict[str, Any]], upto: int | None = None) -> dict[str, Any] | None:
    reg, etype, state = registry(), None, None
    for e in events:
        if upto is not None and e["version"] > upto:
            break
        etype, state = reg.apply(etype, state, e["type"], e["data"])
    return state


def run(ctx: DemoContext) -> None:
    out = ctx.outputs
    base = out["ApiUrl"].rstrip("/") + "/"
    ddb = ctx.client("dynamodb")

    user = new_id("user")
    post(ctx, base, user, "UserCreated", {"name": "The Mill", "email": "mill@example.com",
                                          "address": "Malta"})
    post(ctx, base, user, "UserUpdated", {"address": "World"}, expected=1)
    status, state = ctx.http("GET", f"{base}entities/{user}")
    assert status == 200 and state["state"]["address"] == "World", state
    conflict = post(ctx, base, user, "UserUpdated", {"name": "x"}, expected=1, ok=(409,))
    ctx.step(f"{user}: UserCreated(Malta) -> UserUpdated(World); a stale expectedVersion "
             f"gets 409 ({conflict['message']})")

    tx = new_id("tx")
    post(ctx, base, tx, "TransactionCreated", {"userId": user, "amount": 2500,
                                               "currency": "EUR"})
    post(ctx, base, tx, "TransactionAuthorized", {"authorization": "auth-1"})
    rejected = post(ctx, base, tx, "TransactionRefunded", {"amount": 100}, ok=(422,))
    post(ctx, base, tx, "TransactionSettled", {})
    post(ctx, base, tx, "TransactionRefunded", {"amount": 2500})
    status, txs = ctx.http("GET", f"{base}entities/{tx}")
    assert txs["state"]["status"] == "refunded" and txs["version"] == 4, txs
    ctx.step(f"{tx}: created, authorized, settled, refunded (a refund before settlement: "
             f"422 {rejected['message']})")

    writers, each = 20, 6
    snapshot_every = int(out.get("SnapshotEvery", 100))
    seconds = concurrent_appends(ctx, base, user, writers, each)
    events = all_events(ctx, base, user)
    check_invariant(events, writers, each, before=2)
    ctx.step(f"{writers} concurrent writers x {each} events: versions 1..{len(events)} gapless "
             f"and unique, none lost ({writers * each / seconds:.0f} appends/s)")

    status, v1 = ctx.http("GET", f"{base}entities/{user}?version=1")
    assert v1["state"]["address"] == "Malta", v1
    moment = events[40]["timestamp"]
    status, then = ctx.http("GET", f"{base}entities/{user}?at={moment}")
    expected_version = max(e["version"] for e in events if e["timestamp"] <= moment)
    assert then["version"] == expected_version, (then, expected_version)
    assert then["state"] == replay(events, expected_version), then
    ctx.step(f"time travel: ?version=1 -> Malta; ?at={moment} -> version {then['version']}")

    status, now = ctx.http("GET", f"{base}entities/{user}")
    assert now["version"] == len(events)
    if snapshot_every and len(events) >= snapshot_every:
        assert now["snapshotVersion"] == (len(events) // snapshot_every) * snapshot_every, now
    assert now["state"] == replay(events), "snapshot replay differs from the full replay"
    ctx.step(f"latest state from snapshot v{now['snapshotVersion']} + {now['replayedEvents']} "
             f"events equals the full replay of {len(events)}")

    def projected() -> Any:
        item = ddb.get_item(TableName=out["ProjectionTableName"], Key={"id": {"S": user}},
                            ConsistentRead=True).get("Item")
        return item if item and int(item["version"]["N"]) == len(events) else None

    ctx.wait_for("the projection of the latest version", projected, timeout=60)

    def notified() -> Any:
        items = ddb.scan(TableName=out["NotificationsTableName"])["Items"]
        mine = {i["id"]["S"]: i["message"]["S"] for i in items
                if i["entityId"]["S"] in (user, tx)}
        return mine if len(mine) >= 2 else None

    notes = ctx.wait_for("the notifier", notified, timeout=60)
    time.sleep(0.5)  # anything filtered out would have arrived by now too
    notes = notified() or notes
    if sorted(notes) != sorted([f"{user}#1", f"{tx}#4"]):
        raise AssertionError(f"the notifier's filter let through: {sorted(notes)}")
    ctx.step(f"projection at v{len(events)}; notifier (SNS filter): {notes[f'{user}#1']!r} and "
             f"{notes[f'{tx}#4']!r}, nothing for the {len(events) - 1} updates")
