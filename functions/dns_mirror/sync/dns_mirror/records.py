"""Record sets in the two shapes this app meets: DNS data from the master, text from Route 53.

Both sides are reduced to one `RRSet` keyed by (canonical owner name, type), so the diff is a
dictionary comparison. The conversions carry the details Route 53 is particular about:

- Route 53 writes special characters in names and TXT strings as `\\ooo` *octal* escapes
  (`*` in a listed wildcard name comes back as `\\052`); DNS presentation format (dnspython,
  zone files) uses `\\DDD` *decimal*. Text is converted between the two at the boundary.
- Names inside rdata (CNAME, MX, SRV, NS, PTR, NAPTR targets) are written absolute, with the
  trailing dot; Route 53 would otherwise read `mail` as the top-level name `mail.`.
- Values are compared by their canonical wire form (RFC 4034 section 6.2), so `Mail.Example.`
  and `mail.example.`, or two spellings of one IPv6 address, are the same record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

# What Route 53 can hold and this app mirrors. SOA is handled apart (only its serial is copied);
# DNSSEC records (DS, DNSKEY, RRSIG, NSEC*) cannot live in a private hosted zone, and other
# types (HINFO, LOC, RP, ...) do not exist in Route 53: they are skipped and counted.
MIRRORED_TYPES = frozenset({
    "A", "AAAA", "CAA", "CNAME", "MX", "NAPTR", "NS", "PTR", "SPF", "SRV", "SSHFP", "TLSA", "TXT",
})

_DECIMAL_ESCAPE = re.compile(r"\\(\d{3}|.)", re.DOTALL)
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3}|.)", re.DOTALL)


def to_route53_text(text: str) -> str:
    """Presentation text with `\\DDD` decimal escapes -> Route 53's `\\ooo` octal escapes."""
    if "\\" not in text:
        return text

    def repl(m: re.Match[str]) -> str:
        code = m.group(1)
        return f"\\{int(code):03o}" if len(code) == 3 else m.group(0)

    return _DECIMAL_ESCAPE.sub(repl, text)


def from_route53_text(text: str) -> str:
    """Route 53 text with `\\ooo` octal escapes -> presentation text with decimal escapes."""
    if "\\" not in text:
        return text

    def repl(m: re.Match[str]) -> str:
        code = m.group(1)
        return f"\\{int(code, 8):03d}" if len(code) == 3 else m.group(0)

    return _OCTAL_ESCAPE.sub(repl, text)


def name_key(name: dns.name.Name) -> str:
    """The diff key of an owner name: absolute, lower case, presentation escapes."""
    return name.canonicalize().to_text()


def name_from_route53(text: str) -> dns.name.Name:
    """An owner name as Route 53 lists it (`\\052.example.com.`) as a dnspython name."""
    return dns.name.from_text(from_route53_text(text))


def route53_name(key: str) -> str:
    """A name key as Route 53 wants it in a change: octal escapes, a wildcard's `*` literal
    (dnspython never escapes `*`; Route 53 lists it back as `\\052`)."""
    return to_route53_text(key)


def rdata_to_route53(rdata: dns.rdata.Rdata) -> str:
    """One record's value in Route 53's format, every name in it absolute."""
    return to_route53_text(rdata.to_text(origin=None, relativize=False))


def rdata_from_route53(rtype: str, value: str) -> dns.rdata.Rdata:
    """Parse a Route 53 value (relative names are taken as absolute, as Route 53 does)."""
    return dns.rdata.from_text(dns.rdataclass.IN, rtype, from_route53_text(value),
                               origin=dns.name.root, relativize=False)


def canonical_values(rtype: str, values: Iterable[str]) -> frozenset[bytes]:
    """The set of canonical wire forms of `values`, for comparing record sets."""
    return frozenset(rdata_from_route53(rtype, v).to_digestable(dns.name.root) for v in values)


@dataclass(frozen=True, slots=True)
class RRSet:
    """One record set: owner name key, type, TTL and Route 53 values (in a stable order)."""

    name: str
    rtype: str
    ttl: int
    values: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.rtype)

    def same_values(self, other: RRSet) -> bool:
        """Same records, whatever their order or spelling."""
        if sorted(self.values) == sorted(other.values):
            return True  # the usual case, and no parsing needed
        try:
            return canonical_values(self.rtype, self.values) == canonical_values(
                other.rtype, other.values)
        except Exception:  # noqa: BLE001 - a value dnspython cannot parse is simply different
            return False

    def to_route53(self) -> dict[str, Any]:
        return {
            "Name": route53_name(self.name),
            "Type": self.rtype,
            "TTL": self.ttl,
            "ResourceRecords": [{"Value": v} for v in self.values],
        }

    @property
    def rdata_chars(self) -> int:
        return sum(len(v) for v in self.values)


def rrset_from_rdatas(name: dns.name.Name, rtype: str, ttl: int,
                      rdatas: Sequence[dns.rdata.Rdata]) -> RRSet:
    """A record set from the master's data; values sorted so equal sets look the same."""
    values = sorted({rdata_to_route53(rd) for rd in rdatas})
    return RRSet(name_key(name), rtype, int(ttl), tuple(values))


def rrset_from_route53(item: dict[str, Any]) -> RRSet:
    """A record set as listed by ListResourceRecordSets (values kept in Route 53's order:
    a DELETE must repeat them exactly)."""
    values = tuple(r["Value"] for r in item.get("ResourceRecords", []))
    return RRSet(name_key(name_from_route53(item["Name"])), item["Type"], int(item.get("TTL", 0)),
                 values)


def type_name(rdtype: int) -> str:
    return dns.rdatatype.to_text(rdtype)
