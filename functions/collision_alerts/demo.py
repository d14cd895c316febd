"""The collision_alerts scenario for `localcloud demo`, and the synthetic telemetry generator it
shares with the tests and the benchmark.

Vehicles send 1 Hz telemetry; some crash, others only look dangerous for one sample: a pothole
spike, a sensor glitch (1,000 g; a speed of -1; NaN), a hard brake. Only the crashes may raise
an alert, once each, to the vehicle's owner.
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

KINDS = ("normal", "crash", "spike", "glitch", "nan_glitch", "speed_glitch", "hard_brake",
         "crash_then_silence")
CRASH_KINDS = frozenset({"crash", "crash_then_silence"})


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


@dataclass
class Fleet:
    """Samples of every vehicle (in time order) and which vehicles really crashed."""

    samples: list[dict[str, Any]] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # vehicle -> scenario
    crash_seq: dict[str, int] = field(default_factory=dict)  # vehicle -> seq of the impact

    @property
    def crashed(self) -> set[str]:
        return {v for v, k in self.kinds.items() if k in CRASH_KINDS}


def drive(vehicle: str, kind: str, *, seconds: int, start_ms: int, rng: random.Random,
          event_at: int) -> tuple[list[dict[str, Any]], int | None]:
    """One vehicle's 1 Hz samples for a scenario; returns (samples, seq of the crash)."""
    speed = rng.uniform(40, 110)
    lat, lon = 33.0 + rng.random(), -97.0 - rng.random()
    out, crash_seq, stopped = [], None, False
    for seq in range(seconds):
        ax, ay = rng.gauss(0, 0.12), rng.gauss(0, 0.08)
        if stopped:
            speed, ax, ay = 0.0, 0.0, 0.0
        else:
            speed = max(0.0, speed + rng.uniform(-1.5, 1.5))
        reading_speed = speed
        if seq == event_at:
            if kind in CRASH_KINDS:
                ax, ay = -rng.uniform(6, 12), rng.uniform(-3, 3)  # the impact
                reading_speed = speed * 0.4
                crash_seq = seq
            elif kind == "spike":  # a pothole, a door slam: one sample, speed unchanged
                ax, ay = rng.uniform(5, 8), rng.uniform(-1, 1)
            elif kind == "glitch":
                ax, ay = 1000.0, 0.0
            elif kind == "nan_glitch":
                ax = math.nan
            elif kind == "speed_glitch":  # a sensor reset: 5 g and no speed for one sample
                ax, reading_speed = 5.0, 0.0
        if kind in CRASH_KINDS and seq == event_at - 1:
            ax = -rng.uniform(2, 3)  # the impact begins
        if kind in CRASH_KINDS and seq == event_at + 1:
            ax, speed, stopped = -rng.uniform(0.5, 1.5), 0.0, True  # X+1: at rest
            reading_speed = 0.0
        if kind == "hard_brake" and event_at <= seq < event_at + 6:
            ax, speed = -0.95, max(0.0, speed - 30)  # the harshest braking, not a crash
            reading_speed = speed
        if kind == "crash_then_silence" and seq > event_at:
            break  # the telematics unit died with the impact: no X+1, nothing after
        out.append({"vehicle_id": vehicle, "seq": seq, "ts_ms": start_ms + seq * 1000,
                    "speed_kph": round(reading_speed, 2), "accel_x_g": ax, "accel_y_g": ay,
                    "lat": round(lat + seq * 1e-5, 6), "lon": round(lon, 6)})
    return out, crash_seq


def fleet(kinds: dict[str, str], *, seconds: int = 20, seed: int = 1,
          start_ms: int | None = None) -> Fleet:
    """Telemetry for vehicle -> scenario, interleaved in time order as the stream gets it."""
    rng = random.Random(seed)
    start = start_ms if start_ms is not None else int(time.time() * 1000) - seconds * 1000
    f = Fleet(kinds=dict(kinds))
    per_vehicle = []
    for vehicle, kind in kinds.items():
        samples, crash_seq = drive(vehicle, kind, seconds=seconds, start_ms=start, rng=rng,
                                   event_at=rng.randrange(3, max(4, seconds - 8)))
        per_vehicle.append(samples)
        if crash_seq is not None:
            f.crash_seq[vehicle] = crash_seq
    f.samples = sorted((s for samples in per_vehicle for s in samples),
                       key=lambda s: (s["ts_ms"], s["vehicle_id"]))
    return f


