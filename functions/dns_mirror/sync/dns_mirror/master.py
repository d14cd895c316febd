"""The on-premises master: its SOA serial (one TCP query) and the whole zone (AXFR over TCP).

Both go over TCP only: the seed opens TCP 53 from the function's subnets to the master and
nothing else. Every failure becomes a MasterError with a `kind` the operator can act on:
Refused (allow-transfer), NotAuthoritative (wrong master or zone name), Timeout,
Unreachable, TsigError, BadResponse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.xfr

from .config import ZoneConfig
from .records import MIRRORED_TYPES, RRSet, name_key, rrset_from_rdatas


class MasterError(Exception):
    """The master could not give us the zone; nothing was changed in Route 53."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Soa:
    serial: int
    text: str  # the master's SOA rdata, for the logs


@dataclass
class Transfer:
    """The zone as the master sent it, reduced to what Route 53 will mirror."""

    soa: Soa
    rrsets: dict[tuple[str, str], RRSet]
    skipped: dict[str, int] = field(default_factory=dict)  # unsupported type -> record sets
    records: int = 0  # resource records received (the SOA twice included)
    messages: int = 0


@dataclass(frozen=True)
class Tsig:
    """A TSIG key ready for dnspython."""

    name: str
    algorithm: str
    secret: str

    def keyring(self) -> dict[dns.name.Name, dns.tsig.Key]:
        key = dns.tsig.Key(self.name, self.secret, self.algorithm)
        return {key.name: key}


def _rcode_error(rcode: int, what: str, cfg: ZoneConfig) -> MasterError:
    where = f"{cfg.master} port {cfg.port}"
    if rcode == dns.rcode.REFUSED and what == "SOA query":
        # With recursion off, a server answers REFUSED for a zone it does not serve.
        return MasterError("NotAuthoritative", f"{where} refused the SOA query of "
                           f"{cfg.domain_text}: it does not serve that zone, or does not "
                           f"answer this address")
    if rcode == dns.rcode.REFUSED:
        return MasterError("Refused", f"{where} refused the {what} of {cfg.domain_text} "
                                      f"(check its allow-transfer, or the TSIG key)")
    if rcode == dns.rcode.NOTAUTH:
        return MasterError("NotAuthoritative", f"{where} is not authoritative for "
                                               f"{cfg.domain_text} ({what}: NOTAUTH)")
    return MasterError("BadResponse", f"{where} answered the {what} of {cfg.domain_text} with "
                                      f"{dns.rcode.to_text(rcode)}")


def _wrap(exc: Exception, what: str, cfg: ZoneConfig) -> MasterError:
    where = f"{cfg.master} port {cfg.port}"
    if isinstance(exc, MasterError):
        return exc
    if isinstance(exc, dns.xfr.TransferError):
        return _rcode_error(exc.rcode, what, cfg)
    if isinstance(exc, dns.exception.Timeout):
        return MasterError("Timeout", f"{where} did not answer the {what} of {cfg.domain_text} "
                                      f"in time")
    if isinstance(exc, (dns.tsig.PeerError, dns.tsig.BadSignature, dns.tsig.BadKey,
                        dns.tsig.BadTime, dns.tsig.BadAlgorithm)):
        return MasterError("TsigError", f"TSIG failed for the {what} from {where}: {exc}")
    if isinstance(exc, (ConnectionError, OSError)):
        return MasterError("Unreachable", f"cannot reach {where} for the {what}: {exc}")
    if isinstance(exc, (dns.exception.DNSException, EOFError, ValueError)):
        return MasterError("BadResponse", f"bad {what} answer from {where}: "
                                          f"{type(exc).__name__}: {exc}")
    return MasterError("BadResponse", f"{what} from {where} failed: {type(exc).__name__}: {exc}")


