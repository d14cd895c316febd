"""Usage records, duplicate detection and per-batch aggregation (no AWS here).

A usage record is one device's traffic for one minute as one edge server saw it; its identity
(the "usage item") is (device, server, minute). Each device-hour row in DynamoDB keeps, per usage
item it counted, the report time of the copy it counted (the seed's "update timestamp"). A copy
of an item reported less than the duplicate window after the counted one is a duplicate and is
dropped; one reported later is counted. An older copy (negative difference) is dropped too:
undercounting is acceptable, overcounting is not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

HOUR_S = 3600
DAY_S = 86400
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Bytes one device can move in a minute through one server: far above any link speed, so only
# a corrupt record exceeds it (and would otherwise block an account).
MAX_BYTES_PER_MINUTE = 10**12
FIELDS = ("account_id", "device_id", "server_id", "minute", "reported_at", "bytes_in",
          "bytes_out")


class BadRecord(ValueError):
    """A stream record that is not a usage record; it can never succeed (a poison record)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """One device's usage for one minute, as reported by one edge server."""

    account_id: str
    device_id: str
    server_id: str
    minute: int  # epoch seconds, a whole minute: the start of the minute the usage covers
    reported_at: int  # epoch seconds: when the edge server reported it
    bytes_in: int
    bytes_out: int

    @property
    def item_id(self) -> str:
        """The usage item within its device-hour row: server and minute."""
        return f"{self.server_id}|{self.minute}"

    @property
    def hour(self) -> int:
        return self.minute - self.minute % HOUR_S

    @property
    def day(self) -> int:
        return self.minute - self.minute % DAY_S

    def to_json(self) -> str:
        """The stream record's data (what the ingest function writes to Kinesis)."""
        return json.dumps({name: getattr(self, name) for name in FIELDS}, separators=(",", ":"))


def _int(obj: Mapping[str, Any], name: str, minimum: int, maximum: int) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRecord(f"{name} must be an integer")
    if not minimum <= value <= maximum:
        raise BadRecord(f"{name}={value} is outside [{minimum}, {maximum}]")
    return value


def _id(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise BadRecord(f"{name} must match {ID_PATTERN.pattern}")
    return value


def parse_usage(data: bytes | str) -> Usage:
    """A Usage from a stream record's data; BadRecord when it is not one."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRecord(f"not JSON: {err}") from err
    if not isinstance(obj, dict):
        raise BadRecord("not a JSON object")
    minute = _int(obj, "minute", 0, 2**40)
    if minute % 60:
        raise BadRecord(f"minute={minute} is not the start of a minute")
    return Usage(
        account_id=_id(obj, "account_id"),
        device_id=_id(obj, "device_id"),
        server_id=_id(obj, "server_id"),
        minute=minute,
        reported_at=_int(obj, "reported_at", minute, 2**40),
        bytes_in=_int(obj, "bytes_in", 0, MAX_BYTES_PER_MINUTE),
        bytes_out=_int(obj, "bytes_out", 0, MAX_BYTES_PER_MINUTE),
    )


# --- duplicates ---------------------------------------------------------------------------


def select_new(
    usages: Iterable[Usage], stamps: Mapping[str, int], window_s: int
) -> tuple[list[Usage], list[Usage], dict[str, int]]:
    """Split one device-hour's usages (in stream order) into counted and dropped.

    `stamps` maps usage items already counted to the report time of the counted copy. Returns
    (counted, dropped, the stamps after counting); `stamps` itself is not changed.
    """
    after = dict(stamps)
    counted: list[Usage] = []
    dropped: list[Usage] = []
    for usage in usages:
        previous = after.get(usage.item_id)
        if previous is not None and usage.reported_at - previous < window_s:
            dropped.append(usage)
            continue
        after[usage.item_id] = usage.reported_at
        counted.append(usage)
    return counted, dropped, after


# --- aggregation --------------------------------------------------------------------------


@dataclass(slots=True)
class Totals:
    """Summed usage of one aggregate key."""

    bytes_in: int = 0
    bytes_out: int = 0
    records: int = 0
    devices: set[str] = field(default_factory=set)

    def add(self, usage: Usage) -> None:
        self.bytes_in += usage.bytes_in
        self.bytes_out += usage.bytes_out
        self.records += 1
        self.devices.add(usage.device_id)

    @property
    def bytes(self) -> int:
        return self.bytes_in + self.bytes_out


DeviceHourKey = tuple[str, int]  # (device_id, hour)


def group_by_device_hour(usages: Iterable[Usage]) -> dict[DeviceHourKey, list[Usage]]:
    """Usages per (device, hour), stream order kept within each group."""
    groups: dict[DeviceHourKey, list[Usage]] = {}
    for usage in usages:
        groups.setdefault((usage.device_id, usage.hour), []).append(usage)
    return groups


def cycle_of(epoch_s: int) -> str:
    """The free-usage cycle (a calendar month, UTC) an instant falls in: "YYYY-MM"."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m")


def next_cycle_start(cycle: str) -> datetime:
    """The first instant after `cycle` ("YYYY-MM"): when a blocked account re-opens."""
    year, month = (int(part) for part in cycle.split("-"))
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Aggregates:
    """What one batch's counted usage adds to each sink, one entry per distinct key."""

    device_hours: dict[tuple[str, str, int], Totals] = field(default_factory=dict)
    device_days: dict[tuple[str, str, int], Totals] = field(default_factory=dict)
    account_hours: dict[tuple[str, int], Totals] = field(default_factory=dict)
    account_cycles: dict[tuple[str, str], Totals] = field(default_factory=dict)


def aggregate(usages: Iterable[Usage]) -> Aggregates:
    """Sum counted usages per device-hour, device-day, account-hour and account-cycle."""
    out = Aggregates()
    for u in usages:
        for table, key in (
            (out.device_hours, (u.device_id, u.account_id, u.hour)),
            (out.device_days, (u.device_id, u.account_id, u.day)),
            (out.account_hours, (u.account_id, u.hour)),
            (out.account_cycles, (u.account_id, cycle_of(u.minute))),
        ):
            totals = table.get(key)
            if totals is None:
                totals = table[key] = Totals()
            totals.add(u)
    return out


def iso_hour(epoch_s: int) -> str:
    """"YYYY-MM-DDTHH" (UTC): the device table's sort key, in time order as text."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H")


def iso_date(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d")


def lake_rows(aggregates: Aggregates) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Data lake rows per (dataset, date): device_hourly, device_daily and account_hourly."""
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def put(dataset: str, epoch_s: int, row: dict[str, Any], totals: Totals) -> None:
        row.update(bytes_in=totals.bytes_in, bytes_out=totals.bytes_out, records=totals.records)
        rows.setdefault((dataset, iso_date(epoch_s)), []).append(row)

    for (device, account, hour), totals in aggregates.device_hours.items():
        put("device_hourly", hour, {"device_id": device, "account_id": account,
                                    "hour": iso_hour(hour)}, totals)
    for (device, account, day), totals in aggregates.device_days.items():
        put("device_daily", day, {"device_id": device, "account_id": account,
                                   "date": iso_date(day)}, totals)
    for (account, hour), totals in aggregates.account_hours.items():
        put("account_hourly", hour, {"account_id": account, "hour": iso_hour(hour),
                                     "devices": len(totals.devices)}, totals)
    return rows
