"""The schedule's constant input, checked: one zone to mirror.

The seed's input is `{"Domain", "MasterDns", "ZoneId", "IgnoreTTL", "ZoneSerial"}` (keys
case-sensitive, IgnoreTTL a string, every key present). Two optional keys extend it:
`MasterPort` (default 53) and `TsigKey` (`{"Name", "Algorithm", "SecretParameter"}`: the TSIG
secret itself stays in an SSM SecureString, never in the schedule's input).

`ZoneSerial` empty means "the serial Route 53's SOA holds"; a number overrides it as the last
mirrored serial, e.g. "0" to force a full comparison after someone edited the hosted zone by
hand, or after the master's serial was reset (it also lifts the "Route 53 is newer" refusal).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.name

REQUIRED_KEYS = ("Domain", "MasterDns", "ZoneId", "IgnoreTTL", "ZoneSerial")
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1",
                   "hmac-md5")
_ZONE_ID = re.compile(r"^(?:/hostedzone/)?([A-Z0-9]{1,32})$")
MAX_SERIAL = 2**32 - 1


class InvalidEvent(ValueError):
    """The event cannot describe a zone to mirror; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class TsigKey:
    name: str
    algorithm: str
    secret_parameter: str


@dataclass(frozen=True)
class ZoneConfig:
    domain: dns.name.Name  # absolute
    master: str  # an IP address
    port: int
    zone_id: str  # bare id, no /hostedzone/ prefix
    ignore_ttl: bool
    zone_serial: int | None  # None: take Route 53's SOA serial
    tsig: TsigKey | None = None

    @property
    def domain_text(self) -> str:
        return self.domain.to_text()


def _bool(value: Any, key: str, problems: list[str]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    problems.append(f'{key} must be "True" or "False", got {value!r}')
    return False


def _domain(value: Any, problems: list[str]) -> dns.name.Name:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"Domain must be a non-empty domain name, got {value!r}")
        return dns.name.root
    try:
        name = dns.name.from_text(value.strip())
    except dns.exception.DNSException as exc:
        problems.append(f"Domain {value!r} is not a valid domain name: {exc}")
        return dns.name.root
    if name == dns.name.root:
        problems.append("Domain must not be the root zone")
    return name


def _master(value: Any, problems: list[str]) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        problems.append(f"MasterDns must be an IPv4 or IPv6 address, got {value!r}")
        return ""


def _port(value: Any, problems: list[str]) -> int:
    if value is None or value == "":
        return 53
    try:
        port = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        problems.append(f"MasterPort must be a port number (1-65535), got {value!r}")
        return 53
    return port


def _zone_id(value: Any, problems: list[str]) -> str:
    m = _ZONE_ID.match(str(value).strip()) if isinstance(value, str) else None
    if not m:
        problems.append(f"ZoneId must be a Route 53 hosted zone id such as Z0123456789ABC, "
                        f"got {value!r}")
        return ""
    return m.group(1)


def _serial(value: Any, problems: list[str]) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        serial = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        serial = -1
    if not 0 <= serial <= MAX_SERIAL:
        problems.append(f'ZoneSerial must be "" or a serial number (0-{MAX_SERIAL}), '
                        f"got {value!r}")
        return None
    return serial


def _tsig(value: Any, problems: list[str]) -> TsigKey | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append("TsigKey must be an object {Name, Algorithm, SecretParameter}")
        return None
    name, param = value.get("Name"), value.get("SecretParameter")
    algorithm = str(value.get("Algorithm") or "hmac-sha256").lower()
    if not isinstance(name, str) or not name.strip():
        problems.append("TsigKey.Name must be the key's name")
    if not isinstance(param, str) or not param.strip():
        problems.append("TsigKey.SecretParameter must name the SSM parameter holding the secret")
    if algorithm not in TSIG_ALGORITHMS:
        problems.append(f"TsigKey.Algorithm must be one of {', '.join(TSIG_ALGORITHMS)}, "
                        f"got {algorithm!r}")
    if problems:
        return None
    return TsigKey(name.strip(), algorithm, param.strip())


def parse_event(event: Any) -> ZoneConfig:
    """The zone to mirror, or InvalidEvent naming every missing or malformed key."""
    if not isinstance(event, dict):
        raise InvalidEvent([f"the event must be a JSON object with keys {', '.join(REQUIRED_KEYS)}"
                            f", got {type(event).__name__}"])
    problems: list[str] = []
    missing = [k for k in REQUIRED_KEYS if k not in event]
    if missing:
        problems.append(f"missing key(s): {', '.join(missing)} (keys are case-sensitive)")
    domain = _domain(event.get("Domain"), problems) if "Domain" in event else dns.name.root
    master = _master(event.get("MasterDns"), problems) if "MasterDns" in event else ""
    zone_id = _zone_id(event.get("ZoneId"), problems) if "ZoneId" in event else ""
    ignore_ttl = _bool(event.get("IgnoreTTL"), "IgnoreTTL", problems) if "IgnoreTTL" in event \
        else False
    serial = _serial(event.get("ZoneSerial"), problems)
    port = _port(event.get("MasterPort"), problems)
    tsig_problems: list[str] = []
    tsig = _tsig(event.get("TsigKey"), tsig_problems)
    problems.extend(tsig_problems)
    if problems:
        raise InvalidEvent(problems)
    return ZoneConfig(domain=domain, master=master, port=port, zone_id=zone_id,
                      ignore_ttl=ignore_ttl, zone_serial=serial, tsig=tsig)
