"""The sync against a real master, BIND 9's named on a loopback port, and moto's Route 53.

Every check of the hosted zone goes through `route53_differences` (local_master.py), which
reads the zone file with dnspython and the hosted zone with boto3: not the function's code.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError
from dns_mirror.config import parse_event
from dns_mirror.master import Master, Tsig
from dns_mirror.route53 import CallCounter, HostedZone
from dns_mirror.sync import SyncResult, sync_zone

pytestmark = pytest.mark.integration

SERIAL = 2026112301


def event(domain: str, zone_id: str, port: int, **extra: Any) -> dict[str, Any]:
    return {"Domain": domain, "MasterDns": "127.0.0.1", "MasterPort": port, "ZoneId": zone_id,
            "IgnoreTTL": "False", "ZoneSerial": "", **extra}


def run(client: Any, ev: dict[str, Any], *, tsig: Tsig | None = None,
        timeout: float = 5.0) -> SyncResult:
    """One sync as the handler runs it, with Route 53 calls counted by botocore hooks."""
    cfg = parse_event(ev)
    calls = CallCounter()
    calls.attach(client)
    try:
        result = sync_zone(cfg, HostedZone(client, cfg.zone_id), Master(cfg, tsig, timeout))
    finally:
        client.meta.events.unregister("before-send.route-53", calls._count)
    result.route53_calls = calls.snapshot()
    return result


def snapshot(client: Any, zone_id: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
    return [item for page in pages for item in page["ResourceRecordSets"]]


def soa_serial(client: Any, zone_id: str) -> int:
    soa = next(i for i in snapshot(client, zone_id) if i["Type"] == "SOA")
    return int(soa["ResourceRecords"][0]["Value"].split()[2])


@pytest.fixture
def forward(lm: ModuleType, named: Any, aws: dict[str, Any], private_zone: Any
            ) -> Iterator[dict[str, Any]]:
    """named serving the sample forward zone, and an empty private hosted zone for it."""
    text = lm.zone_text(lm.FORWARD, SERIAL, lm.forward_records())
    named.add_zone(lm.FORWARD, text)
    named.start()
    zone_id = private_zone(lm.FORWARD)
    yield {"text": text, "zone_id": zone_id, "event": event(lm.FORWARD, zone_id, named.port),
           "r53": aws["route53"]}


def test_first_sync_mirrors_every_record_type(lm: ModuleType, forward: dict[str, Any]) -> None:
    r53, zone_id = forward["r53"], forward["zone_id"]
    apex_ns = [i for i in snapshot(r53, zone_id) if i["Type"] == "NS"]
    result = run(r53, forward["event"])
    assert result.status == "synced", result.message
    assert lm.route53_differences(r53, zone_id, forward["text"], lm.FORWARD) == []
    expected = lm.expected_rrsets(forward["text"], lm.FORWARD)
    assert result.created == len(expected) == 17
    assert {t for _, t in expected} == {"A", "AAAA", "CNAME", "MX", "TXT", "SPF", "SRV", "CAA",
                                        "NS"}
    assert result.skipped_types == {"HINFO": 1}
    assert (result.previous_serial, result.master_serial, result.serial) == (1, SERIAL, SERIAL)
    assert soa_serial(r53, zone_id) == SERIAL
    assert [i for i in snapshot(r53, zone_id) if i["Type"] == "NS"
            and i["Name"] == lm.FORWARD + "."] == apex_ns  # the apex NS set untouched
    assert result.route53_calls == {"ChangeResourceRecordSets": 1,
                                    "ListResourceRecordSets": 1}
    # relative names in the zone file arrive absolute, with the trailing dot
    items = {(i["Name"], i["Type"]): i for i in snapshot(r53, zone_id)}
    assert items[(f"api.{lm.FORWARD}.", "CNAME")]["ResourceRecords"] == [
        {"Value": f"www.{lm.FORWARD}."}]
    assert items[(f"_sip._tcp.{lm.FORWARD}.", "SRV")]["ResourceRecords"] == [
        {"Value": f"10 60 5060 sip.{lm.FORWARD}."}]


def test_reverse_zone_ptr_records(lm: ModuleType, named: Any, aws: dict[str, Any],
                                  private_zone: Any) -> None:
    text = lm.zone_text(lm.REVERSE, 7, lm.reverse_records(), ns=(f"ns1.{lm.FORWARD}.",))
    named.add_zone(lm.REVERSE, text)
    named.start()
    zone_id = private_zone(lm.REVERSE)
    result = run(aws["route53"], event(lm.REVERSE, zone_id, named.port))
    assert (result.status, result.created) == ("synced", 4)
    assert lm.route53_differences(aws["route53"], zone_id, text, lm.REVERSE) == []


def test_no_op_when_the_serials_match(forward: dict[str, Any]) -> None:
    run(forward["r53"], forward["event"])
    again = run(forward["r53"], forward["event"])
    assert again.status == "in_sync" and not again.failed
    assert again.route53_calls == {"ListResourceRecordSets": 1}
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)


def test_incremental_sync_after_edits(lm: ModuleType, named: Any,
                                      forward: dict[str, Any]) -> None:
    r53, zone_id = forward["r53"], forward["zone_id"]
    run(r53, forward["event"])
    records, expected = lm.edited_forward_records()
    text = lm.zone_text(lm.FORWARD, SERIAL + 1, records)
    named.update_zone(lm.FORWARD, text)  # rndc reload
    result = run(r53, forward["event"])
    assert result.status == "synced", result.message
    assert {"created": result.created, "updated": result.updated,
            "deleted": result.deleted} == expected
    assert result.batches == 1 and result.previous_serial == SERIAL
    assert lm.route53_differences(r53, zone_id, text, lm.FORWARD) == []
    assert soa_serial(r53, zone_id) == SERIAL + 1


def test_refused_when_route53_is_newer_than_the_master(lm: ModuleType,
                                                       forward: dict[str, Any]) -> None:
    r53, zone_id = forward["r53"], forward["zone_id"]
    run(r53, forward["event"])
    soa = next(i for i in snapshot(r53, zone_id) if i["Type"] == "SOA")
    fields = soa["ResourceRecords"][0]["Value"].split()
    fields[2] = str(SERIAL + 5)
    soa["ResourceRecords"] = [{"Value": " ".join(fields)}]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": soa}]})
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
        "Action": "CREATE", "ResourceRecordSet": {
            "Name": f"manual.{lm.FORWARD}.", "Type": "A", "TTL": 60,
            "ResourceRecords": [{"Value": "10.10.7.7"}]}}]})
    before = snapshot(r53, zone_id)
    result = run(r53, forward["event"])
    assert result.status == "refused" and result.error["type"] == "Route53Newer"
    assert str(SERIAL + 5) in result.message and str(SERIAL) in result.message
    assert snapshot(r53, zone_id) == before
    # An operator override (ZoneSerial) brings the zone back to the master's content.
    forced = run(r53, {**forward["event"], "ZoneSerial": "0"})
    assert forced.status == "synced" and forced.deleted == 1
    assert lm.route53_differences(r53, zone_id, forward["text"], lm.FORWARD) == []


def test_ignore_ttl(lm: ModuleType, named: Any, forward: dict[str, Any]) -> None:
    r53, zone_id = forward["r53"], forward["zone_id"]
    run(r53, forward["event"])
    records = [r.replace("mail IN A", "mail 86400 IN A") for r in lm.forward_records()]
    text = lm.zone_text(lm.FORWARD, SERIAL + 1, records)
    named.update_zone(lm.FORWARD, text)
    ignored = run(r53, {**forward["event"], "IgnoreTTL": "True"})
    assert ignored.status == "synced" and ignored.updated == 0 and ignored.ttl_only_ignored == 1
    assert soa_serial(r53, zone_id) == SERIAL + 1
    assert any("mail" in d and "300" in d for d in
               lm.route53_differences(r53, zone_id, text, lm.FORWARD))
    honoured = run(r53, {**forward["event"], "IgnoreTTL": "False", "ZoneSerial": "0"})
    assert honoured.updated == 1 and honoured.ttl_only_ignored == 0
    assert lm.route53_differences(r53, zone_id, text, lm.FORWARD) == []


def test_refused_transfer_leaves_the_zone_untouched(lm: ModuleType, named: Any,
                                                   aws: dict[str, Any],
                                                   private_zone: Any) -> None:
    named.add_zone(lm.FORWARD, lm.zone_text(lm.FORWARD, SERIAL, lm.forward_records()),
                   allow_transfer=["none"])
    named.start()
    zone_id = private_zone(lm.FORWARD)
    before = snapshot(aws["route53"], zone_id)
    result = run(aws["route53"], event(lm.FORWARD, zone_id, named.port))
    assert result.status == "error" and result.error["type"] == "Refused"
    assert "refused the zone transfer (AXFR)" in result.message
    assert "ChangeResourceRecordSets" not in result.route53_calls
    assert snapshot(aws["route53"], zone_id) == before


def test_a_master_that_is_not_authoritative(lm: ModuleType, named: Any, aws: dict[str, Any],
                                            private_zone: Any) -> None:
    named.add_zone(lm.FORWARD, lm.zone_text(lm.FORWARD, SERIAL, lm.forward_records()))
    named.start()
    for domain, words in ((f"www.{lm.FORWARD}", "not a zone"),  # a name inside the zone
                          (f"branch.{lm.FORWARD}", "without authority"),  # delegated away
                          ("elsewhere.internal", "does not serve that zone")):
        zone_id = private_zone(domain)
        before = snapshot(aws["route53"], zone_id)
        result = run(aws["route53"], event(domain, zone_id, named.port))
        assert result.error["type"] == "NotAuthoritative", result.message
        assert words in result.message
        assert snapshot(aws["route53"], zone_id) == before


def test_a_master_that_times_out_or_is_unreachable(lm: ModuleType, aws: dict[str, Any],
                                                   private_zone: Any) -> None:
    zone_id = private_zone(lm.FORWARD)
    before = snapshot(aws["route53"], zone_id)
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        result = run(aws["route53"], event(lm.FORWARD, zone_id, port), timeout=1.0)
    assert result.error["type"] == "Timeout" and "did not answer" in result.message
    closed = lm.free_port()
    result = run(aws["route53"], event(lm.FORWARD, zone_id, closed), timeout=1.0)
    assert result.error["type"] == "Unreachable"
    assert snapshot(aws["route53"], zone_id) == before


def test_zone_mismatch_and_unknown_zone(lm: ModuleType, forward: dict[str, Any],
                                        private_zone: Any) -> None:
    r53 = forward["r53"]
    other = private_zone("other.internal")
    before = snapshot(r53, other)
    result = run(r53, {**forward["event"], "ZoneId": other})
    assert result.error["type"] == "ZoneMismatch" and "other.internal." in result.message
    assert snapshot(r53, other) == before
    unknown = run(r53, {**forward["event"], "ZoneId": "Z0NOSUCHZONE"})
    assert unknown.error["type"] == "UnknownZone" and "Z0NOSUCHZONE" in unknown.message


def test_tsig_protected_transfer(lm: ModuleType, named: Any, aws: dict[str, Any],
                                 private_zone: Any) -> None:
    secret = lm.tsig_secret()
    named.add_key("mirror-xfr", secret)
    text = lm.zone_text(lm.FORWARD, SERIAL, lm.forward_records())
    named.add_zone(lm.FORWARD, text, allow_transfer=["key mirror-xfr"])
    named.start()
    zone_id = private_zone(lm.FORWARD)
    ev = event(lm.FORWARD, zone_id, named.port)
    before = snapshot(aws["route53"], zone_id)
    assert run(aws["route53"], ev).error["type"] == "Refused"  # no key
    wrong = run(aws["route53"], ev, tsig=Tsig("mirror-xfr", "hmac-sha256", lm.tsig_secret()))
    assert wrong.error["type"] == "TsigError", wrong.message
    assert snapshot(aws["route53"], zone_id) == before
    ok = run(aws["route53"], ev, tsig=Tsig("mirror-xfr", "hmac-sha256", secret))
    assert ok.status == "synced", ok.message
    assert lm.route53_differences(aws["route53"], zone_id, text, lm.FORWARD) == []


class FailingClient:
    """A Route 53 client whose n-th ChangeResourceRecordSets call is throttled."""

    def __init__(self, client: Any, fail_at: int) -> None:
        self.client, self.fail_at, self.changes = client, fail_at, 0
        self.meta = client.meta

    def list_resource_record_sets(self, **kw: Any) -> Any:
        return self.client.list_resource_record_sets(**kw)

    def change_resource_record_sets(self, **kw: Any) -> Any:
        self.changes += 1
        if self.changes == self.fail_at:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}},
                              "ChangeResourceRecordSets")
        return self.client.change_resource_record_sets(**kw)


@pytest.mark.slow
def test_a_failed_batch_is_reported_and_the_next_run_converges(
        lm: ModuleType, named: Any, aws: dict[str, Any], private_zone: Any) -> None:
    text = lm.zone_text(lm.FORWARD, SERIAL, lm.big_zone_records(2500))
    named.add_zone(lm.FORWARD, text)
    named.start()
    zone_id = private_zone(lm.FORWARD)
    ev = event(lm.FORWARD, zone_id, named.port)
    result = run(FailingClient(aws["route53"], fail_at=2), ev)
    assert result.status == "partial" and result.error["type"] == "Throttling"
    assert (result.batches, result.batches_applied, result.created) == (3, 1, 1000)
    assert result.not_applied == 1501  # 1,500 A records and ns1's
    assert "batch 2 of 3 failed" in result.message
    assert soa_serial(aws["route53"], zone_id) == 1  # not moved: the next run compares again
    assert len(lm.route53_rrsets(aws["route53"], zone_id)) == 1000
    again = run(aws["route53"], ev)
    assert again.status == "synced" and (again.created, again.unchanged) == (1501, 1000)
    assert again.route53_calls["ListResourceRecordSets"] == 4  # 1,002 record sets, 300 a page
    assert lm.route53_differences(aws["route53"], zone_id, text, lm.FORWARD) == []
    # and a 100-record edit of the large zone: one change call after reading every page
    edited = lm.zone_text(lm.FORWARD, SERIAL + 1,
                          lm.big_zone_records(2500, variant=1, changed=99))
    named.update_zone(lm.FORWARD, edited)
    step = run(aws["route53"], ev)
    assert (step.created, step.updated, step.deleted) == (33, 33, 33)
    assert step.route53_calls == {"ChangeResourceRecordSets": 1, "ListResourceRecordSets": 9}
    assert lm.route53_differences(aws["route53"], zone_id, edited, lm.FORWARD) == []
