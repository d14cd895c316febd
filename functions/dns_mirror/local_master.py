"""dns_mirror's local master: BIND 9's `named`, sample zones, and a checker of hosted zones.

For the tests, the demo and the benchmark, which import this file by path under a unique name.
Not part of the Lambda function (it lives outside its CodeUri). `BindServer` writes a
named.conf and zone files into a temporary directory of its own, starts `named` in the
foreground on a free loopback port (no root needed: a high port, no chroot, no user switch),
waits until every zone answers with its serial, reloads edited zones with `rndc` (a control
channel with a generated key; SIGHUP when rndc is missing) and stops named cleanly.

    with BindServer() as named:
        named.add_zone("corp.example.internal", zone_text(...))
        named.start()
        ...  # AXFR from named.host, named.port
        named.update_zone("corp.example.internal", new_text)  # waits for the new serial

Debian: `apt-get install bind9 bind9-utils` (deps/apt.txt; `make setup` does it).

The sample zones hold every record type the mirror must carry (A, AAAA, CNAME, MX, TXT with
several strings and over 255 bytes, SRV, PTR, NS delegation with glue, CAA, SPF, a wildcard)
plus one it must skip (HINFO). `route53_differences` compares a hosted zone with a zone file
using dnspython alone, not the function's code, so a test does not grade the code with itself.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone

NAMED_CANDIDATES = ("named", "/usr/sbin/named")
RNDC_CANDIDATES = ("rndc", "/usr/sbin/rndc")


class BindError(RuntimeError):
    """named could not be started, reloaded or queried; the message has its log's tail."""


def find_program(candidates: Iterable[str]) -> str | None:
    for cand in candidates:
        path = shutil.which(cand)
        if path:
            return path
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now, also free for UDP (named listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind((host, port))
            except OSError:
                continue
            return port
    raise BindError("no free port found")


def tsig_secret(nbytes: int = 32) -> str:
    """A random base64 TSIG secret."""
    return base64.b64encode(secrets.token_bytes(nbytes)).decode()


def zone_text(origin: str, serial: int, records: Iterable[str], *, ttl: int = 300,
              ns: Iterable[str] = ("ns1",), ns_address: str = "127.0.0.1") -> str:
    """A zone file: $ORIGIN, $TTL, SOA, apex NS (and an A record for a relative ns1), then
    `records`, one master-file line each (names relative to the origin unless they end in .)."""
    origin = origin.rstrip(".") + "."
    ns = list(ns)
    lines = [
        f"$ORIGIN {origin}",
        f"$TTL {ttl}",
        f"@ IN SOA {ns[0]} hostmaster {serial} 3600 600 1209600 300",
        *(f"@ IN NS {n}" for n in ns),
    ]
    if "ns1" in ns:
        lines.append(f"ns1 IN A {ns_address}")
    lines.extend(records)
    return "\n".join(lines) + "\n"


def zone_serial(text: str, origin: str) -> int:
    """The SOA serial of a zone file's text."""
    zone = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)
    soa = zone.find_rdataset(zone.origin, dns.rdatatype.SOA)
    return int(soa[0].serial)


@dataclass
class ZoneSpec:
    origin: str  # no trailing dot
    file: Path
    allow_transfer: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    serial: int = 0


def _death_signal() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel stop named when the process that started it dies, so
    that a killed test run or demo leaves no named behind (Linux; resolved before the fork:
    nothing is imported or locked in the child, which may be forked from a threaded process).
    The signal follows the *thread* that started named: start it from a long-lived thread."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig, sigterm = 1, int(signal.SIGTERM)

    def preexec() -> None:  # pragma: no cover - runs in the child between fork and exec
        prctl(pr_set_pdeathsig, sigterm)

    return preexec


