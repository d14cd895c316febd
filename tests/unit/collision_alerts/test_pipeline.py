"""The cache, the crash store and both handlers' batch paths, against moto."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import pytest
from crash_stores import CrashAlerts, TelemetryCache
from crash_telemetry import Sample, Thresholds, assess

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "collision_alerts"

T = Thresholds()


@pytest.fixture(scope="module")
def app(load_module):
    return load_module("functions/collision_alerts/detector/app.py", "collision_alerts_app")


def s(seq: int, speed: float, ax: float, vehicle: str = "car-1") -> Sample:
    return Sample(vehicle, seq, 1_777_629_900_000 + seq * 1000, speed, ax, 0.0, 33.5, -97.1)


def record(i: int, data: bytes) -> dict[str, Any]:
    seq = f"{i:056d}"
    return {"kinesis": {"sequenceNumber": seq, "data": base64.b64encode(data).decode()},
            "eventID": f"shardId-000000000000:{seq}"}


def inbox(aws: Any) -> list[dict[str, Any]]:
    got = aws.sqs.receive_message(QueueUrl=aws.inbox_url, MaxNumberOfMessages=10,
                                  MessageAttributeNames=["All"]).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def alerts_for(aws: Any) -> CrashAlerts:
    return CrashAlerts(aws.ddb, aws.sns, "crashes", "vehicles", aws.topic_arn, dedup_s=120)


def test_the_cache_round_trips_samples_even_glitched_ones(aws) -> None:
    cache = TelemetryCache(aws.ddb, "cache", ttl_s=600)
    glitch = Sample("car-1", 2, 1_000, 50.0, math.nan, 0.0)
    cache.put([s(1, 50, 0.1), glitch, s(1, 51, 0.1)], cached_at=1000.5)  # seq 1 twice: last
    got = cache.get([("car-1", 1), ("car-1", 2), ("car-1", 3)])
    assert set(got) == {("car-1", 1), ("car-1", 2)}
    assert got[("car-1", 1)].speed_kph == 51 and math.isnan(got[("car-1", 2)].accel_x_g)
    item = aws.ddb.get_item(TableName="cache", Key={"vehicle_id": {"S": "car-1"},
                                                      "seq": {"N": "1"}})["Item"]
    assert item["expires_at"]["N"] == "1600"
    assert cache.writes == 1


def test_a_crash_is_stored_once_and_its_owner_alerted_once(aws) -> None:
    aws.ddb.put_item(TableName="vehicles", Item={"vehicle_id": {"S": "car-1"},
                                                 "owner_id": {"S": "ada"},
                                                 "owner_name": {"S": "Ada"}})
    alerts = alerts_for(aws)
    window = (s(10, 71, -2.6), s(11, 28, -8.9), s(12, 0, -0.8))
    crash = alerts.record(*window, assess(*window, T))
    assert crash is not None and crash["owner_id"] == "ada" and crash["window"] == [10, 11, 12]
    assert (crash["speed_before_kph"], crash["speed_after_kph"], crash["peak_g"]) == (71, 0, 8.9)
    assert crash["location"] == {"lat": 33.5, "lon": -97.1}
    # The same candidate again (a retried batch), and a second peak 5 s later: one event.
    assert alerts.record(*window, assess(*window, T)) is None
    later = (s(15, 0, -2.0), s(16, 0, -6.0), s(17, 0, 0.0))
    assert alerts.record(*later, assess(*window, T)) is None
    (message,) = inbox(aws)
    assert message["vehicle_id"] == "car-1" and message["seq"] == 11
    assert message["next_steps"]
    items = aws.ddb.scan(TableName="crashes")["Items"]
    assert len(items) == 1 and items[0]["notified"]["BOOL"] is True


def test_a_stored_crash_whose_alert_failed_is_alerted_on_retry(aws) -> None:
    alerts = alerts_for(aws)
    window = (s(10, 71, -2.6, "car-2"), s(11, 28, -8.9, "car-2"), s(12, 0, -0.8, "car-2"))
    alerts.topic_arn = aws.topic_arn + "-missing"
    with pytest.raises(Exception, match="NotFound|does not exist"):
        alerts.record(*window, assess(*window, T))
    assert aws.ddb.scan(TableName="crashes")["Items"][0]["notified"]["BOOL"] is False
    alerts.topic_arn = aws.topic_arn
    crash = alerts.record(*window, assess(*window, T))
    assert crash is not None and crash["owner_id"] == "unregistered"
    assert [m["vehicle_id"] for m in inbox(aws)] == ["car-2"]


def test_the_filter_caches_everything_and_forwards_candidates(app, aws) -> None:
    event = json.loads((EVENTS / "telemetry_poison.json").read_text())
    cache = TelemetryCache(aws.ddb, "cache")
    response, sent = app.filter_batch(event["Records"], cache, aws.kinesis, "candidates", T,
                                      clock=lambda: 1000.0)
    assert response == {"batchItemFailures": [
        {"itemIdentifier": event["Records"][1]["kinesis"]["sequenceNumber"]}]}
    assert sent == 1  # only seq 11 (2.6 g) passes the low threshold
    assert aws.ddb.scan(TableName="cache")["Count"] == 2
    shard = aws.kinesis.describe_stream(StreamName="candidates")["StreamDescription"][
        "Shards"][0]["ShardId"]
    iterator = aws.kinesis.get_shard_iterator(StreamName="candidates", ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    (candidate,) = aws.kinesis.get_records(ShardIterator=iterator)["Records"]
    body = json.loads(candidate["Data"])
    assert body["cached_at"] == 1000.0 and body["sample"]["seq"] == 11
    assert candidate["PartitionKey"] == "car-42"


def test_confirm_judges_candidates_with_their_cached_neighbours(app, aws) -> None:
    cache = TelemetryCache(aws.ddb, "cache")
    window = [s(10, 71.2, -0.1, "car-42"), s(11, 70.9, -2.6, "car-42"),
              s(12, 28.3, -8.9, "car-42"), s(13, 0.0, -0.8, "car-42")]
    cache.put(window, cached_at=1000.0)
    event = json.loads((EVENTS / "candidates.json").read_text())
    response, alerted, reasons = app.confirm_batch(
        event["Records"] + [record(9, b"not a candidate")], cache, alerts_for(aws), T,
        wait_s=5, clock=lambda: 2000.0)
    assert response == {"batchItemFailures": [{"itemIdentifier": f"{9:056d}"}]}
    assert reasons == {"below the crash threshold": 1, "crash": 1}
    assert [a["seq"] for a in alerted] == [12]


class FakeCache:
    """X+1 becomes readable after `polls` reads of it."""

    def __init__(self, samples: dict[tuple[str, int], Sample], late: tuple[str, int],
                 polls: int) -> None:
        self.samples, self.late, self.polls, self.reads = samples, late, polls, 0

    def get(self, keys):
        self.reads += 1
        keys = list(keys)
        return {k: v for k, v in self.samples.items()
                if k in keys and (k != self.late or self.reads > self.polls)}


def test_a_missing_next_sample_is_waited_for_until_the_deadline(app) -> None:
    x = app.Candidate(s(11, 28, -8.9), cached_at=100.0)
    samples = {("car-1", 10): s(10, 71, -2.6), ("car-1", 12): s(12, 0, -0.8)}
    now = [100.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    arrives = FakeCache(samples, ("car-1", 12), polls=3)
    found = app.neighbours(arrives, [x], wait_s=5, clock=lambda: now[0], sleep=sleep)
    assert ("car-1", 12) in found and now[0] == pytest.approx(100.0 + 3 * app.POLL_S)
    now[0] = 100.0
    never = FakeCache(samples, ("car-1", 12), polls=10**6)
    found = app.neighbours(never, [x], wait_s=2, clock=lambda: now[0], sleep=sleep)
    assert ("car-1", 12) not in found and ("car-1", 10) in found
    assert now[0] == pytest.approx(102.0)