class Master:
    """Talks to one master about one zone."""

    def __init__(self, cfg: ZoneConfig, tsig: Tsig | None = None, timeout: float = 10.0) -> None:
        self.cfg = cfg
        self.tsig = tsig
        self.timeout = timeout

    def _tsig_kwargs(self) -> dict[str, Any]:
        if self.tsig is None:
            return {}
        return {"keyring": self.tsig.keyring(), "keyname": self.tsig.name,
                "keyalgorithm": self.tsig.algorithm}

    def serial(self) -> Soa:
        """The master's SOA for the zone, asked over TCP; it must answer authoritatively."""
        cfg = self.cfg
        query = dns.message.make_query(cfg.domain, dns.rdatatype.SOA)
        if self.tsig is not None:
            query.use_tsig(self.tsig.keyring(), keyname=self.tsig.name,
                           algorithm=self.tsig.algorithm)
        try:
            response = dns.query.tcp(query, cfg.master, timeout=self.timeout, port=cfg.port)
        except Exception as exc:  # noqa: BLE001 - every failure is reported as a MasterError
            raise _wrap(exc, "SOA query", cfg) from exc
        if response.rcode() != dns.rcode.NOERROR:
            raise _rcode_error(response.rcode(), "SOA query", cfg)
        if not response.flags & dns.flags.AA:
            raise MasterError("NotAuthoritative", f"{cfg.master} port {cfg.port} answered for "
                                                  f"{cfg.domain_text} without authority (AA)")
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.SOA and rrset.name == cfg.domain:
                rd = rrset[0]
                return Soa(serial=int(rd.serial), text=rd.to_text())
        raise MasterError("NotAuthoritative", f"{cfg.domain_text} is not a zone on {cfg.master} "
                                              f"port {cfg.port} (no SOA at that name)")

    def transfer(self, lifetime: float | None = None,
                 xfr: Callable[..., Iterable[dns.message.Message]] = dns.query.xfr) -> Transfer:
        """AXFR the zone; names absolute, one RRSet per (name, type), apex NS and SOA left out."""
        cfg = self.cfg
        apex = cfg.domain
        soa: Soa | None = None
        parts: dict[tuple[str, str], tuple[dns.name.Name, int, list[Any]]] = {}
        skipped: dict[str, int] = {}
        records = messages = 0
        try:
            for message in xfr(cfg.master, apex, port=cfg.port, timeout=self.timeout,
                               lifetime=lifetime, relativize=False, **self._tsig_kwargs()):
                messages += 1
                for rrset in message.answer:
                    records += len(rrset)
                    if rrset.rdclass != dns.rdataclass.IN:
                        continue
                    rtype = dns.rdatatype.to_text(rrset.rdtype)
                    if rtype == "SOA":
                        if rrset.name != apex:
                            raise MasterError("BadResponse", f"the transfer's SOA is for "
                                              f"{rrset.name}, not {cfg.domain_text}")
                        if soa is None:
                            soa = Soa(serial=int(rrset[0].serial), text=rrset[0].to_text())
                        continue
                    if rtype == "NS" and rrset.name == apex:
                        continue  # the apex NS set is Route 53's own; never mirrored
                    key = (name_key(rrset.name), rtype)
                    if rtype not in MIRRORED_TYPES:
                        if key not in parts:
                            skipped[rtype] = skipped.get(rtype, 0) + 1
                            parts[key] = (rrset.name, int(rrset.ttl), [])
                        continue
                    # One record set may arrive split over several messages.
                    if key in parts:
                        name, ttl, rdatas = parts[key]
                        parts[key] = (name, min(ttl, int(rrset.ttl)), rdatas)
                    else:
                        rdatas = []
                        parts[key] = (rrset.name, int(rrset.ttl), rdatas)
                    rdatas.extend(rrset)
        except Exception as exc:  # noqa: BLE001 - every failure is reported as a MasterError
            raise _wrap(exc, "zone transfer (AXFR)", cfg) from exc
        if soa is None:
            raise MasterError("BadResponse", f"the transfer of {cfg.domain_text} from "
                                             f"{cfg.master} had no SOA")
        rrsets = {key: rrset_from_rdatas(name, key[1], ttl, rdatas)
                  for key, (name, ttl, rdatas) in parts.items() if key[1] in MIRRORED_TYPES}
        return Transfer(soa=soa, rrsets=rrsets, skipped=skipped, records=records,
                        messages=messages)
