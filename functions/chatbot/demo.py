"""The chatbot scenario for `localcloud demo`.

Real peers: BIND 9 (functions/dns_mirror/local_master.py) serves corp.example.internal on a
loopback port and becomes the bot's resolver (its SSM parameter); a local HTTP server plays
Slack's incoming webhook (its URL and a signing secret go into the Slack secret). Then, signed
as Slack signs: the URL verification challenge, a forged and a stale request (401), the
`/dns` slash command (A, MX, NXDOMAIN), an app_mention answered through the webhook, and a
CloudWatch alarm published to the topic arriving in "Slack". AssertionError on misbehaviour.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ZONE = "corp.example.internal"
SECRET = "demo-signing-secret-4b1d"


def _load(path: Path, name: str) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def webhook() -> tuple[ThreadingHTTPServer, list[dict[str, Any]]]:
    posts: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, posts


def run(ctx: Any) -> None:
    lm = _load(ROOT / "functions" / "dns_mirror" / "local_master.py", "dns_mirror_local_master")
    sig = _load(HERE / "bot" / "slack_signature.py", "chatbot_demo_signature")
    out = ctx.outputs
    base = out.get("SlackApiUrl", "").rstrip("/")
    expect(bool(base), "stack output SlackApiUrl is missing")

    def post(path: str, body: bytes, ctype: str, ts: int | None = None,
             secret: str = SECRET) -> tuple[int, Any]:
        ts = int(time.time()) if ts is None else ts
        req = urllib.request.Request(base + path, data=body, method="POST", headers={
            "Content-Type": ctype, "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sig.sign(secret, ts, body)})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def slash(text: str) -> tuple[int, Any]:
        form = urllib.parse.urlencode({"command": "/dns", "text": text, "user_id": "U1",
                                       "channel_id": "C1", "team_id": "T1"}).encode()
        return post("/slack/commands", form, "application/x-www-form-urlencoded")

    server, posts = webhook()
    try:
        with lm.BindServer() as named:
            named.add_zone(ZONE, lm.zone_text(ZONE, 2026112301, lm.forward_records()))
            named.start()
            ctx.client("ssm").put_parameter(Name=out["DnsResolversParameterName"],
                                            Value=f"{named.host}:{named.port}",
                                            Type="String", Overwrite=True)
            hook = f"http://127.0.0.1:{server.server_address[1]}/services/T1/B1/demo"
            ctx.client("secretsmanager").put_secret_value(
                SecretId=out["SlackSecretArn"],
                SecretString=json.dumps({"signing_secret": SECRET, "webhook_url": hook}))
            ctx.step(f"named serves {ZONE} on {named.host}:{named.port} (the bot's resolver); "
                     f"webhook at {hook}")

            challenge = json.dumps({"type": "url_verification", "challenge": "c4l1"}).encode()
            status, body = post("/slack/events", challenge, "application/json")
            expect((status, body) == (200, {"challenge": "c4l1"}), f"challenge: {status} {body}")
            ctx.step("url_verification -> 200 challenge echoed")
            status, _ = post("/slack/events", challenge, "application/json", secret="forged")
            expect(status == 401, f"forged signature answered {status}")
            status, _ = post("/slack/events", challenge, "application/json",
                             ts=int(time.time()) - 400)
            expect(status == 401, f"stale timestamp answered {status}")
            ctx.step("forged signature -> 401; timestamp 400 s old -> 401")

            for text, wanted in ((f"www.{ZONE}", "10.10.0.10"), (f"{ZONE} MX", "10 mail."),
                                 (f"nope.{ZONE}", "NXDOMAIN")):
                status, body = slash(text)
                expect(status == 200 and wanted in body["text"], f"/dns {text}: {body}")
                ctx.step(f"/dns {text} -> " + body["text"].replace("\n", " "))

            mention = json.dumps({"type": "event_callback", "event_id": "EvDemo", "event": {
                "type": "app_mention", "user": "U7", "text": f"<@UBOT> dns mail.{ZONE}"}})
            status, body = post("/slack/events", mention.encode(), "application/json")
            expect(status == 200, f"app_mention: {status} {body}")
            ctx.wait_for("the mention's answer at the webhook", lambda: posts)
            expect("10.10.0.25" in posts[-1]["text"], f"webhook got {posts[-1]}")
            ctx.step(f"app_mention -> webhook: {posts[-1]['text'].splitlines()[0]} ...")

            sample = json.loads((ROOT / "events" / "chatbot" / "sns_alarm.json").read_text())
            sns = sample["Records"][0]["Sns"]
            ctx.client("sns").publish(TopicArn=out["AlarmTopicArn"], Subject=sns["Subject"],
                                      Message=sns["Message"])
            ctx.wait_for("the alarm at the webhook", lambda: len(posts) >= 2)
            expect(posts[-1]["text"].endswith("orders-api-5xx is ALARM (was OK)"),
                   f"alarm message {posts[-1]}")
            ctx.step(f"CloudWatch alarm on the topic -> webhook: {posts[-1]['text']}")
    finally:
        server.shutdown()
