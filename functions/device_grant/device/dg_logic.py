"""device_grant's plain logic (no AWS): code formats, settings, client credentials, request
parameters, PKCE, and what a poll of a device code answers (RFC 8628 section 3.5)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP_S = 5  # RFC 8628 3.5: the interval grows by 5 seconds after each slow_down
MAX_INTERVAL_S = 300
TOKEN_NAMES = {"ID": "id_token", "ACCESS": "access_token", "REFRESH": "refresh_token"}

# The seed's format letters; "b"/"B" leave out vowels (no words in user codes), "!" special
# characters that need no quoting in HTML and survive a query string once encoded.
ALPHABETS = {
    "#": string.digits,
    "a": string.ascii_lowercase,
    "b": "".join(c for c in string.ascii_lowercase if c not in "aeiou"),
    "A": string.ascii_uppercase,
    "B": "".join(c for c in string.ascii_uppercase if c not in "AEIOU"),
    "!": "!#$%()*+,-./:;=?@[]^_{|}~",
}


class SettingsError(ValueError):
    """A setting (environment variable) the function cannot work with."""


def alphabet(fmt: str) -> str:
    """The characters a code of format `fmt` is drawn from (letters of ALPHABETS)."""
    if not fmt or any(c not in ALPHABETS for c in fmt):
        raise SettingsError(f"code format {fmt!r} may only use {''.join(ALPHABETS)}")
    # "a" and "b" together are just "a": dict.fromkeys keeps each character once, in order.
    return "".join(dict.fromkeys("".join(ALPHABETS[c] for c in fmt)))


def generate_code(fmt: str, length: int,
                  choice: Callable[[str], str] = secrets.choice) -> str:
    """A code of `length` characters from `fmt`'s alphabet, drawn with a CSPRNG."""
    chars = alphabet(fmt)
    return "".join(choice(chars) for _ in range(length))


def normalise_user_code(raw: str, fmt: str) -> str:
    """What a person typed, as stored: spaces and dashes dropped, upper case when the format
    has no lower-case letters (people type "bcdf-1234" for "BCDF1234")."""
    code = "".join(raw.split()).replace("-", "")
    if not any(c in fmt for c in "ab"):
        code = code.upper()
    return code


def is_valid_code(code: str, fmt: str, length: int) -> bool:
    chars = set(alphabet(fmt))
    return len(code) == length and all(c in chars for c in code)


def parse_token_set(text: str) -> tuple[str, ...]:
    """"ACCESS+REFRESH" -> ("access_token", "refresh_token")."""
    parts = [p.strip().upper() for p in text.split("+") if p.strip()]
    if not parts or any(p not in TOKEN_NAMES for p in parts):
        raise SettingsError(f"RESULT_TOKEN_SET {text!r}: use ID, ACCESS, REFRESH joined by +")
    return tuple(dict.fromkeys(TOKEN_NAMES[p] for p in parts))


@dataclass(frozen=True)
class Settings:
    code_expiration: int = 1800
    device_code_format: str = "#aA"
    device_code_length: int = 64
    polling_interval: int = 5
    user_code_format: str = "#B"
    user_code_length: int = 8
    result_token_set: tuple[str, ...] = ("access_token", "refresh_token")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def number(name: str, default: int, low: int) -> int:
            try:
                value = int(env.get(name) or default)
            except ValueError:
                raise SettingsError(f"{name} must be a whole number") from None
            if value < low:
                raise SettingsError(f"{name} must be at least {low}")
            return value

        settings = cls(
            code_expiration=number("CODE_EXPIRATION", 1800, 1),
            device_code_format=env.get("DEVICE_CODE_FORMAT") or "#aA",
            device_code_length=number("DEVICE_CODE_LENGTH", 64, 16),
            polling_interval=number("POLLING_INTERVAL", 5, 1),
            user_code_format=env.get("USER_CODE_FORMAT") or "#B",
            user_code_length=number("USER_CODE_LENGTH", 8, 4),
            result_token_set=parse_token_set(env.get("RESULT_TOKEN_SET") or "ACCESS+REFRESH"),
        )
        alphabet(settings.device_code_format)
        alphabet(settings.user_code_format)
        return settings


