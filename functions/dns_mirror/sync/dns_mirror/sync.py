"""One sync of one zone: the seed's algorithm with its edge cases made explicit.

1. Ask the master for its SOA serial (one TCP query) and read the first page of the hosted
   zone, which holds the apex SOA: that gives the mirrored serial and the zone's origin.
2. Same serial: nothing to do ("in_sync", one Route 53 call). Route 53 newer than the master
   (RFC 1982 serial arithmetic): refuse and report ("refused").
3. Otherwise AXFR the zone, read the remaining pages, diff, and apply the changes in as few
   batches as the API limits allow. The SOA serial update rides at the end of the last batch,
   so it lands only when every change did; after a failed batch the serial stays old and the
   next run compares everything again and converges.

No Route 53 change is made before the master's whole zone is in hand: a failed or refused
transfer, an unknown zone or a zone whose origin is not Domain leaves the hosted zone untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import ZoneConfig
from .master import Master, MasterError
from .plan import CREATE, DELETE, UPSERT, Change, batches, diff
from .records import name_key
from .route53 import HostedZone, Route53Error, Snapshot, soa_with_serial

SERIAL_BITS = 32


def serial_newer(a: int, b: int) -> bool:
    """True when serial `a` is newer than `b` under RFC 1982 (32-bit wrap-around)."""
    half = 2 ** (SERIAL_BITS - 1)
    return a != b and ((a < b and b - a > half) or (a > b and a - b < half))


@dataclass
class SyncResult:
    """What the operator reads: returned by the function and logged."""

    zone: str
    zone_id: str
    status: str = "error"  # synced | in_sync | refused | partial | error
    message: str = ""
    master_serial: int | None = None
    previous_serial: int | None = None
    serial: int | None = None  # the serial Route 53 holds after this run
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    ttl_only_ignored: int = 0
    skipped_types: dict[str, int] = field(default_factory=dict)
    unmanaged: int = 0
    master_rrsets: int = 0
    route53_rrsets: int = 0
    batches: int = 0
    batches_applied: int = 0
    not_applied: int = 0
    route53_calls: dict[str, int] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    duration_ms: float = 0.0
    error: dict[str, str] | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("error", "partial", "refused")

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.deleted

    def fail(self, kind: str, message: str, status: str = "error") -> SyncResult:
        self.status = status
        self.message = message
        self.error = {"type": kind, "message": message}
        return self

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items()}
        if out["error"] is None:
            del out["error"]
        return out


class Stopwatch:
    def __init__(self, timings: dict[str, float], clock: Callable[[], float]) -> None:
        self.timings = timings
        self.clock = clock

    def __call__(self, phase: str) -> _Phase:
        return _Phase(self, phase)


class _Phase:
    def __init__(self, watch: Stopwatch, phase: str) -> None:
        self.watch, self.phase = watch, phase

    def __enter__(self) -> None:
        self.t0 = self.watch.clock()

    def __exit__(self, *exc: object) -> None:
        elapsed = (self.watch.clock() - self.t0) * 1000
        self.watch.timings[self.phase] = round(self.watch.timings.get(self.phase, 0) + elapsed, 1)


def sync_zone(cfg: ZoneConfig, zone: HostedZone, master: Master, *,
              axfr_lifetime: float | None = None,
              clock: Callable[[], float] = time.perf_counter) -> SyncResult:
    """Mirror the master's zone into the hosted zone; never raises for an operational error."""
    result = SyncResult(zone=cfg.domain_text, zone_id=cfg.zone_id)
    watch = Stopwatch(result.timings_ms, clock)
    started = clock()
    try:
        _sync(cfg, zone, master, result, watch, axfr_lifetime)
    except MasterError as exc:
        result.fail(exc.kind, str(exc))
    except Route53Error as exc:
        result.fail(exc.kind, str(exc))
    result.duration_ms = round((clock() - started) * 1000, 1)
    return result


