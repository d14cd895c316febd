"""chatbot end to end on the local cloud, against real peers: BIND 9 (`named`, started by
functions/dns_mirror/local_master.py on a loopback port) answers the dns command, and a local
HTTP server stands in for Slack's incoming webhook. Requests are signed as Slack signs them."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
ZONE = "corp.example.internal"
SIGNING_SECRET = "integration-signing-secret-0123456789"
LOGS: list[str] = []


def load(path: Path, name: str) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


LM = load(ROOT / "functions" / "dns_mirror" / "local_master.py", "dns_mirror_local_master")
SIG = load(ROOT / "functions" / "chatbot" / "bot" / "slack_signature.py", "chatbot_sig_it")


class Webhook:
    """Slack's incoming webhook, locally: records each POSTed JSON; `fail` makes it answer 500."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.fail = False
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if hook.fail:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"invalid_token")
                    return
                hook.posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/XXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.posts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def env() -> Iterator[dict[str, Any]]:
    hook = Webhook()
    with LM.BindServer() as named:
        named.add_zone(ZONE, LM.zone_text(ZONE, 2026112301, LM.forward_records()))
        named.start()
        with LocalCloud(aws_port=0, api_port=free_port(), quiet=True,
                        log=lambda name, line: LOGS.append(line)) as cloud:
            cloud.deploy(apps={"chatbot"},
                         parameters={"ChatbotDnsResolvers": f"{named.host}:{named.port}"})
            cloud.start_api()
            cloud.start_delivery()
            out = cloud.outputs()["chatbot"]
            cloud.client("secretsmanager").put_secret_value(
                SecretId=out["SlackSecretArn"],
                SecretString=json.dumps({"signing_secret": SIGNING_SECRET,
                                         "webhook_url": hook.url}))
            yield {"cloud": cloud, "out": out, "hook": hook, "named": named,
                   "base": out["SlackApiUrl"].rstrip("/")}
    hook.server.shutdown()