def hash_code(device_code: str) -> str:
    """The key a device code is stored under: its SHA-256, so the table never holds the
    bearer secret itself (the code has 64 random characters: no salt needed)."""
    return hashlib.sha256(device_code.encode()).hexdigest()


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(client_id, client_secret) of an `Authorization: Basic ...` header, None when absent or
    malformed. RFC 6749 2.3.1 percent-encodes both before base64; "+" is kept as is, since most
    clients send raw credentials."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        return None
    return unquote(client_id), unquote(secret)


class BadRequest(ValueError):
    """Parameters that cannot be read (RFC 6749 invalid_request)."""


def request_params(query: Mapping[str, str] | None, body: str | None,
                   content_type: str | None) -> dict[str, str]:
    """/token's parameters: the query string (as the seed sends them) and a form body (as RFC
    8628 says); a parameter given twice with different values is refused (RFC 6749 3.1)."""
    params = dict(query or {})
    if body:
        if "application/x-www-form-urlencoded" not in (content_type or "").lower():
            raise BadRequest("the body must be application/x-www-form-urlencoded")
        try:
            form = parse_qs(body, keep_blank_values=True, strict_parsing=True,
                            errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("the form body cannot be parsed") from None
        for key, values in form.items():
            if len(set(values)) > 1 or (key in params and params[key] != values[0]):
                raise BadRequest(f"parameter {key!r} is given more than once")
            params[key] = values[0]
    return params


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) of RFC 7636."""
    verifier = secrets.token_urlsafe(64)  # 86 characters, within 43-128
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def select_tokens(tokens: Mapping[str, Any], token_set: tuple[str, ...]) -> dict[str, Any]:
    """The token response the device gets: the configured tokens the exchange produced, with
    token_type and expires_in (which describe the access token)."""
    out = {name: tokens[name] for name in token_set if tokens.get(name)}
    out["token_type"] = tokens.get("token_type", "Bearer")
    if "access_token" in out and tokens.get("expires_in") is not None:
        out["expires_in"] = int(tokens["expires_in"])
    return out


@dataclass(frozen=True)
class PollAnswer:
    """What a poll answers before tokens are handed out: an RFC 8628 error, or "deliver"."""

    error: str | None  # invalid_grant, expired_token, access_denied, authorization_pending
    deliver: bool = False


def answer_poll(item: Mapping[str, Any] | None, client_id: str, now: float) -> PollAnswer:
    """Judge a device code's request (the stored item) for a poll by `client_id` at `now`;
    slow_down is decided by the store (it needs an atomic update)."""
    if item is None or item.get("client_id") != client_id or item.get("status") == "DELIVERED":
        # Unknown, another client's, or already used: a device code works once (RFC 6749 5.2).
        return PollAnswer("invalid_grant")
    if now >= float(item["expires_at"]):
        return PollAnswer("expired_token")
    status = item.get("status")
    if status == "DENIED":
        return PollAnswer("access_denied")
    if status == "APPROVED":
        return PollAnswer(None, deliver=True)
    return PollAnswer("authorization_pending")


def next_interval(current: int) -> int:
    return min(int(current) + SLOW_DOWN_STEP_S, MAX_INTERVAL_S)


def public_base(headers: Mapping[str, str]) -> str:
    """The API's base URL as the caller reached it: API Gateway sends Host and
    X-Forwarded-Proto; localcloud adds X-Forwarded-Prefix (the API's local base path)."""
    lower = {k.lower(): v for k, v in headers.items()}
    proto = lower.get("x-forwarded-proto", "https").split(",")[0].strip()
    prefix = lower.get("x-forwarded-prefix", "").rstrip("/")
    return f"{proto}://{lower.get('host', '')}{prefix}"
