"""The network helper's `dns <name> [type]` command, answered with dnspython.

The resolver is configuration: "system" (the function's resolver) or a comma-separated list of
`host[:port]` servers, so tests and the demo point it at a local BIND 9.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
import dns.reversename

TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "PTR", "CAA")
USAGE = f"Usage: `dns <name> [type]` (type one of {', '.join(TYPES)}; default A, PTR for an IP)"
LIFETIME_S = 2.0  # Slack wants an answer within 3 s


class CommandError(ValueError):
    """The command cannot be run as typed; the message says how to fix it."""


@dataclass(frozen=True)
class Query:
    name: str
    rdtype: str


@dataclass(frozen=True)
class Answer:
    query: Query
    ok: bool
    lines: tuple[str, ...]

    def text(self) -> str:
        head = f"`dns {self.query.name} {self.query.rdtype}`"
        if not self.ok:
            return f"{head}: {self.lines[0]}"
        return head + "\n" + "\n".join(f"• {line}" for line in self.lines)


def parse(text: str) -> Query:
    """`dns <name> [type]` (the `dns` word optional, as after a /dns slash command)."""
    words = text.split()
    if words and words[0].lower() == "dns":
        words = words[1:]
    if not words or len(words) > 2:
        raise CommandError(USAGE)
    name = words[0].strip("<>")
    if "|" in name:  # Slack links: <http://example.com|example.com>
        name = name.split("|", 1)[1]
    rdtype = words[1].upper() if len(words) == 2 else ""
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    if ip is not None:
        name = dns.reversename.from_address(str(ip)).to_text()
        rdtype = rdtype or "PTR"
    rdtype = rdtype or "A"
    if rdtype not in TYPES:
        raise CommandError(f"Unsupported type {rdtype}. {USAGE}")
    try:
        parsed = dns.name.from_text(name)
    except dns.exception.DNSException as err:
        raise CommandError(f"Not a DNS name: {name} ({err})") from None
    if len([label for label in parsed.labels if label]) < 2:  # "localhost", a bare TLD
        raise CommandError(f"Not a DNS name: {name}")
    return Query(parsed.to_text(), rdtype)


def make_resolver(spec: str) -> dns.resolver.Resolver:
    """A resolver for "system" or "host[:port],host[:port]" (one port for all: dnspython's)."""
    spec = (spec or "system").strip()
    if spec == "system":
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        servers, port = [], 53
        for item in (i.strip() for i in spec.split(",") if i.strip()):
            if item.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
                host, p = item.split(":")
                servers.append(host)
                port = int(p)
            else:
                servers.append(item)
        resolver.nameservers = servers
        resolver.port = port
    resolver.lifetime = LIFETIME_S
    resolver.timeout = LIFETIME_S / 2
    return resolver


def lookup(query: Query, resolver: dns.resolver.Resolver) -> Answer:
    """Ask `resolver`; every failure is an answer too (the user should see why)."""
    try:
        result = resolver.resolve(query.name, query.rdtype, raise_on_no_answer=True)
    except dns.resolver.NXDOMAIN:
        return Answer(query, False, ("no such name (NXDOMAIN)",))
    except dns.resolver.NoAnswer:
        return Answer(query, False, (f"the name exists but has no {query.rdtype} records",))
    except dns.resolver.NoNameservers:
        return Answer(query, False, ("the resolver refused or failed (SERVFAIL/REFUSED)",))
    except dns.exception.Timeout:
        return Answer(query, False, (f"no answer within {LIFETIME_S:.0f} s",))
    ttl = result.rrset.ttl if result.rrset is not None else 0
    lines = sorted(f"{rdata.to_text()} (TTL {ttl})" for rdata in result)
    if result.canonical_name.to_text() != query.name:
        lines.insert(0, f"{query.name} is an alias of {result.canonical_name.to_text()}")
    return Answer(query, True, tuple(lines))
