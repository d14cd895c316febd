"""event_store benchmark on the local cloud (the embedded moto behind the local HTTP API).

- appends/s through POST /entities/{id}/events: 1 writer, then 20 concurrent writers on one
  entity (every append contends: one writer wins each version, the others catch up and retry),
  and 20 writers on 20 entities (no contention) for comparison; warm workers only;
- replay of one entity with 10,000 events: the library's load() with snapshots (every 100:
  at most 99 events after the latest one) and without (all 10,000), and GET /entities/{id}.

Run alone with `.venv/bin/python bench/event_store.py` (writes bench/event_store.md); `make
bench` includes it.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENTITIES = ROOT / "functions" / "event_store" / "entities"
REPLAY_EVENTS = 10_000
SINGLE_APPENDS = 150
WRITERS, EACH = 20, 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict[str, Any]) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return resp.status


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=120) as resp:
        return json.loads(resp.read())


def _create(base: str, entity: str) -> None:
    _post(f"{base}entities/{entity}/events", {"type": "UserCreated",
                                              "data": {"name": "Bench", "email": "b@x.io"}})


def _update(base: str, entity: str, n: int) -> None:
    _post(f"{base}entities/{entity}/events", {"type": "UserUpdated",
                                              "data": {"address": f"street {n}"}})


def _appends(base: str, entities: list[str], each: int) -> float:
    """Appends/s with one thread per entry of `entities` (repeat an id to contend)."""
    def write(i: int) -> None:
        for n in range(each):
            _update(base, entities[i], n)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(entities)) as pool:
        list(pool.map(write, range(len(entities))))
    return len(entities) * each / (time.perf_counter() - started)


def _library() -> tuple[Any, Any]:
    for path in (ROOT / "layers" / "common", ENTITIES):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    import entity_domain
    import eventstore

    return eventstore, entity_domain.registry


def _seed_long_entity(cloud: Any, out: dict[str, Any], entity: str, snapshot_every: int) -> None:
    """10,000 events written directly (setup, not measured), with the snapshots the appender
    would have written every `snapshot_every` versions."""
    eventstore, registry = _library()
    ddb = cloud.client("dynamodb")
    etype, state, t0 = None, None, time.time()
    items, snaps = [], []
    for version in range(1, REPLAY_EVENTS + 1):
        kind, data = (("UserCreated", {"name": "Long", "email": "long@x.io"}) if version == 1
                      else ("UserUpdated", {"address": f"street {version}"}))
        etype, state = registry.apply(etype, state, kind, data)
        stamp = eventstore.iso(eventstore.datetime.fromtimestamp(t0 + version / 1000,
                                                                 eventstore.UTC))
        items.append({"PutRequest": {"Item": {
            "id": {"S": entity}, "version": {"N": str(version)}, "type": {"S": kind},
            "entityType": {"S": "user"}, "timestamp": {"S": stamp},
            "eventdata": {"M": {k: {"S": v} for k, v in data.items()}}}}})
        if snapshot_every and version % snapshot_every == 0:
            snaps.append({"PutRequest": {"Item": {
                "id": {"S": entity}, "version": {"N": str(version)},
                "entityType": {"S": "user"}, "timestamp": {"S": stamp},
                "state": {"S": json.dumps(state, sort_keys=True)},
                "mutators": {"S": registry.revision}}}})
    for table, batch in ((out["EventsTableName"], items), (out["SnapshotsTableName"], snaps)):
        for start in range(0, len(batch), 25):
            ddb.batch_write_item(RequestItems={table: batch[start:start + 25]})


def _timed(fn: Any, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> dict[str, Any]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sys.path.insert(0, str(ROOT))
    from localcloud.cloud import LocalCloud

    results: dict[str, Any] = {}
    with LocalCloud(aws_port=0, api_port=_free_port(), quiet=True,
                    log=lambda *_: None) as cloud:
        cloud.deploy(apps={"event_store"})
        cloud.start_api()
        out = cloud.outputs()["event_store"]
        base = out["ApiUrl"].rstrip("/") + "/"
        snapshot_every = int(out["SnapshotEvery"])
        run = uuid.uuid4().hex[:6]

        # Warm-up: 20 concurrent requests so 20 warm workers exist before anything is timed.
        warm = [f"warm-{run}-{i}" for i in range(WRITERS)]
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            list(pool.map(lambda e: _create(base, e), warm))
        _appends(base, warm, 2)

        single = f"single-{run}"
        _create(base, single)
        results["one_writer"] = _appends(base, [single], SINGLE_APPENDS)
        contended = f"contended-{run}"
        _create(base, contended)
        results["twenty_one_entity"] = _appends(base, [contended] * WRITERS, EACH)
        events = [e["version"] for e in _get(
            f"{base}entities/{contended}/events?limit=1000")["events"]]
        assert events == list(range(1, WRITERS * EACH + 2)), "versions not gapless"
        results["twenty_entities"] = _appends(base, warm, EACH)

        long = f"long-{run}"
        _seed_long_entity(cloud, out, long, snapshot_every)
        eventstore, registry = _library()
        import boto3

        resource = boto3.resource("dynamodb", endpoint_url=cloud.endpoint,
                                  region_name="us-east-1")
        store = eventstore.EventStore(resource.Table(out["EventsTableName"]),
                                      resource.Table(out["SnapshotsTableName"]), registry,
                                      snapshot_every=snapshot_every)
        with_snap = store.load(long)
        without = store.load(long, use_snapshots=False)
        assert with_snap.state == without.state and with_snap.version == REPLAY_EVENTS
        results["replay_with"] = _timed(lambda: store.load(long), 20)
        results["replay_without"] = _timed(lambda: store.load(long, use_snapshots=False), 5)
        results["replayed_with"] = with_snap.replayed
        results["api_get_with"] = _timed(lambda: _get(f"{base}entities/{long}"), 20)
        results["api_get_old_version"] = _timed(
            lambda: _get(f"{base}entities/{long}?version=99"), 5)
        results["snapshot_every"] = snapshot_every

    r = results
    lines = [
        "# event_store benchmark",
        "",
        f"Local cloud (embedded moto, local HTTP API), warm workers, {os.cpu_count()} cores. "
        "`.venv/bin/python bench/event_store.py`.",
        "",
        "| what | result |",
        "|---|---|",
        f"| appends/s, 1 writer ({SINGLE_APPENDS} sequential POSTs) | {r['one_writer']:.0f} |",
        f"| appends/s, {WRITERS} concurrent writers on one entity ({WRITERS}x{EACH}, "
        f"gapless checked) | {r['twenty_one_entity']:.0f} |",
        f"| appends/s, {WRITERS} concurrent writers on {WRITERS} entities (no contention) | "
        f"{r['twenty_entities']:.0f} |",
        f"| replay of {REPLAY_EVENTS:,} events, with snapshots (every {r['snapshot_every']}; "
        f"{r['replayed_with']} events after the latest), median of 20 | "
        f"{r['replay_with'] * 1000:.1f} ms |",
        f"| replay of {REPLAY_EVENTS:,} events, without snapshots, median of 5 | "
        f"{r['replay_without'] * 1000:.0f} ms |",
        f"| GET /entities/{{id}} of that entity (snapshot + tail), median of 20 | "
        f"{r['api_get_with'] * 1000:.1f} ms |",
        f"| GET /entities/{{id}}?version=99 (before the first snapshot: 99 events), median of 5 |"
        f" {r['api_get_old_version'] * 1000:.1f} ms |",
        "",
    ]
    text = "\n".join(lines)
    (ROOT / "bench" / "event_store.md").write_text(text)
    print(text)
    return results


if __name__ == "__main__":
    main()
