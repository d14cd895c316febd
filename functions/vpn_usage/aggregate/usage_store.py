"""Where a batch's counted usage goes: DynamoDB (device-hours, accounts), S3 (the data lake)
and the limit queue. One write per distinct key per batch; the device-hour row is the authority
on what was counted, so it is written first and everything else follows what it accepted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from usage_aggregation import (
    Aggregates,
    Usage,
    aggregate,
    group_by_device_hour,
    iso_hour,
    lake_rows,
    next_cycle_start,
    select_new,
)

BATCH_GET_MAX = 100  # keys per BatchGetItem
SQS_BATCH_MAX = 10
COMMIT_ATTEMPTS = 3  # optimistic retries of one device-hour against a concurrent writer


class ConcurrentUpdate(RuntimeError):
    """A device-hour row kept changing under us; the batch is retried (and deduplicated)."""


@dataclass(frozen=True)
class Settings:
    device_table: str
    accounts_table: str
    lake_bucket: str
    limit_queue_url: str
    duplicate_window_s: int = 50 * 60
    quota_bytes: int = 500 * 1024 * 1024
    device_ttl_days: int = 35
    account_ttl_days: int = 400


@dataclass
class Counters:
    """AWS calls made, for metrics and the benchmark."""

    dynamodb_reads: int = 0  # BatchGetItem/GetItem calls
    dynamodb_writes: int = 0  # UpdateItem calls
    s3_puts: int = 0
    sqs_sends: int = 0


@dataclass
class BatchResult:
    counted: list[Usage] = field(default_factory=list)
    dropped: list[Usage] = field(default_factory=list)
    aggregates: Aggregates = field(default_factory=Aggregates)
    over_quota: list[dict[str, Any]] = field(default_factory=list)
    lake_keys: list[str] = field(default_factory=list)


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class UsageStore:
    """DynamoDB, S3 and SQS writes of the aggregation function (clients are injected)."""

    def __init__(self, dynamodb: Any, s3: Any, sqs: Any, settings: Settings,
                 clock: Callable[[], float] = time.time) -> None:
        self.ddb = dynamodb
        self.s3 = s3
        self.sqs = sqs
        self.settings = settings
        self.clock = clock
        self.counters = Counters()

    # --- device-hours: the deduplicating authority ----------------------------------------
    def read_device_hours(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int],
                                                                         tuple[dict[str, int],
                                                                               int]]:
        """(stamps, version) of each existing device-hour row, read consistently."""
        wanted = [{"device_id": {"S": d}, "hour": {"S": iso_hour(h)}} for d, h in keys]
        by_text = {(d, iso_hour(h)): (d, h) for d, h in keys}
        found: dict[tuple[str, int], tuple[dict[str, int], int]] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            request: dict[str, Any] = {self.settings.device_table: {
                "Keys": wanted[start:start + BATCH_GET_MAX], "ConsistentRead": True,
                "ProjectionExpression": "device_id, #h, stamps, version",
                "ExpressionAttributeNames": {"#h": "hour"}}}
            delay = 0.05
            while request:
                self.counters.dynamodb_reads += 1
                out = self.ddb.batch_get_item(RequestItems=request)
                for item in out.get("Responses", {}).get(self.settings.device_table, []):
                    key = by_text[(item["device_id"]["S"], item["hour"]["S"])]
                    found[key] = _stamps_and_version(item)
                request = out.get("UnprocessedKeys") or {}
                if request:  # throttled: back off, as the SDK does for whole calls
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
        return found

    def _read_device_hour(self, device: str, hour: int) -> tuple[dict[str, int], int] | None:
        self.counters.dynamodb_reads += 1
        item = self.ddb.get_item(
            TableName=self.settings.device_table, ConsistentRead=True,
            Key={"device_id": {"S": device}, "hour": {"S": iso_hour(hour)}},
        ).get("Item")
        return _stamps_and_version(item) if item else None

    def commit_device_hour(self, device: str, hour: int, usages: list[Usage],
                           known: tuple[dict[str, int], int] | None
                           ) -> tuple[list[Usage], list[Usage]]:
        """Count the new usages of one device-hour in one conditional write.

        The write carries the new stamps and is conditional on the version read, so a
        concurrent writer makes it fail instead of double counting; then the row is read again
        and the duplicates decided afresh. Returns (counted, dropped).
        """
        s = self.settings
        for _ in range(COMMIT_ATTEMPTS):
            stamps, version = known or ({}, 0)
            counted, dropped, after = select_new(usages, stamps, s.duplicate_window_s)
            if not counted:
                return [], dropped
            now = int(self.clock())
            values = {
                ":st": {"M": {k: _n(v) for k, v in after.items()}},
                ":acc": {"S": counted[-1].account_id},
                ":next": _n(version + 1),
                ":now": _n(now),
                ":exp": _n(hour + s.device_ttl_days * 86400),
                ":bi": _n(sum(u.bytes_in for u in counted)),
                ":bo": _n(sum(u.bytes_out for u in counted)),
                ":rc": _n(len(counted)),
            }
            if version:
                condition = "version = :ver"
                values[":ver"] = _n(version)
            else:
                condition = "attribute_not_exists(device_id)"
            try:
                self.counters.dynamodb_writes += 1
                self.ddb.update_item(
                    TableName=s.device_table,
                    Key={"device_id": {"S": device}, "hour": {"S": iso_hour(hour)}},
                    UpdateExpression=("SET stamps = :st, account_id = :acc, version = :next, "
                                      "updated_at = :now, expires_at = :exp "
                                      "ADD bytes_in :bi, bytes_out :bo, records :rc"),
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                )
                return counted, dropped
            except ClientError as err:
                if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                known = self._read_device_hour(device, hour)
        raise ConcurrentUpdate(f"device-hour {device} {iso_hour(hour)} kept changing")

    # --- accounts -------------------------------------------------------------------------
    def add_account_hour(self, account: str, hour: int, bytes_in: int, bytes_out: int,
                         records: int) -> None:
        self.counters.dynamodb_writes += 1
        self.ddb.update_item(
            TableName=self.settings.accounts_table,
            Key={"account_id": {"S": account}, "sk": {"S": f"hour#{iso_hour(hour)}"}},
            UpdateExpression="SET expires_at = :exp ADD bytes_in :bi, bytes_out :bo, records :rc",
            ExpressionAttributeValues={
                ":exp": _n(hour + self.settings.account_ttl_days * 86400),
                ":bi": _n(bytes_in), ":bo": _n(bytes_out), ":rc": _n(records)},
        )

    def add_account_cycle(self, account: str, cycle: str, bytes_in: int, bytes_out: int,
                          records: int) -> dict[str, Any]:
        """Add to the account's cycle total; returns the row after the update."""
        self.counters.dynamodb_writes += 1
        out = self.ddb.update_item(
            TableName=self.settings.accounts_table,
            Key={"account_id": {"S": account}, "sk": {"S": f"cycle#{cycle}"}},
            UpdateExpression=("SET expires_at = :exp "
                              "ADD bytes_in :bi, bytes_out :bo, #b :b, records :rc"),
            ExpressionAttributeNames={"#b": "bytes"},
            ExpressionAttributeValues={
                ":exp": _n(int(next_cycle_start(cycle).timestamp())
                           + self.settings.account_ttl_days * 86400),
                ":bi": _n(bytes_in), ":bo": _n(bytes_out), ":b": _n(bytes_in + bytes_out),
                ":rc": _n(records)},
            ReturnValues="ALL_NEW",
        )
        return out["Attributes"]

    def mark_cutoff_requested(self, account: str, cycle: str) -> None:
        self.counters.dynamodb_writes += 1
        self.ddb.update_item(
            TableName=self.settings.accounts_table,
            Key={"account_id": {"S": account}, "sk": {"S": f"cycle#{cycle}"}},
            UpdateExpression="SET cutoff_requested = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )

    def request_cutoffs(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send cutoff requests to the limit queue; returns those that were sent."""
        sent: list[dict[str, Any]] = []
        for start in range(0, len(requests), SQS_BATCH_MAX):
            chunk = requests[start:start + SQS_BATCH_MAX]
            self.counters.sqs_sends += 1
            out = self.sqs.send_message_batch(
                QueueUrl=self.settings.limit_queue_url,
                Entries=[{"Id": str(i), "MessageBody": json.dumps(r)}
                         for i, r in enumerate(chunk)])
            ok = {int(e["Id"]) for e in out.get("Successful", [])}
            sent.extend(r for i, r in enumerate(chunk) if i in ok)
        return sent

    # --- the data lake --------------------------------------------------------------------
    def write_lake(self, aggregates: Aggregates, batch_id: str) -> list[str]:
        """One JSON-lines object per (dataset, date), keyed by the batch so a rewrite
        replaces it. Returns the keys written."""
        keys = []
        for (dataset, date), rows in sorted(lake_rows(aggregates).items()):
            key = f"{dataset}/date={date}/{batch_id}.jsonl"
            body = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
            self.counters.s3_puts += 1
            self.s3.put_object(Bucket=self.settings.lake_bucket, Key=key, Body=body.encode(),
                               ContentType="application/x-ndjson")
            keys.append(key)
        return keys

    # --- a whole batch --------------------------------------------------------------------
    def process(self, usages: list[Usage], batch_id: str,
                on_derived_error: Callable[[str, Exception, Any], None] | None = None
                ) -> BatchResult:
        """Count a batch's usages (in stream order) into every sink.

        Device-hours first: they decide what is counted. A failure there raises, and the
        retried batch finds what was already counted in the stamps. What follows (accounts,
        limit checks, the lake) only sees counted usage; a failure there is reported to
        `on_derived_error` with the rows it concerned and does not fail the batch, because a
        retry would find every usage already counted and add nothing (undercount, never
        overcount).
        """
        result = BatchResult()
        groups = group_by_device_hour(usages)
        known = self.read_device_hours(list(groups))
        for (device, hour), group in groups.items():
            counted, dropped = self.commit_device_hour(device, hour, group,
                                                       known.get((device, hour)))
            result.counted.extend(counted)
            result.dropped.extend(dropped)
        result.aggregates = aggregate(result.counted)
        report = on_derived_error or _raise
        for (account, hour), t in result.aggregates.account_hours.items():
            try:
                self.add_account_hour(account, hour, t.bytes_in, t.bytes_out, t.records)
            except ClientError as err:
                report("account_hour", err, {"account_id": account, "hour": iso_hour(hour),
                                             "bytes_in": t.bytes_in, "bytes_out": t.bytes_out})
        over: list[dict[str, Any]] = []
        for (account, cycle), t in result.aggregates.account_cycles.items():
            try:
                row = self.add_account_cycle(account, cycle, t.bytes_in, t.bytes_out,
                                             t.records)
            except ClientError as err:
                report("account_cycle", err, {"account_id": account, "cycle": cycle,
                                              "bytes_in": t.bytes_in, "bytes_out": t.bytes_out})
                continue
            total = int(row["bytes"]["N"])
            already = row.get("cutoff_requested", {}).get("BOOL", False)
            if total >= self.settings.quota_bytes and not already:
                over.append({"account_id": account, "cycle": cycle, "usage_bytes": total,
                             "quota_bytes": self.settings.quota_bytes,
                             "blocked_until": next_cycle_start(cycle).isoformat()})
        if over:
            try:
                sent = self.request_cutoffs(over)
            except ClientError as err:
                report("cutoff_request", err, over)
                sent = []
            for request in sent:
                try:
                    self.mark_cutoff_requested(request["account_id"], request["cycle"])
                except ClientError as err:  # the request is repeated later: harmless
                    report("cutoff_flag", err, request)
            result.over_quota = sent
        if result.counted:
            try:
                result.lake_keys = self.write_lake(result.aggregates, batch_id)
            except ClientError as err:
                report("lake", err, lake_rows(result.aggregates))
        return result


def _raise(sink: str, err: Exception, rows: Any) -> None:
    raise err


def _stamps_and_version(item: dict[str, Any]) -> tuple[dict[str, int], int]:
    stamps = {k: int(v["N"]) for k, v in item.get("stamps", {}).get("M", {}).items()}
    return stamps, int(item.get("version", {}).get("N", "0"))
