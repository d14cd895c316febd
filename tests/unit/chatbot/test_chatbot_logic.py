"""chatbot's plain logic: Slack v0 signatures, the dns command's parsing and answers, and the
alarm -> Slack message formatting (the handlers run on localcloud in tests/integration)."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from pathlib import Path
from typing import Any

import dns.exception
import dns.resolver
import pytest

ROOT = Path(__file__).resolve().parents[3]
CODE = ROOT / "functions" / "chatbot" / "bot"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture(scope="module")
def sig(load_module: Any) -> Any:
    return load_module("functions/chatbot/bot/slack_signature.py", "chatbot_slack_signature")


@pytest.fixture(scope="module")
def cmd(load_module: Any) -> Any:
    return load_module("functions/chatbot/bot/dns_command.py", "chatbot_dns_command")


@pytest.fixture(scope="module")
def alarm(load_module: Any) -> Any:
    return load_module("functions/chatbot/bot/alarm_message.py", "chatbot_alarm_message")


def headers(ts: int | str, signature: str) -> dict[str, str]:
    return {"x-slack-request-timestamp": str(ts), "x-slack-signature": signature}


def test_signature_matches_slacks_documented_example(sig: Any) -> None:
    # The example of api.slack.com/authentication/verifying-requests-from-slack.
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
            b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
            b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
            b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id="
            b"398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert sig.sign(SECRET, 1531420618, body) == expected
    sig.verify(SECRET, headers(1531420618, expected), body, now=1531420618 + 60)


def test_own_computation_of_the_base_string(sig: Any) -> None:
    body = b'{"type":"url_verification"}'
    mac = hmac.new(b"s3cret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert sig.sign("s3cret", "1700000000", body) == "v0=" + mac


@pytest.mark.parametrize(("hdrs", "body", "now", "reason"), [
    ({}, b"x", 1000, "missing"),
    ({"x-slack-request-timestamp": "1000"}, b"x", 1000, "missing"),
    (None, b"tampered", 1000, "bad"),
    ("v0=" + "0" * 64, b"x", 1000, "bad"),
    ("v1=abc", b"x", 1000, "bad"),
    (None, b"x", 1000 + 301, "stale"),
    (None, b"x", 1000 - 301, "stale"),
])
def test_rejections(sig: Any, hdrs: Any, body: bytes, now: int, reason: str) -> None:
    if hdrs is None:
        hdrs = headers(1000, sig.sign(SECRET, 1000, b"x"))
    elif isinstance(hdrs, str):
        hdrs = headers(1000, hdrs)
    with pytest.raises(sig.SignatureError, match=reason):
        sig.verify(SECRET, hdrs, body, now=now)


def test_window_edges_and_wrong_secret(sig: Any) -> None:
    good = headers(1000, sig.sign(SECRET, 1000, b"x"))
    sig.verify(SECRET, good, b"x", now=1300)
    sig.verify(SECRET, good, b"x", now=700)
    with pytest.raises(sig.SignatureError):
        sig.verify("another-secret", good, b"x", now=1000)
    with pytest.raises(sig.SignatureError, match="malformed"):
        sig.verify(SECRET, headers("12a", "v0=00"), b"x", now=1000)
    with pytest.raises(sig.SignatureError, match="no signing secret"):
        sig.verify("", good, b"x", now=1000)


def test_compare_is_constant_time(sig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest
    monkeypatch.setattr(sig.hmac, "compare_digest",
                        lambda a, b: calls.append((a, b)) or real(a, b))
    sig.verify(SECRET, headers(5, sig.sign(SECRET, 5, b"b")), b"b", now=5)
    assert len(calls) == 1


@pytest.mark.parametrize(("text", "name", "rdtype"), [
    ("dns example.com", "example.com.", "A"),
    ("dns example.com mx", "example.com.", "MX"),
    ("example.com AAAA", "example.com.", "AAAA"),
    ("dns <http://example.com|example.com> txt", "example.com.", "TXT"),
    ("dns 10.10.0.5", "5.0.10.10.in-addr.arpa.", "PTR"),
    ("DNS www.corp.example.internal. CNAME", "www.corp.example.internal.", "CNAME"),
])
def test_parse(cmd: Any, text: str, name: str, rdtype: str) -> None:
    assert cmd.parse(text) == cmd.Query(name, rdtype)


@pytest.mark.parametrize("text", ["dns", "", "dns a b c", "dns example.com BOGUS",
                                  "dns localhost", "dns " + "a" * 70 + ".com"])
def test_parse_refuses(cmd: Any, text: str) -> None:
    with pytest.raises(cmd.CommandError):
        cmd.parse(text)


def test_resolver_spec(cmd: Any) -> None:
    r = cmd.make_resolver("127.0.0.1:5353")
    assert r.nameservers == ["127.0.0.1"] and r.port == 5353 and r.lifetime == 2.0
    r = cmd.make_resolver("10.0.0.2, 10.0.0.3")
    assert r.nameservers == ["10.0.0.2", "10.0.0.3"] and r.port == 53


class FakeResolver:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def resolve(self, *a: Any, **kw: Any) -> Any:
        raise self.exc


@pytest.mark.parametrize(("exc", "says"), [
    (dns.resolver.NXDOMAIN(), "NXDOMAIN"),
    (dns.resolver.NoAnswer(), "no MX records"),
    (dns.resolver.NoNameservers(), "refused or failed"),
    (dns.exception.Timeout(), "no answer within 2 s"),
])
def test_failures_become_answers(cmd: Any, exc: Exception, says: str) -> None:
    answer = cmd.lookup(cmd.Query("example.com.", "MX"), FakeResolver(exc))
    assert not answer.ok and says in answer.text()
    assert answer.text().startswith("`dns example.com. MX`")


def test_alarm_becomes_a_card(alarm: Any) -> None:
    event = json.loads((ROOT / "events" / "chatbot" / "sns_alarm.json").read_text())
    sns = event["Records"][0]["Sns"]
    msg = alarm.slack_message(sns["Subject"], sns["Message"])
    assert msg["text"] == ":rotating_light: orders-api-5xx is ALARM (was OK)"
    card = msg["attachments"][0]
    assert card["color"] == "#d62728"
    body = card["blocks"][0]["text"]["text"]
    assert "*Condition:* SUM AWS/ApiGateway 5xx > 5.0" in body
    assert "5xx responses of the orders API" in body and "Threshold Crossed" in body


def test_ok_and_plain_messages(alarm: Any) -> None:
    ok = alarm.slack_message(None, json.dumps({"AlarmName": "a", "NewStateValue": "OK",
                                               "NewStateReason": "fine"}))
    assert ok["attachments"][0]["color"] == "#2ca02c" and ok["text"].endswith("a is OK")
    plain = alarm.slack_message("Deploy", "v42 is out")
    assert plain == {"text": "*Deploy*\nv42 is out"}
    assert alarm.slack_message(None, '{"other": 1}') == {"text": '{"other": 1}'}


def test_code_folder_is_self_contained() -> None:
    reqs = (CODE / "requirements.txt").read_text().split()
    assert "dnspython==2.9.2" in reqs and "requests==2.34.2" in reqs
    assert str(CODE) not in sys.path  # loaded by path only
