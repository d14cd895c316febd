"""Slack request signing (v0): HMAC-SHA256 over `v0:{timestamp}:{body}` with the signing secret.

https://api.slack.com/authentication/verifying-requests-from-slack: the body is the raw bytes
as received, the timestamp must be within five minutes of now (replays), and the comparison is
constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

WINDOW_SECONDS = 300


class SignatureError(Exception):
    """The request is not provably from Slack (401)."""


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The `X-Slack-Signature` value Slack would send for `body` at `timestamp`."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(secret: str, headers: Mapping[str, str], body: bytes,
           now: float | None = None) -> None:
    """Raise SignatureError unless `headers` carry a fresh, valid v0 signature of `body`.

    `headers` keys are lowercase (HTTP API v2 events lowercase them)."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        raise SignatureError("missing Slack signature headers")
    if not timestamp.isdigit():
        raise SignatureError("malformed X-Slack-Request-Timestamp")
    if abs((time.time() if now is None else now) - int(timestamp)) > WINDOW_SECONDS:
        raise SignatureError("stale X-Slack-Request-Timestamp (more than 5 minutes off)")
    if not secret:
        raise SignatureError("no signing secret configured")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
        raise SignatureError("bad X-Slack-Signature")