def scenario_fleet(prefix: str, per_kind: int = 2, seed: int = 1) -> Fleet:
    kinds = {f"{prefix}{kind}-{i}": kind for kind in KINDS for i in range(per_kind)}
    return fleet(kinds, seed=seed)


def put_telemetry(kinesis: Any, stream: str, samples: list[dict[str, Any]]) -> None:
    for start in range(0, len(samples), 500):
        chunk = samples[start:start + 500]
        out = kinesis.put_records(StreamName=stream, Records=[
            {"Data": json.dumps(s).encode(), "PartitionKey": s["vehicle_id"]} for s in chunk])
        if out["FailedRecordCount"]:
            raise AssertionError(f"{out['FailedRecordCount']} sample(s) refused by Kinesis")


def crashes_of(ddb: Any, table: str, vehicles: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Stored crashes of these vehicles."""
    out: dict[str, list[dict[str, Any]]] = {}
    for vehicle in vehicles:
        items = ddb.query(TableName=table, ConsistentRead=True,
                          KeyConditionExpression="vehicle_id = :v",
                          ExpressionAttributeValues={":v": {"S": vehicle}})["Items"]
        if items:
            out[vehicle] = [{**json.loads(i["detail"]["S"]),
                             "notified": i.get("notified", {}).get("BOOL")} for i in items]
    return out


def subscribe_queue(ctx: DemoContext, topic_arn: str, name: str,
                    owners: list[str] | None = None) -> str:
    """An SQS queue standing in for owners' push endpoints (filtered by owner_id)."""
    sqs, sns = ctx.client("sqs"), ctx.client("sns")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    attrs = {"RawMessageDelivery": "true"}
    if owners:
        attrs["FilterPolicy"] = json.dumps({"owner_id": owners})
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attrs)
    return url


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    got = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"]).get("Messages", [])
        if not messages:
            return got
        for m in messages:
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def register(ddb: Any, table: str, vehicles: list[str]) -> dict[str, str]:
    owners = {}
    for vehicle in vehicles:
        owners[vehicle] = f"owner-of-{vehicle}"
        ddb.put_item(TableName=table, Item={"vehicle_id": {"S": vehicle},
                                            "owner_id": {"S": owners[vehicle]},
                                            "owner_name": {"S": f"Driver of {vehicle}"}})
    return owners


def run(ctx: DemoContext) -> None:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    out = ctx.outputs
    prefix = f"demo{uuid.uuid4().hex[:6]}-"
    f = scenario_fleet(prefix, per_kind=2, seed=3)
    ddb, sqs = ctx.client("dynamodb"), ctx.client("sqs")
    owners = register(ddb, out["VehiclesTableName"], sorted(f.kinds))
    inbox = subscribe_queue(ctx, out["CrashAlertsTopicArn"], f"{prefix}owner-inbox",
                            sorted(set(owners.values())))
    ctx.step(f"{len(f.kinds)} vehicles, {len(f.samples)} samples: "
             f"{', '.join(sorted(set(f.kinds.values())))}")
    started = time.time()
    put_telemetry(ctx.client("kinesis"), out["TelemetryStreamName"], f.samples)
    alerts: list[dict[str, Any]] = []

    def all_alerted() -> bool:
        alerts.extend(drain(sqs, inbox))
        return {a["vehicle_id"] for a in alerts} >= f.crashed

    ctx.wait_for(f"alerts for the {len(f.crashed)} crashes", all_alerted, timeout=60)
    latency = time.time() - started
    time.sleep(2.0)  # anything else in flight would be a false alarm or a repeat
    alerts.extend(drain(sqs, inbox))
    alerted = sorted(a["vehicle_id"] for a in alerts)
    if alerted != sorted(f.crashed):
        raise AssertionError(f"alerts for {alerted}, crashes were {sorted(f.crashed)}")
    for a in alerts:
        if a["owner_id"] != owners[a["vehicle_id"]] or a["seq"] != f.crash_seq[a["vehicle_id"]]:
            raise AssertionError(f"alert {a} names the wrong owner or sample")
    stored = crashes_of(ddb, out["CrashesTableName"], set(f.kinds))
    if set(stored) != f.crashed or any(len(v) != 1 or not v[0]["notified"]
                                       for v in stored.values()):
        raise AssertionError(f"stored crashes {stored} do not match {sorted(f.crashed)}")
    ctx.step(f"{len(f.crashed)} crashes stored and pushed to their owners within "
             f"{latency:.1f} s; no alert for spikes, glitches or hard braking")
