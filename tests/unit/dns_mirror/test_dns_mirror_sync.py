"""One sync run against fakes of the master and the hosted zone: the decisions and the report.

(The real thing, BIND 9 and Route 53 from the local cloud, is in tests/integration/dns_mirror.)
"""

from __future__ import annotations

from typing import Any

import pytest
from dns_mirror.config import parse_event
from dns_mirror.master import MasterError, Soa, Transfer
from dns_mirror.plan import Change
from dns_mirror.records import RRSet
from dns_mirror.route53 import Route53Error
from dns_mirror.sync import serial_newer, sync_zone

ZONE = "corp.example.internal."
EVENT = {"Domain": "corp.example.internal", "MasterDns": "127.0.0.1", "ZoneId": "Z1",
         "IgnoreTTL": "False", "ZoneSerial": ""}


def soa_item(serial: int) -> dict[str, Any]:
    return {"Name": ZONE, "Type": "SOA", "TTL": 900, "ResourceRecords": [
        {"Value": f"ns-1.awsdns-01.com. awsdns-hostmaster.amazon.com. {serial} 7200 900 "
                  f"1209600 86400"}]}


class FakeMaster:
    def __init__(self, serial: int, rrsets: list[RRSet], error: MasterError | None = None,
                 axfr_serial: int | None = None) -> None:
        self.soa = Soa(serial, "")
        self.rrsets = {r.key: r for r in rrsets}
        self.error = error
        self.axfr_serial = axfr_serial
        self.transfers = 0

    def serial(self) -> Soa:
        if self.error and self.error.kind == "Unreachable":
            raise self.error
        return self.soa

    def transfer(self, lifetime: float | None = None) -> Transfer:
        self.transfers += 1
        if self.error:
            raise self.error
        return Transfer(soa=Soa(self.axfr_serial or self.soa.serial, ""), rrsets=self.rrsets)


class FakeZone:
    """A hosted zone in memory, listed in pages of `page` items, failing the chosen calls."""

    def __init__(self, items: list[dict[str, Any]], page: int = 2,
                 fail_change: int | None = None) -> None:
        self.items = items
        self.page = page
        self.fail_change = fail_change
        self.changes: list[list[Change]] = []
        self.list_calls = 0

    def pages(self):  # noqa: ANN201 - a generator, as HostedZone.pages
        for i in range(0, len(self.items), self.page):
            self.list_calls += 1
            yield self.items[i:i + self.page]

    def change(self, batch: list[Change], comment: str) -> None:
        if self.fail_change is not None and len(self.changes) == self.fail_change:
            self.fail_change = None
            raise Route53Error("Throttling", "Rate exceeded")
        self.changes.append(batch)


def a(name: str, *values: str, ttl: int = 300) -> RRSet:
    return RRSet(f"{name}.{ZONE}", "A", ttl, values or ("10.0.0.1",))


def item(r: RRSet) -> dict[str, Any]:
    return r.to_route53()


def apex_ns() -> dict[str, Any]:
    return {"Name": ZONE, "Type": "NS", "TTL": 172800,
            "ResourceRecords": [{"Value": "ns-1.awsdns-01.com."}]}


@pytest.mark.parametrize(("a_", "b", "newer"), [
    (2, 1, True), (1, 2, False), (5, 5, False),
    (1, 2**32 - 1, True),  # wrapped around: 1 comes after 4294967295
    (2**32 - 1, 1, False),
    (2024010101, 2023123199, True),
])
def test_serial_arithmetic_rfc1982(a_: int, b: int, newer: bool) -> None:
    assert serial_newer(a_, b) is newer


def test_first_sync_creates_everything_and_sets_the_serial_last() -> None:
    master = FakeMaster(10, [a("www"), a("mail", "10.0.0.2")])
    zone = FakeZone([apex_ns(), soa_item(1)])
    result = sync_zone(parse_event(EVENT), zone, master)
    assert (result.status, result.created, result.previous_serial, result.serial) == (
        "synced", 2, 1, 10)
    [batch] = zone.changes
    assert [c.action for c in batch] == ["CREATE", "CREATE", "UPSERT"]
    assert batch[-1].rrset.rtype == "SOA" and " 10 7200 " in batch[-1].rrset.values[0]
    assert all(c.rrset.rtype != "NS" for c in batch)  # the apex NS set is left alone


