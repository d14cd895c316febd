"""The schedule's constant input: the seed's five keys, two optional ones, clear errors."""

from __future__ import annotations

from typing import Any

import dns.name
import pytest
from dns_mirror.config import InvalidEvent, TsigKey, parse_event

SEED_EVENT = {"Domain": "mydomain.com", "MasterDns": "10.0.0.1", "ZoneId": "AA11BB22CC33DD",
              "IgnoreTTL": "False", "ZoneSerial": ""}


def problems(event: Any) -> str:
    with pytest.raises(InvalidEvent) as info:
        parse_event(event)
    return str(info.value)


def test_the_seed_event() -> None:
    cfg = parse_event(SEED_EVENT)
    assert cfg.domain == dns.name.from_text("mydomain.com.")
    assert (cfg.master, cfg.port, cfg.zone_id) == ("10.0.0.1", 53, "AA11BB22CC33DD")
    assert cfg.ignore_ttl is False and cfg.zone_serial is None and cfg.tsig is None


def test_optional_keys_and_lenient_spellings() -> None:
    cfg = parse_event({**SEED_EVENT, "IgnoreTTL": "true", "ZoneSerial": "2024010101",
                       "ZoneId": "/hostedzone/Z0ABC", "MasterPort": "5353",
                       "MasterDns": "2001:db8::53",
                       "TsigKey": {"Name": "xfr-key", "SecretParameter": "/dns/tsig"}})
    assert cfg.ignore_ttl is True and cfg.zone_serial == 2024010101
    assert cfg.zone_id == "Z0ABC" and cfg.port == 5353 and cfg.master == "2001:db8::53"
    assert cfg.tsig == TsigKey("xfr-key", "hmac-sha256", "/dns/tsig")
    assert parse_event({**SEED_EVENT, "IgnoreTTL": True, "MasterPort": 53}).ignore_ttl is True


def test_every_missing_key_is_named() -> None:
    text = problems({"Domain": "mydomain.com"})
    assert "MasterDns, ZoneId, IgnoreTTL, ZoneSerial" in text
    assert "case-sensitive" in text
    assert "ZoneId" in problems({k.lower(): v for k, v in SEED_EVENT.items()})


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("Domain", "", "Domain must be a non-empty domain name"),
    ("Domain", "a..b", "is not a valid domain name"),
    ("Domain", ".", "must not be the root zone"),
    ("MasterDns", "dns.example.com", "MasterDns must be an IPv4 or IPv6 address"),
    ("ZoneId", "zone-1", "ZoneId must be a Route 53 hosted zone id"),
    ("ZoneId", 12, "ZoneId must be a Route 53 hosted zone id"),
    ("IgnoreTTL", "yes", 'IgnoreTTL must be "True" or "False"'),
    ("ZoneSerial", "abc", "ZoneSerial must be"),
    ("ZoneSerial", "4294967296", "ZoneSerial must be"),
    ("MasterPort", 70000, "MasterPort must be a port number"),
    ("TsigKey", "secret", "TsigKey must be an object"),
    ("TsigKey", {"Name": "k"}, "TsigKey.SecretParameter"),
    ("TsigKey", {"Name": "k", "SecretParameter": "/p", "Algorithm": "rot13"},
     "TsigKey.Algorithm must be one of"),
])
def test_malformed_values_are_reported(key: str, value: Any, expected: str) -> None:
    assert expected in problems({**SEED_EVENT, key: value})


def test_several_problems_at_once_and_a_non_object_event() -> None:
    err = problems({**SEED_EVENT, "MasterDns": "x", "ZoneId": "?"})
    assert "MasterDns" in err and "ZoneId" in err
    assert "must be a JSON object" in problems(["not", "an", "object"])
