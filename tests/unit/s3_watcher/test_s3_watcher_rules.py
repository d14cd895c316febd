"""CloudTrail records -> Activity; watched principals; personal data in keys and content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from watcher_rules import (
    BadEvent,
    in_locations,
    key_pii,
    luhn_ok,
    parse_activity,
    pii_counts,
    watched_match,
)

EVENTS = Path(__file__).resolve().parents[3] / "events" / "s3_watcher"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_who_what_when_where_from_a_sample_event() -> None:
    a = parse_activity(load("get_object_watched_principal.json"))
    assert (a.event_name, a.read_only, a.keys) == ("GetObject", True, ("reports/q1.csv",))
    assert a.principal.type == "AssumedRole"
    assert a.principal.issuer_arn == "arn:aws:iam::123456789012:role/external-auditor"
    assert a.source_ip == "203.0.113.99" and a.event_time == "2024-05-01T10:15:00Z"
    assert not a.is_write


def test_denied_writes_are_not_content_sampled() -> None:
    a = parse_activity(load("delete_object_denied.json"))
    assert a.error_code == "AccessDenied" and not a.is_write
    put = parse_activity(load("put_object.json"))
    assert put.is_write


def test_keys_from_resources_and_multi_delete() -> None:
    event = load("put_object.json")
    del event["detail"]["requestParameters"]["key"]
    assert parse_activity(event).keys == ("reports/q1.csv",)
    event["detail"]["resources"] = []
    event["detail"]["eventName"] = "DeleteObjects"
    event["detail"]["requestParameters"]["delete"] = {"Object": [{"Key": "a"}, {"Key": "b"}]}
    assert parse_activity(event).keys == ("a", "b")


@pytest.mark.parametrize(("change", "message"), [
    (lambda e: e.pop("detail"), "no CloudTrail record"),
    (lambda e: e["detail"].update(eventSource="ec2.amazonaws.com"), "not an S3 event"),
    (lambda e: e["detail"].pop("eventID"), "lacks eventID"),
    (lambda e: e["detail"]["requestParameters"].pop("bucketName"), "names no bucket"),
])
def test_bad_events(change, message: str) -> None:
    event = load("put_object.json")
    change(event)
    with pytest.raises(BadEvent, match=message):
        parse_activity(event)
    with pytest.raises(BadEvent):
        parse_activity(load("not_cloudtrail.json"))


def test_watched_principals_match_arn_issuer_or_name() -> None:
    role = parse_activity(load("get_object_watched_principal.json")).principal
    user = parse_activity(load("put_object.json")).principal
    patterns = ["arn:aws:iam::*:user/contractor-*", "arn:aws:iam::*:role/external-*"]
    assert watched_match(role, patterns) == "arn:aws:iam::*:role/external-*"
    assert watched_match(user, patterns) is None
    assert watched_match(user, ["analyst"]) == "analyst"


def test_locations() -> None:
    assert in_locations("b", "hr/x", ["b/hr/"]) and in_locations("b", "x", ["b"])
    assert not in_locations("b", "x", ["b/hr/"]) and not in_locations("bb", "x", ["b"])


@pytest.mark.parametrize(("key", "reasons"), [
    ("hr/passport-scans/jane_dob_1990.pdf", ["keyword:dob", "keyword:passport"]),
    ("exports/ssn.csv", ["keyword:ssn"]),
    ("mail/jane.doe@example.com.eml", ["email"]),
    ("ids/078-05-1120.txt", ["ssn"]),
    ("reports/q1.csv", []),
    ("assets/dobby.png", []),  # a word inside another is not a keyword
    ("lessons/passports.md", ["keyword:passports"]),
])
def test_keys_that_look_like_personal_data(key: str, reasons: list[str]) -> None:
    assert key_pii(key) == reasons


def test_content_counts_each_kind_and_checks_digits() -> None:
    text = ("ssn 078-05-1120, 000-12-3456 (invalid area), card 4111-1111-1111-1111, "
            "not a card 4111 1111 1111 1112, a@b.io, c.d@example.org, "
            "iban GB82 WEST 1234 5698 7654 32, bad iban GB00 WEST 1234 5698 7654 32")
    assert pii_counts(text) == {"ssn": 1, "card_number": 1, "email": 2, "iban": 1}
    assert pii_counts("region,revenue\nnorth,10\n") == {}
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
