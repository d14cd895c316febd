"""Route 53 text <-> DNS data: escapes, absolute names, canonical comparison."""

from __future__ import annotations

import dns.name
import dns.rdata
import pytest
from dns_mirror.records import (
    RRSet,
    canonical_values,
    from_route53_text,
    name_from_route53,
    name_key,
    rdata_from_route53,
    rdata_to_route53,
    route53_name,
    rrset_from_rdatas,
    rrset_from_route53,
    to_route53_text,
)

ORIGIN = dns.name.from_text("corp.example.internal.")


def rd(rtype: str, text: str) -> dns.rdata.Rdata:
    """Rdata as it comes off the wire in an AXFR: names absolute (relative ones completed)."""
    return dns.rdata.from_text("IN", rtype, text, origin=ORIGIN, relativize=False)


@pytest.mark.parametrize(("rtype", "zone_text", "route53"), [
    ("A", "10.10.0.1", "10.10.0.1"),
    ("AAAA", "2001:0db8:0000::0001", "2001:db8::1"),
    ("CNAME", "www", "www.corp.example.internal."),
    ("MX", "10 mail", "10 mail.corp.example.internal."),
    ("SRV", "10 60 5060 sip", "10 60 5060 sip.corp.example.internal."),
    ("NS", "ns1.branch", "ns1.branch.corp.example.internal."),
    ("PTR", "www.corp.example.internal.", "www.corp.example.internal."),
    ("TXT", '"a b" "c\\"d"', '"a b" "c\\"d"'),
    ("SPF", '"v=spf1 -all"', '"v=spf1 -all"'),
    ("CAA", '0 issue "amazon.com"', '0 issue "amazon.com"'),
    ("NAPTR", '100 10 "u" "E2U+sip" "!^.*$!sip:a@b!" .', '100 10 "u" "E2U+sip" "!^.*$!sip:a@b!" .'),
])
def test_values_are_written_with_absolute_names_and_read_back_equal(
        rtype: str, zone_text: str, route53: str) -> None:
    value = rdata_to_route53(rd(rtype, zone_text))
    assert value == route53
    assert rdata_from_route53(rtype, value) == rd(rtype, zone_text)


def test_txt_non_printable_bytes_use_route53_octal_escapes() -> None:
    record = rd("TXT", '"caf\\195\\169" "tab\\009end"')  # decimal escapes in a zone file
    value = rdata_to_route53(record)
    assert value == '"caf\\303\\251" "tab\\011end"'  # octal, as Route 53 wants them
    assert rdata_from_route53("TXT", value).strings == (b"caf\xc3\xa9", b"tab\tend")


def test_escape_conversion_round_trips_and_leaves_character_escapes() -> None:
    text = 'a\\"b\\\\c\\255d\\.e'
    assert to_route53_text(text) == 'a\\"b\\\\c\\377d\\.e'
    assert from_route53_text(to_route53_text(text)) == text
    assert to_route53_text("plain") == "plain"


def test_wildcard_names_as_route53_lists_them() -> None:
    listed = name_from_route53("\\052.apps.corp.example.internal.")
    assert listed.is_wild()
    assert name_key(listed) == "*.apps.corp.example.internal."
    assert route53_name(name_key(listed)) == "*.apps.corp.example.internal."


def test_names_compare_case_insensitively() -> None:
    assert name_key(dns.name.from_text("WWW.Corp.Example.Internal.")) == \
        "www.corp.example.internal."


def test_long_txt_over_255_bytes_keeps_its_strings() -> None:
    long_a, long_b = "a" * 200, "b" * 180
    record = rd("TXT", f'"{long_a}" "{long_b}"')
    rrset = rrset_from_rdatas(ORIGIN, "TXT", 300, [record])
    assert rrset.values == (f'"{long_a}" "{long_b}"',)
    assert rrset.rdata_chars == 385


def test_rrset_values_sorted_and_deduplicated_from_the_master() -> None:
    rrset = rrset_from_rdatas(dns.name.from_text("www", ORIGIN), "A", 60,
                              [rd("A", "10.0.0.2"), rd("A", "10.0.0.1"), rd("A", "10.0.0.2")])
    assert rrset == RRSet("www.corp.example.internal.", "A", 60, ("10.0.0.1", "10.0.0.2"))
    assert rrset.to_route53() == {
        "Name": "www.corp.example.internal.", "Type": "A", "TTL": 60,
        "ResourceRecords": [{"Value": "10.0.0.1"}, {"Value": "10.0.0.2"}]}


def test_route53_listing_keeps_route53_order_for_deletes() -> None:
    item = {"Name": "www.corp.example.internal.", "Type": "A", "TTL": 300,
            "ResourceRecords": [{"Value": "10.0.0.2"}, {"Value": "10.0.0.1"}]}
    rrset = rrset_from_route53(item)
    assert rrset.values == ("10.0.0.2", "10.0.0.1")
    assert rrset.to_route53() == item


def test_same_values_ignores_order_spelling_and_case() -> None:
    a = RRSet("x.", "AAAA", 300, ("2001:db8::1", "2001:db8::2"))
    b = RRSet("x.", "AAAA", 300, ("2001:0db8:0:0::2", "2001:db8::1"))
    assert a.same_values(b)
    assert RRSet("x.", "MX", 1, ("10 Mail.Example.",)).same_values(
        RRSet("x.", "MX", 1, ("10 mail.example.",)))
    assert not a.same_values(RRSet("x.", "AAAA", 300, ("2001:db8::1",)))
    assert not RRSet("x.", "TXT", 1, ('"A"',)).same_values(RRSet("x.", "TXT", 1, ('"a"',)))
    assert canonical_values("A", ["10.0.0.1"]) == canonical_values("A", ["10.0.0.1"])


def test_unparseable_route53_value_is_a_difference_not_a_crash() -> None:
    a = RRSet("x.", "A", 300, ("10.0.0.1",))
    assert not a.same_values(RRSet("x.", "A", 300, ("not-an-address",)))