def post(env: dict[str, Any], path: str, body: bytes, ctype: str, *, ts: int | None = None,
         secret: str = SIGNING_SECRET, extra: dict[str, str] | None = None,
         signed: bool = True) -> tuple[int, Any]:
    ts = int(time.time()) if ts is None else ts
    headers = {"Content-Type": ctype, **(extra or {})}
    if signed:
        headers |= {"X-Slack-Request-Timestamp": str(ts),
                    "X-Slack-Signature": SIG.sign(secret, ts, body)}
    req = urllib.request.Request(env["base"] + path, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def event(env: dict[str, Any], payload: Any, **kw: Any) -> tuple[int, Any]:
    return post(env, "/slack/events", json.dumps(payload).encode(), "application/json", **kw)


def command(env: dict[str, Any], text: str, slash: str = "/dns", **kw: Any) -> tuple[int, Any]:
    form = urllib.parse.urlencode({"token": "t", "team_id": "T0", "channel_id": "C1",
                                   "user_id": "U1", "command": slash, "text": text,
                                   "response_url": "https://hooks.slack.com/commands/1/2"})
    return post(env, "/slack/commands", form.encode(), "application/x-www-form-urlencoded", **kw)


def test_the_resolver_parameter_points_at_our_named(env: dict[str, Any]) -> None:
    value = env["cloud"].client("ssm").get_parameter(
        Name=env["out"]["DnsResolversParameterName"])["Parameter"]["Value"]
    assert value == f"{env['named'].host}:{env['named'].port}"


def test_url_verification_challenge(env: dict[str, Any]) -> None:
    status, body = event(env, {"token": "x", "challenge": "3eZbrw1aBm2rZg", "type":
                               "url_verification"})
    assert (status, body) == (200, {"challenge": "3eZbrw1aBm2rZg"})


@pytest.mark.parametrize("how", ["forged", "stale", "future", "unsigned", "other-secret"])
def test_unsigned_forged_and_replayed_requests_are_401(env: dict[str, Any], how: str) -> None:
    payload = {"challenge": "c", "type": "url_verification"}
    kw: dict[str, Any] = {
        "forged": {"extra": {"X-Slack-Signature": "v0=" + "ab" * 32}},
        "stale": {"ts": int(time.time()) - 301},
        "future": {"ts": int(time.time()) + 301},
        "unsigned": {"signed": False},
        "other-secret": {"secret": "not-the-secret"},
    }[how]
    if how == "forged":
        ts = int(time.time())
        body = json.dumps(payload).encode()
        status, out = post(env, "/slack/events", body, "application/json", signed=False,
                           extra={"X-Slack-Request-Timestamp": str(ts),
                                  "X-Slack-Signature": "v0=" + "ab" * 32})
    else:
        status, out = event(env, payload, **kw)
    assert status == 401 and out["code"] == 401 and "challenge" not in out


def test_a_signed_body_that_is_not_json_is_400(env: dict[str, Any]) -> None:
    status, out = post(env, "/slack/events", b"{nope", "application/json")
    assert status == 400 and out["message"] == "body is not JSON"
    status, out = event(env, {"type": "mystery"})
    assert status == 400


def test_slash_command_a_records_from_bind(env: dict[str, Any]) -> None:
    status, out = command(env, f"www.{ZONE}")
    assert status == 200 and out["response_type"] == "in_channel", "\n".join(LOGS[-30:])
    assert out["text"].startswith(f"`dns www.{ZONE}. A`")
    assert "• 10.10.0.10 (TTL 300)" in out["text"] and "• 10.10.0.11 (TTL 300)" in out["text"]


def test_slash_command_mx_cname_and_reverse_style(env: dict[str, Any]) -> None:
    status, out = command(env, f"dns {ZONE} MX", slash="/net")
    assert status == 200 and f"10 mail.{ZONE}." in out["text"]
    assert f"20 mail2.{ZONE}." in out["text"]
    status, out = command(env, f"api.{ZONE} A")
    assert f"api.{ZONE}. is an alias of www.{ZONE}." in out["text"]
    assert "10.10.0.11" in out["text"]


def test_slash_command_failures_are_answers(env: dict[str, Any]) -> None:
    status, out = command(env, f"nothing-here.{ZONE}")
    assert status == 200 and "NXDOMAIN" in out["text"]
    status, out = command(env, f"www.{ZONE} MX")
    assert "has no MX records" in out["text"]
    status, out = command(env, "example.org")  # not ours: named refuses to recurse
    assert "refused or failed" in out["text"]
    status, out = command(env, f"www.{ZONE} BOGUS")
    assert status == 200 and out["response_type"] == "ephemeral" and "Usage" in out["text"]


def test_slash_command_signature_is_checked_too(env: dict[str, Any]) -> None:
    status, _ = command(env, f"www.{ZONE}", ts=int(time.time()) - 600)
    assert status == 401


def test_app_mention_is_answered_through_the_webhook(env: dict[str, Any]) -> None:
    hook = env["hook"]
    before = len(hook.posts)
    status, out = event(env, {"type": "event_callback", "event_id": "Ev1", "event": {
        "type": "app_mention", "user": "U42", "channel": "C1",
        "text": f"<@UBOT> dns mail.{ZONE}"}})
    assert (status, out) == (200, {"ok": True})
    posted = hook.wait(before + 1)[before]
    assert posted["text"].startswith(f"<@U42> `dns mail.{ZONE}. A`")
    assert "10.10.0.25" in posted["text"]
    # Slack's retry of the same event is acknowledged without a second answer.
    status, out = event(env, {"type": "event_callback", "event_id": "Ev1", "event": {
        "type": "app_mention", "user": "U42", "text": "<@UBOT> dns x.y"}},
        extra={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert status == 200 and out["retry"] is True
    time.sleep(0.3)
    assert len(hook.posts) == before + 1


def test_alarm_on_the_topic_reaches_slack(env: dict[str, Any]) -> None:
    hook, cloud = env["hook"], env["cloud"]
    sample = json.loads((ROOT / "events" / "chatbot" / "sns_alarm.json").read_text())
    sns = sample["Records"][0]["Sns"]
    before = len(hook.posts)
    cloud.client("sns").publish(TopicArn=env["out"]["AlarmTopicArn"], Subject=sns["Subject"],
                                Message=sns["Message"])
    cloud.wait_idle()
    posted = hook.wait(before + 1)[before]
    assert posted["text"] == ":rotating_light: orders-api-5xx is ALARM (was OK)"
    assert "SUM AWS/ApiGateway 5xx > 5.0" in posted["attachments"][0]["blocks"][0]["text"]["text"]


def test_a_refused_post_ends_in_the_failure_queue(env: dict[str, Any]) -> None:
    hook, cloud = env["hook"], env["cloud"]
    hook.fail = True
    try:
        cloud.client("sns").publish(TopicArn=env["out"]["AlarmTopicArn"],
                                    Message="disk almost full on db-1")
        assert cloud.wait_idle(timeout=30)
    finally:
        hook.fail = False
    sqs = cloud.client("sqs")
    msgs = sqs.receive_message(QueueUrl=env["out"]["AlarmFailuresQueueUrl"],
                               WaitTimeSeconds=2).get("Messages", [])
    assert len(msgs) == 1
    record = json.loads(msgs[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert "webhook answered 500" in json.dumps(record["responsePayload"])
    assert "disk almost full" in json.dumps(record["requestPayload"])