def _sync(cfg: ZoneConfig, zone: HostedZone, master: Master, result: SyncResult,
          watch: Stopwatch, axfr_lifetime: float | None) -> None:
    with watch("master_soa"):
        master_soa = master.serial()
    result.master_serial = master_soa.serial

    snapshot = Snapshot()
    pages = zone.pages()
    with watch("route53_read"):
        for page in pages:  # normally one page: the apex (SOA included) sorts first
            snapshot.pages += 1
            for item in page:
                snapshot.add(item)
            if snapshot.soa is not None:
                break
    if snapshot.soa is None:
        result.fail("BadZone", f"hosted zone {cfg.zone_id} has no SOA record")
        return
    if snapshot.origin != name_key(cfg.domain):
        result.fail("ZoneMismatch", f"hosted zone {cfg.zone_id} is {snapshot.origin}, not "
                                    f"{cfg.domain_text}: nothing changed")
        return
    r53_serial = snapshot.serial
    previous = cfg.zone_serial if cfg.zone_serial is not None else r53_serial
    result.previous_serial = previous
    result.serial = r53_serial
    if not _proceed(result, master_soa.serial, previous, cfg):
        return

    with watch("axfr"):
        transfer = master.transfer(lifetime=axfr_lifetime)
    result.master_serial = transfer.soa.serial
    result.skipped_types = dict(sorted(transfer.skipped.items()))
    result.master_rrsets = len(transfer.rrsets)
    if not _proceed(result, transfer.soa.serial, previous, cfg):
        return

    with watch("route53_read"):
        for page in pages:
            snapshot.pages += 1
            for item in page:
                snapshot.add(item)
    result.route53_rrsets = len(snapshot.rrsets)
    result.unmanaged = snapshot.unmanaged

    with watch("diff"):
        plan = diff(transfer.rrsets, snapshot.rrsets, cfg.ignore_ttl)
        del transfer
        result.unchanged = plan.unchanged
        result.ttl_only_ignored = plan.ttl_only_ignored
        soa_change = Change(UPSERT, soa_with_serial(snapshot.soa, result.master_serial))
        calls = batches(plan.changes, last=soa_change)
    result.batches = len(calls)

    with watch("route53_write"):
        comment = f"dns_mirror {cfg.domain_text} serial {previous} -> {result.master_serial}"
        for i, batch in enumerate(calls):
            try:
                zone.change(batch, comment)
            except Route53Error as exc:
                left = sum(len(b) for b in calls[i:])
                result.not_applied = left - 1  # the SOA update is not a record change
                result.fail(exc.kind, f"batch {i + 1} of {len(calls)} failed: {exc}; "
                            f"{result.changed} change(s) applied in {i} batch(es), "
                            f"{result.not_applied} not applied; the SOA serial stays "
                            f"{r53_serial} so the next run compares again", status="partial")
                return
            result.batches_applied += 1
            for change in batch:
                if change is soa_change:
                    continue
                if change.action == CREATE:
                    result.created += 1
                elif change.action == UPSERT:
                    result.updated += 1
                elif change.action == DELETE:
                    result.deleted += 1
    result.serial = result.master_serial
    result.status = "synced"
    result.message = (f"{cfg.domain_text} serial {previous} -> {result.master_serial}: "
                      f"{result.created} created, {result.updated} updated, "
                      f"{result.deleted} deleted in {result.batches} batch(es)")


def _proceed(result: SyncResult, master_serial: int, previous: int, cfg: ZoneConfig) -> bool:
    """Decide from the serials; sets the result when there is nothing (allowed) to do."""
    if master_serial == previous:
        result.status = "in_sync"
        result.message = f"{cfg.domain_text} is in sync at serial {master_serial}"
        return False
    if serial_newer(previous, master_serial):
        result.fail("Route53Newer", f"Route 53 holds serial {previous} for {cfg.domain_text}, "
                                    f"newer than the master's {master_serial}: refusing to go "
                                    f"back (set ZoneSerial to override)", status="refused")
        return False
    return True
