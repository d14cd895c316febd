"""The vpn_usage scenario for `localcloud demo`, and the workload generator it shares with the
tests and the benchmark.

1. Edge servers report a generated minute-by-minute workload (POST /usage); the device usage
   the API serves afterwards equals the workload's totals exactly, and so does the data lake.
2. The same reports are sent again (a retry, and a re-send 10 minutes later): nothing changes.
3. An account crosses its free quota: it is blocked until the next cycle, and the scheduled
   re-open function opens it again at the cycle start.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

MINUTE_S = 60


class DemoContext(Protocol):
    """What `localcloud demo` hands to a scenario."""

    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def http(self, method: str, url: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]: ...

    def invoke(self, function: str, event: Any) -> Any: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


def iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Workload:
    """Edge server reports (POST /usage bodies) and the totals they must add up to."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    device_hours: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    device_days: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    account_hours: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    account_cycles: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)  # device -> account

    @property
    def entries(self) -> int:
        return sum(len(r["usage"]) for r in self.reports)

    def device_total(self, device: str) -> int:
        return sum(b_in + b_out for (d, _), (b_in, b_out) in self.device_hours.items()
                   if d == device)


def generate_workload(*, start_minute: int, minutes: int, servers: int, accounts: int,
                      devices_per_account: int = 2, seed: int = 1, prefix: str = "",
                      report_delay_s: int = 5, max_bytes: int = 2_000_000,
                      idle: float = 0.15) -> Workload:
    """A minute-by-minute workload: each device is connected to one server at a time (and
    moves now and then), idles in some minutes, and moves a random number of bytes."""
    rng = random.Random(seed)
    w = Workload()
    server_ids = [f"{prefix}edge-{i}" for i in range(servers)]
    where: dict[str, str] = {}
    for a in range(accounts):
        account = f"{prefix}acct-{a}"
        for d in range(devices_per_account):
            device = f"{prefix}dev-{a}-{d}"
            w.devices[device] = account
            where[device] = rng.choice(server_ids)
    for m in range(minutes):
        minute = start_minute + m * MINUTE_S
        per_server: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for device, account in w.devices.items():
            if rng.random() < 0.05:
                where[device] = rng.choice(server_ids)
            if rng.random() < idle:
                continue  # idle this minute: no entry
            b_in, b_out = rng.randrange(max_bytes), rng.randrange(max_bytes // 4)
            per_server[where[device]].append({"account_id": account, "device_id": device,
                                              "bytes_in": b_in, "bytes_out": b_out})
            hour, day = iso(minute - minute % 3600)[:13], iso(minute)[:10]
            for table, key in ((w.device_hours, (device, hour)), (w.device_days, (device, day)),
                               (w.account_hours, (account, hour)),
                               (w.account_cycles, (account, iso(minute)[:7]))):
                totals = table.setdefault(key, [0, 0])
                totals[0] += b_in
                totals[1] += b_out
        for server in server_ids:
            if per_server[server]:
                w.reports.append({"server_id": server, "minute": iso(minute),
                                  "reported_at": iso(minute + MINUTE_S + report_delay_s),
                                  "usage": per_server[server]})
    return w


# --- checks through the API and the lake ---------------------------------------------------


def post_reports(ctx: DemoContext, base: str, reports: list[dict[str, Any]]) -> None:
    for report in reports:
        status, body = ctx.http("POST", base + "usage", report)
        if status != 202:
            raise AssertionError(f"POST /usage answered {status}: {body}")


def device_hours_via_api(ctx: DemoContext, base: str, device: str) -> dict[str, list[int]]:
    status, body = ctx.http("GET", f"{base}devices/{device}/usage?granularity=hour")
    if status == 404:
        return {}
    if status != 200:
        raise AssertionError(f"GET devices/{device}/usage answered {status}: {body}")
    return {row["hour"][:13]: [row["bytes_in"], row["bytes_out"]] for row in body["usage"]}


def wait_for_device_totals(ctx: DemoContext, base: str, workload: Workload,
                           timeout: float = 60.0) -> None:
    """Until the API serves every device's hourly usage exactly as generated."""
    expected: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for (device, hour), totals in workload.device_hours.items():
        expected[device][hour] = totals
    pending = dict(expected)

    def check() -> bool:
        for device in list(pending):
            if device_hours_via_api(ctx, base, device) == pending[device]:
                del pending[device]
        return not pending

    ctx.wait_for(f"hourly usage of {len(expected)} devices to match the workload", check,
                 timeout=timeout, every=0.5)


def lake_totals(s3: Any, bucket: str, dataset: str, key_fields: tuple[str, ...],
                only: set[str] | None = None) -> dict[tuple[str, ...], list[int]]:
    """Summed bytes per key over every object of a lake dataset (rows of `only` ids)."""
    totals: dict[tuple[str, ...], list[int]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                              Prefix=dataset + "/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            for line in body.splitlines():
                row = json.loads(line)
                if only is not None and row[key_fields[0]] not in only:
                    continue
                key = tuple(row[f] for f in key_fields)
                t = totals.setdefault(key, [0, 0])
                t[0] += row["bytes_in"]
                t[1] += row["bytes_out"]
    return totals


def check_lake(s3: Any, bucket: str, workload: Workload, timeout: float = 30.0) -> None:
    """The lake holds exactly the workload's totals; a batch writes its lake objects after its
    DynamoDB rows, so the last batch's may still be on their way: retried until `timeout`."""
    deadline = time.time() + timeout
    while True:
        try:
            _check_lake_once(s3, bucket, workload)
            return
        except AssertionError:
            if time.time() >= deadline:
                raise
            time.sleep(0.5)


def _check_lake_once(s3: Any, bucket: str, workload: Workload) -> None:
    devices, accounts = set(workload.devices), set(workload.devices.values())
    checks = (
        ("device_hourly", ("device_id", "hour"), workload.device_hours, devices),
        ("device_daily", ("device_id", "date"), workload.device_days, devices),
        ("account_hourly", ("account_id", "hour"), workload.account_hours, accounts),
    )
    for dataset, fields, expected, only in checks:
        got = lake_totals(s3, bucket, dataset, fields, only)
        if dataset != "device_daily":  # hours are "YYYY-MM-DDTHH" in the lake as well
            got = {(k[0], k[1][:13]): v for k, v in got.items()}
        if got != expected:
            missing = {k for k in expected if got.get(k) != expected[k]}
            raise AssertionError(f"lake {dataset} differs from the workload for "
                                 f"{len(missing)} key(s), e.g. {sorted(missing)[:3]}")


def account_via_api(ctx: DemoContext, base: str, account: str) -> dict[str, Any] | None:
    """The account as GET accounts/{id} shows it; None while it is unknown (404)."""
    status, body = ctx.http("GET", f"{base}accounts/{account}")
    if status == 404:
        return None
    if status != 200:
        raise AssertionError(f"GET accounts/{account} answered {status}: {body}")
    return body


def run(ctx: DemoContext) -> None:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    base = ctx.outputs.get("ApiUrl")
    if not base:
        raise AssertionError("stack output ApiUrl is missing")
    base = base if base.endswith("/") else base + "/"
    prefix = f"demo{uuid.uuid4().hex[:6]}-"
    now = int(time.time())
    start = now - now % 3600 - 2 * 3600 + 30 * MINUTE_S  # 90 minutes over three hours
    workload = generate_workload(start_minute=start, minutes=90, servers=2, accounts=4,
                                 prefix=prefix, seed=7)
    ctx.step(f"posting {len(workload.reports)} edge reports ({workload.entries} device-minutes "
             f"of {len(workload.devices)} devices, 90 minutes)")
    post_reports(ctx, base, workload.reports)
    wait_for_device_totals(ctx, base, workload)
    ctx.step("GET devices/{id}/usage matches the workload hour by hour for every device")
    check_lake(ctx.client("s3"), ctx.outputs["LakeBucketName"], workload)
    ctx.step("the data lake's device_hourly, device_daily and account_hourly rows add up too")

    # Duplicates: the same reports again, once as a retry and once re-sent 10 minutes later.
    device = sorted(workload.devices)[0]
    before = sum(sum(v) for v in device_hours_via_api(ctx, base, device).values())
    resent = [{**r, "reported_at": iso(int(datetime.fromisoformat(
        r["reported_at"].replace("Z", "+00:00")).timestamp()) + 600)} for r in workload.reports]
    marker = generate_workload(start_minute=start, minutes=1, servers=1, accounts=1,
                               prefix=prefix + "marker-", seed=8, idle=0.0)
    post_reports(ctx, base, workload.reports[:40] + resent[:40] + marker.reports)
    wait_for_device_totals(ctx, base, marker)  # the stream is in order: all before it is done
    after = sum(sum(v) for v in device_hours_via_api(ctx, base, device).values())
    if after != before:
        raise AssertionError(f"duplicates were counted: {device} went from {before} to {after}")
    wait_for_device_totals(ctx, base, workload, timeout=1.0)  # every device still exact
    ctx.step(f"80 duplicate reports (retry, re-send after 10 min) dropped: {device} still "
             f"{after} bytes, every device still exact")

    # Quota: one account goes over it in the current cycle.
    heavy = f"{prefix}heavy"
    minute = now - now % MINUTE_S - 2 * MINUTE_S
    post_reports(ctx, base, [{"server_id": f"{prefix}edge-0", "minute": iso(minute),
                              "usage": [{"account_id": heavy, "device_id": f"{heavy}-laptop",
                                         "bytes_in": 400 * 2**20, "bytes_out": 200 * 2**20}]}])
    def blocked() -> dict[str, Any] | None:
        view = account_via_api(ctx, base, heavy)
        return view if view and view["status"] == "blocked" else None

    view = ctx.wait_for(f"{heavy} to be blocked", blocked, timeout=60)
    ctx.step(f"{heavy} used {view['cycle']['usage_bytes']} of {view['cycle']['quota_bytes']} "
             f"bytes: blocked until {view['blocked_until']}")
    opened = ctx.invoke("ReopenFunction", {"source": "aws.events", "time": view["blocked_until"],
                                           "detail-type": "Scheduled Event", "detail": {}})
    if heavy not in opened["reopened"]:
        raise AssertionError(f"the re-open run at {view['blocked_until']} did not open {heavy}")
    status = (account_via_api(ctx, base, heavy) or {}).get("status")
    if status != "active":
        raise AssertionError(f"{heavy} is {status} after the cycle start, expected active")
    ctx.step(f"the scheduled run at the cycle start re-opened it: status {status}")