class BindServer:
    """One `named` process serving primary zones on a loopback port."""

    def __init__(self, workdir: Path | None = None, *, host: str = "127.0.0.1",
                 port: int | None = None) -> None:
        self.named = find_program(NAMED_CANDIDATES)
        if self.named is None:
            raise BindError("named (BIND 9) is not installed: apt-get install bind9 bind9-utils "
                            "(listed in deps/apt.txt; `make setup` installs it)")
        self.rndc = find_program(RNDC_CANDIDATES)
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="dns_mirror-named-")).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or 0
        self.control_port = 0
        self.zones: dict[str, ZoneSpec] = {}
        self.keys: dict[str, tuple[str, str]] = {}  # name -> (algorithm, secret)
        self._rndc_secret = tsig_secret()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.dir / "named.log"

    # configuration ----------------------------------------------------------------------
    def add_key(self, name: str, secret: str, algorithm: str = "hmac-sha256") -> None:
        """A TSIG key named can require for transfers (`allow_transfer=["key NAME"]`)."""
        self.keys[name] = (algorithm, secret)

    def add_zone(self, origin: str, text: str, *, allow_transfer: Iterable[str] = ("127.0.0.1",)
                 ) -> ZoneSpec:
        """A primary zone; `allow_transfer` entries are named ACL elements: addresses,
        `key NAME`, `none`, `any`. Call before start(), or reconfigure() after."""
        origin = origin.rstrip(".")
        spec = ZoneSpec(origin=origin, file=self.dir / f"{origin or 'root'}.zone",
                        allow_transfer=list(allow_transfer), serial=zone_serial(text, origin))
        spec.file.write_text(text)
        self.zones[origin] = spec
        return spec

    def _acl(self, items: list[str]) -> str:
        out = []
        for item in items:
            if item.startswith("key "):
                out.append(f'key "{item[4:].strip()}";')
            else:
                out.append(f"{item};")
        return " ".join(out)

    def _write_config(self) -> Path:
        d = self.dir
        keys = "\n".join(f'key "{n}" {{ algorithm {a}; secret "{s}"; }};'
                         for n, (a, s) in self.keys.items())
        zones = "\n".join(
            f'zone "{z.origin}" {{ type primary; file "{z.file}"; '
            f"allow-transfer {{ {self._acl(z.allow_transfer)} }}; }};"
            for z in self.zones.values())
        conf = f"""// generated by functions/dns_mirror/local_master.py
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {self.port} {{ {self.host}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-transfer {{ none; }};
    minimal-responses yes;
}};
key "rndc-key" {{ algorithm hmac-sha256; secret "{self._rndc_secret}"; }};
controls {{
    inet {self.host} port {self.control_port} allow {{ {self.host}; }} keys {{ "rndc-key"; }};
}};
{keys}
{zones}
"""
        (d / "named.conf").write_text(conf)
        (d / "rndc.conf").write_text(
            f'key "rndc-key" {{ algorithm hmac-sha256; secret "{self._rndc_secret}"; }};\n'
            f'options {{ default-key "rndc-key"; default-server {self.host}; '
            f"default-port {self.control_port}; }};\n")
        return d / "named.conf"

    # lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> BindServer:
        """Start named and wait until every zone answers its SOA with the expected serial."""
        if self.proc is not None:
            raise BindError("named is already running")
        fixed_port = bool(self.port)
        for attempt in range(3):
            if not fixed_port:
                self.port = free_port(self.host)
            self.control_port = free_port(self.host)
            conf = self._write_config()
            log = open(self.log_path, "ab")  # noqa: SIM115 - named writes to it until stop()
            try:
                self.proc = subprocess.Popen(
                    [self.named, "-g", "-4", "-n", "1", "-c", str(conf)],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir,
                    preexec_fn=_death_signal())
            finally:
                log.close()
            try:
                self._wait_ready(timeout)
                return self
            except BindError:
                in_use = "address in use" in self.log_tail().lower()
                self._terminate()
                if not in_use or fixed_port or attempt == 2:
                    raise
        raise BindError("named did not start")  # pragma: no cover - loop always returns/raises

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(self.zones)
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise BindError(f"named exited with status {self.proc.returncode}:\n"
                                f"{self.log_tail()}")
            for origin, spec in list(pending.items()):
                if self.soa_serial(origin, timeout=1.0) == spec.serial:
                    del pending[origin]
            if not pending and (self.zones or self._listening()):
                return
            if time.monotonic() > deadline:
                raise BindError(f"named not ready after {timeout:.0f} s (waiting for "
                                f"{', '.join(pending) or 'its port'}):\n{self.log_tail()}")
            time.sleep(0.05)

    def _listening(self) -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex((self.host, self.port)) == 0

    def soa_serial(self, origin: str, timeout: float = 2.0) -> int | None:
        """The serial named serves for `origin` now (None if it does not answer for it)."""
        query = dns.message.make_query(dns.name.from_text(origin), dns.rdatatype.SOA)
        try:
            response = dns.query.tcp(query, self.host, timeout=timeout, port=self.port)
        except (OSError, EOFError, dns.exception.DNSException):
            return None
        if response.rcode() != dns.rcode.NOERROR:
            return None
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return int(rrset[0].serial)
        return None

    def update_zone(self, origin: str, text: str, timeout: float = 15.0) -> None:
        """Rewrite a zone file and reload it; returns when named serves the new serial."""
        origin = origin.rstrip(".")
        spec = self.zones[origin]
        old_mtime = spec.file.stat().st_mtime
        spec.file.write_text(text)
        spec.serial = zone_serial(text, origin)
        # named reloads a file only when its modification time moved; two writes within the
        # file system's time granularity would look unchanged.
        new_mtime = max(time.time(), old_mtime + 1.0)
        os.utime(spec.file, (new_mtime, new_mtime))
        self.reload(origin)
        deadline = time.monotonic() + timeout
        while self.soa_serial(origin) != spec.serial:
            if time.monotonic() > deadline:
                raise BindError(f"{origin} still not at serial {spec.serial} after reload:\n"
                                f"{self.log_tail()}")
            time.sleep(0.05)

    def reconfigure(self) -> None:
        """Rewrite named.conf (zones or keys added) and have named read it again."""
        self._write_config()
        if self.rndc:
            self._rndc("reconfig")
        else:
            self._signal(signal.SIGHUP)

    def reload(self, origin: str | None = None) -> None:
        """`rndc reload [zone]`, or SIGHUP to named when rndc is not installed."""
        if self.rndc:
            self._rndc("reload", *([origin] if origin else []))
        else:
            self._signal(signal.SIGHUP)

    def _rndc(self, *args: str) -> str:
        assert self.rndc is not None
        out = subprocess.run([self.rndc, "-c", str(self.dir / "rndc.conf"), *args],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise BindError(f"rndc {' '.join(args)} failed: {out.stderr.strip() or out.stdout}")
        return out.stdout

    def _signal(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise BindError("named is not running")
        self.proc.send_signal(sig)

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _terminate(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # named shuts down cleanly on SIGTERM
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop(self) -> None:
        """Stop named and remove the directory it was given (unless the caller owns it)."""
        self._terminate()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> BindServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- sample zones ----------------------------------------------------------------------------

FORWARD = "corp.example.internal"
REVERSE = "10.10.in-addr.arpa"
_LONG_A = "a" * 200
_LONG_B = "b" * 180


def forward_records() -> list[str]:
    """The sample forward zone: every type the mirror carries, relative names included."""
    return [
        "www IN A 10.10.0.10",
        "www IN A 10.10.0.11",
        "app IN AAAA 2001:db8:10::10",
        "api IN CNAME www",
        "@ IN MX 10 mail",
        "@ IN MX 20 mail2.corp.example.internal.",
        "mail IN A 10.10.0.25",
        "mail2 IN A 10.10.0.26",
        '@ IN TXT "v=spf1 ip4:10.10.0.0/16 -all"',
        '@ IN SPF "v=spf1 ip4:10.10.0.0/16 -all"',
        'multi IN TXT "first string" "second string with \\"quotes\\" and spaces"',
        f'long IN TXT "{_LONG_A}" "{_LONG_B}"',
        "_sip._tcp IN SRV 10 60 5060 sip",
        "sip IN A 10.10.0.50",
        '@ IN CAA 0 issue "amazon.com"',
        '@ IN CAA 0 iodef "mailto:security@corp.example.internal"',
        "*.apps IN A 10.10.0.80",
        "branch IN NS ns1.branch",
        "ns1.branch IN A 10.10.9.1",
        'printer IN HINFO "HP" "LaserJet"',
    ]


def edited_forward_records() -> tuple[list[str], dict[str, int]]:
    """The forward zone after an operator's edit, and the changes the mirror should make:
    one record set added, www and the MX set modified, mail2 deleted, app's TTL changed."""
    records = [r for r in forward_records() if not r.startswith(("www ", "mail2 ", "app "))]
    records = [r for r in records if "mail2.corp" not in r]
    records += [
        "www IN A 10.10.0.10",
        "www IN A 10.10.0.12",
        "app 3600 IN AAAA 2001:db8:10::10",
        "new-host IN A 10.10.0.99",
    ]
    return records, {"created": 1, "updated": 3, "deleted": 1}


def reverse_records() -> list[str]:
    return [
        "10.0 IN PTR www.corp.example.internal.",
        "11.0 IN PTR www.corp.example.internal.",
        "25.0 IN PTR mail.corp.example.internal.",
        "50.0 IN PTR sip.corp.example.internal.",
    ]


def big_zone_records(count: int, *, variant: int = 0, changed: int = 0) -> list[str]:
    """`count` A record sets for the benchmark; with `variant` 1, `changed` record sets are
    edited: a third modified, a third deleted, and a third added beside existing names."""
    records = [f"host{i:05d} IN A 10.{20 + i // 65536}.{i // 256 % 256}.{i % 256}"
               for i in range(count)]
    if variant and changed:
        step = max(1, count // changed)
        picked = list(range(0, count, step))[:changed]
        third = len(picked) // 3
        for j, i in enumerate(picked):
            if j < third:
                records[i] = f"host{i:05d} IN A 10.99.{i // 256 % 256}.{i % 256}"  # modified
            elif j < 2 * third:
                records[i] = ""  # deleted
            else:
                records.append(f"new{i:05d} IN A 10.98.{i // 256 % 256}.{i % 256}")  # added
        records = [r for r in records if r]
    return records


# --- checking a hosted zone against a zone file --------------------------------------------

_OCTAL = re.compile(r"\\([0-7]{3}|.)", re.DOTALL)
ROUTE53_TYPES = {"A", "AAAA", "CAA", "CNAME", "MX", "NAPTR", "NS", "PTR", "SPF", "SRV", "SSHFP",
                 "TLSA", "TXT"}


def _decimal(text: str) -> str:
    return _OCTAL.sub(lambda m: f"\\{int(m.group(1), 8):03d}" if len(m.group(1)) == 3
                      else m.group(0), text)


def expected_rrsets(text: str, origin: str) -> dict[tuple[str, str], tuple[int, frozenset]]:
    """What the hosted zone should hold for a zone file: (name, type) -> (ttl, rdata set),
    apex SOA and NS and the types Route 53 lacks left out."""
    zone = dns.zone.from_text(text, origin=origin, relativize=False)
    apex = zone.origin
    out = {}
    for name, rdataset in zone.iterate_rdatasets():
        rtype = dns.rdatatype.to_text(rdataset.rdtype)
        if rtype not in ROUTE53_TYPES or (name == apex and rtype == "NS"):
            continue
        out[(name.canonicalize().to_text(), rtype)] = (rdataset.ttl, frozenset(rdataset))
    return out


def route53_rrsets(client: object, zone_id: str) -> dict[tuple[str, str], tuple[int, frozenset]]:
    """The hosted zone's record sets in the same shape (apex SOA and NS left out)."""
    out = {}
    zone_name = None
    pages = client.get_paginator("list_resource_record_sets").paginate(  # type: ignore[attr-defined]
        HostedZoneId=zone_id)
    for page in pages:
        for item in page["ResourceRecordSets"]:
            name = dns.name.from_text(_decimal(item["Name"])).canonicalize()
            if item["Type"] == "SOA":
                zone_name = name
                continue
            out[(name.to_text(), item["Type"])] = (int(item["TTL"]), frozenset(
                dns.rdata.from_text(dns.rdataclass.IN, item["Type"], _decimal(r["Value"]),
                                    origin=dns.name.root, relativize=False)
                for r in item["ResourceRecords"]))
    if zone_name is not None:
        out.pop((zone_name.to_text(), "NS"), None)
    return out


def route53_differences(client: object, zone_id: str, text: str, origin: str) -> list[str]:
    """Human-readable differences between a hosted zone and a zone file (empty: mirrored)."""
    want, have = expected_rrsets(text, origin), route53_rrsets(client, zone_id)
    diffs = []
    for key in sorted(set(want) | set(have)):
        w, h = want.get(key), have.get(key)
        if w == h:
            continue
        if h is None:
            diffs.append(f"missing in Route 53: {key[0]} {key[1]}")
        elif w is None:
            diffs.append(f"extra in Route 53: {key[0]} {key[1]}")
        else:
            diffs.append(f"differs: {key[0]} {key[1]}: zone {w[0]} "
                         f"{sorted(r.to_text() for r in w[1])}, Route 53 {h[0]} "
                         f"{sorted(r.to_text() for r in h[1])}")
    return diffs


def describe_changes(before: dict, after: dict) -> list[str]:
    """`+`, `-`, `~` lines between two route53_rrsets() snapshots, for showing a diff."""
    lines = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        name, rtype = key

        def show(v: tuple[int, frozenset]) -> str:
            return f"{v[0]} {' | '.join(sorted(r.to_text() for r in v[1]))}"

        if b is None:
            lines.append(f"+ {name} {rtype} {show(a)}")
        elif a is None:
            lines.append(f"- {name} {rtype} {show(b)}")
        else:
            lines.append(f"~ {name} {rtype} {show(b)}  ->  {show(a)}")
    return lines

