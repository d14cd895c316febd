"""The short-lived telemetry cache (DynamoDB with TTL) and the crash store + owner alerts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from crash_telemetry import Sample, Verdict, sample_from

BATCH_WRITE_MAX = 25
BATCH_GET_MAX = 100
ATTEMPTS = 8

Key = tuple[str, int]  # (vehicle_id, seq)


class StillUnprocessed(RuntimeError):
    """DynamoDB kept items unprocessed (throttling) after every attempt."""


def iso_ms(ts_ms: int) -> str:
    """Sortable UTC time with milliseconds: "2026-05-01T10:05:03.120Z"."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class TelemetryCache:
    """Recent samples by (vehicle, seq); each kept for `ttl_s` (TTL removes it later)."""

    def __init__(self, ddb: Any, table: str, ttl_s: int = 900,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.ddb, self.table, self.ttl_s, self.sleep = ddb, table, ttl_s, sleep
        self.writes = 0

    def put(self, samples: Iterable[Sample], cached_at: float) -> None:
        # The sample is stored as its JSON text: a glitching sensor's NaN is no DynamoDB number.
        latest = {(s.vehicle_id, s.seq): s for s in samples}
        items = [{"vehicle_id": {"S": v}, "seq": {"N": str(q)},
                  "sample": {"S": json.dumps(s.to_dict())},
                  "cached_at": {"N": repr(cached_at)},
                  "expires_at": {"N": str(int(cached_at) + self.ttl_s)}}
                 for (v, q), s in latest.items()]
        for start in range(0, len(items), BATCH_WRITE_MAX):
            pending: dict[str, Any] = {self.table: [
                {"PutRequest": {"Item": item}} for item in items[start:start + BATCH_WRITE_MAX]]}
            for attempt in range(ATTEMPTS):
                if attempt:
                    self.sleep(min(0.05 * 2 ** attempt, 2.0))
                self.writes += 1
                pending = self.ddb.batch_write_item(RequestItems=pending).get(
                    "UnprocessedItems") or {}
                if not pending:
                    break
            if pending:
                raise StillUnprocessed("telemetry cache writes kept failing")

    def get(self, keys: Iterable[Key]) -> dict[Key, Sample]:
        """The cached samples among `keys` (consistent reads; absent keys are left out)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[Key, Sample] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            request: dict[str, Any] = {self.table: {
                "Keys": [{"vehicle_id": {"S": v}, "seq": {"N": str(q)}}
                         for v, q in wanted[start:start + BATCH_GET_MAX]],
                "ConsistentRead": True, "ProjectionExpression": "#s",
                "ExpressionAttributeNames": {"#s": "sample"}}}  # SAMPLE is a reserved word
            for attempt in range(ATTEMPTS):
                if attempt:
                    self.sleep(min(0.05 * 2 ** attempt, 2.0))
                out = self.ddb.batch_get_item(RequestItems=request)
                for item in out.get("Responses", {}).get(self.table, []):
                    sample = sample_from(json.loads(item["sample"]["S"]))
                    found[(sample.vehicle_id, sample.seq)] = sample
                request = out.get("UnprocessedKeys") or {}
                if not request:
                    break
            if request:
                raise StillUnprocessed("telemetry cache reads kept failing")
        return found


class CrashAlerts:
    """Confirmed crashes: stored once per event, their owner alerted once (SNS)."""

    def __init__(self, ddb: Any, sns: Any, crashes_table: str, vehicles_table: str,
                 topic_arn: str, dedup_s: int = 120) -> None:
        self.ddb, self.sns = ddb, sns
        self.crashes_table, self.vehicles_table = crashes_table, vehicles_table
        self.topic_arn, self.dedup_s = topic_arn, dedup_s

    def _owner(self, vehicle_id: str) -> dict[str, str]:
        item = self.ddb.get_item(TableName=self.vehicles_table,
                                 Key={"vehicle_id": {"S": vehicle_id}}).get("Item") or {}
        return {"owner_id": item.get("owner_id", {}).get("S", "unregistered"),
                "owner_name": item.get("owner_name", {}).get("S", "")}

    def _nearby(self, x: Sample) -> dict[str, Any] | None:
        """A crash of the same vehicle within the dedup window: the same event."""
        out = self.ddb.query(
            TableName=self.crashes_table, ConsistentRead=True, Limit=1,
            KeyConditionExpression="vehicle_id = :v AND crash_at BETWEEN :a AND :b",
            ExpressionAttributeValues={":v": {"S": x.vehicle_id},
                                       ":a": {"S": iso_ms(x.ts_ms - self.dedup_s * 1000)},
                                       ":b": {"S": iso_ms(x.ts_ms + self.dedup_s * 1000)}})
        return out["Items"][0] if out.get("Items") else None

    def record(self, prev: Sample | None, x: Sample, nxt: Sample | None,
               verdict: Verdict) -> dict[str, Any] | None:
        """Store the crash and alert the owner; None when this event was alerted already."""
        existing = self._nearby(x)
        if existing is not None and existing.get("notified", {}).get("BOOL"):
            return None
        if existing is None:
            owner = self._owner(x.vehicle_id)
            crash = {
                "vehicle_id": x.vehicle_id, "crash_at": iso_ms(x.ts_ms), "seq": x.seq,
                "peak_g": round(x.g, 2), "speed_before_kph": round(verdict.speed_before_kph, 1),
                "speed_after_kph": round(verdict.speed_after_kph, 1),
                "window": [s.seq for s in (prev, x, nxt) if s is not None], **owner,
            }
            if x.lat is not None and x.lon is not None:
                crash["location"] = {"lat": x.lat, "lon": x.lon}
            item = {"vehicle_id": {"S": x.vehicle_id}, "crash_at": {"S": crash["crash_at"]},
                    "detail": {"S": json.dumps(crash)}, "notified": {"BOOL": False}}
            try:
                self.ddb.put_item(TableName=self.crashes_table, Item=item,
                                  ConditionExpression="attribute_not_exists(vehicle_id)")
            except ClientError as err:
                if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        else:
            item = existing
            crash = json.loads(existing["detail"]["S"])
        self.sns.publish(
            TopicArn=self.topic_arn, Subject=f"Collision detected: {crash['vehicle_id']}",
            Message=json.dumps({**crash, "next_steps": [
                "Check that everyone is safe; call emergency services if needed.",
                "Document the scene and the damage in the app.",
                "Start an insurance claim and choose a repair shop."]}),
            MessageAttributes={
                "owner_id": {"DataType": "String", "StringValue": crash["owner_id"]},
                "vehicle_id": {"DataType": "String", "StringValue": crash["vehicle_id"]}})
        self.ddb.update_item(TableName=self.crashes_table,
                             Key={"vehicle_id": item["vehicle_id"], "crash_at": item["crash_at"]},
                             UpdateExpression="SET notified = :t",
                             ExpressionAttributeValues={":t": {"BOOL": True}})
        return crash