def test_equal_serials_need_no_transfer_and_one_page() -> None:
    master = FakeMaster(10, [a("www")])
    zone = FakeZone([apex_ns(), soa_item(10), item(a("other"))], page=2)
    result = sync_zone(parse_event(EVENT), zone, master)
    assert result.status == "in_sync" and result.failed is False
    assert master.transfers == 0 and zone.list_calls == 1 and zone.changes == []


def test_route53_newer_than_the_master_is_refused_and_untouched() -> None:
    master = FakeMaster(10, [a("www")])
    zone = FakeZone([apex_ns(), soa_item(11)])
    result = sync_zone(parse_event(EVENT), zone, master)
    assert result.status == "refused" and result.error["type"] == "Route53Newer"
    assert "11" in result.message and "10" in result.message
    assert zone.changes == [] and master.transfers == 0


def test_zone_serial_overrides_the_mirrored_serial() -> None:
    master = FakeMaster(10, [a("www")])
    zone = FakeZone([apex_ns(), soa_item(11), item(a("www"))])
    result = sync_zone(parse_event({**EVENT, "ZoneSerial": "0"}), zone, master)
    assert (result.status, result.previous_serial, result.unchanged) == ("synced", 0, 1)
    assert [c.rrset.rtype for c in zone.changes[0]] == ["SOA"]


def test_a_serial_moved_during_the_run_is_the_one_written() -> None:
    master = FakeMaster(10, [a("www")], axfr_serial=12)
    zone = FakeZone([apex_ns(), soa_item(1)])
    result = sync_zone(parse_event(EVENT), zone, master)
    assert result.master_serial == 12 and result.serial == 12
    assert " 12 7200 " in zone.changes[-1][-1].rrset.values[0]


def test_a_failed_transfer_changes_nothing() -> None:
    master = FakeMaster(10, [], error=MasterError("Refused", "refused the zone transfer"))
    zone = FakeZone([apex_ns(), soa_item(1), item(a("www"))])
    result = sync_zone(parse_event(EVENT), zone, master)
    assert (result.status, result.error["type"]) == ("error", "Refused")
    assert zone.changes == []


def test_the_wrong_hosted_zone_is_reported_and_untouched() -> None:
    zone = FakeZone([{**apex_ns(), "Name": "other.internal."},
                     {**soa_item(1), "Name": "other.internal."}])
    result = sync_zone(parse_event(EVENT), zone, FakeMaster(10, [a("www")]))
    assert result.error["type"] == "ZoneMismatch" and zone.changes == []


def test_a_failed_batch_reports_what_was_applied_and_keeps_the_old_serial() -> None:
    wanted = [a(f"h{i:04d}") for i in range(2500)]
    zone = FakeZone([apex_ns(), soa_item(1)])
    zone.fail_change = 1  # the second call fails
    master = FakeMaster(10, wanted)
    result = sync_zone(parse_event(EVENT), zone, master)
    assert result.status == "partial" and result.error["type"] == "Throttling"
    assert (result.batches, result.batches_applied, result.created) == (3, 1, 1000)
    assert result.not_applied == 1500 and result.serial == 1
    assert "batch 2 of 3 failed" in result.message
    assert all(c.rrset.rtype != "SOA" for b in zone.changes for c in b)


def test_pages_are_all_read_when_a_sync_is_needed() -> None:
    current = [item(a(f"h{i}")) for i in range(7)]
    zone = FakeZone([apex_ns(), soa_item(1), *current], page=2)
    result = sync_zone(parse_event(EVENT), zone, FakeMaster(2, [a(f"h{i}") for i in range(5)]))
    assert zone.list_calls == 5 and result.route53_rrsets == 7
    assert (result.deleted, result.unchanged) == (2, 5)


def test_alias_and_routing_policy_records_are_left_alone() -> None:
    alias = {"Name": f"cdn.{ZONE}", "Type": "A",
             "AliasTarget": {"HostedZoneId": "Z2", "DNSName": "d.example.", "EvaluateTargetHealth":
                             False}}
    weighted = {**item(a("w")), "SetIdentifier": "blue", "Weight": 10}
    zone = FakeZone([apex_ns(), soa_item(1), alias, weighted])
    result = sync_zone(parse_event(EVENT), zone, FakeMaster(2, []))
    assert result.unmanaged == 2 and result.deleted == 0
