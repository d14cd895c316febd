"""url_shortener's rules, free of AWS: URL validation (scheme, length, no self-loops), short
ids, expiry and the short link's absolute URL."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

ID_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 7  # the seed's "random 7-character name": 62**7 = 3.5e12 ids
ID_PATTERN = re.compile(rf"^[A-Za-z0-9]{{{ID_LENGTH}}}$")
DEFAULT_MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}


class InvalidUrl(ValueError):
    """The long URL is refused; the message says why (HTTP 400)."""


def new_id(length: int = ID_LENGTH) -> str:
    """A random id from a CSPRNG: ids cannot be guessed from earlier ones."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


def is_id(value: str) -> bool:
    return bool(ID_PATTERN.match(value or ""))


def host_port(netloc_or_url: str, default_scheme: str = "https") -> tuple[str, int]:
    """(lower-case host, port with the scheme's default) of a URL or a Host header value."""
    text = netloc_or_url if "://" in netloc_or_url else f"{default_scheme}://{netloc_or_url}"
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    return ((parts.hostname or "").rstrip(".").lower(),
            port or _DEFAULT_PORTS.get(parts.scheme.lower(), 443))


def validate_url(url: object, *, own_hosts: Iterable[tuple[str, int]] = (),
                 own_domains: Iterable[str] = (),
                 max_length: int = DEFAULT_MAX_URL_LENGTH) -> str:
    """The URL, stripped, if it may be shortened; InvalidUrl with the reason otherwise.

    own_hosts: (host, port) pairs the shortener answers on (a link to them would redirect to
    itself); own_domains: host names of the shortener on any port (its custom domain).
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidUrl("url is required (a string)")
    url = url.strip()
    if len(url) > max_length:
        raise InvalidUrl(f"url is {len(url)} characters long; the limit is {max_length}")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidUrl("url must not contain spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidUrl(f"url scheme must be http or https, not {parts.scheme or 'none'!r}")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise InvalidUrl("url has an invalid port") from None
    if not parts.hostname:
        raise InvalidUrl("url has no host")
    if parts.username is not None or parts.password is not None:
        # user:password@host hides the real destination from a reader (a phishing classic).
        raise InvalidUrl("url must not carry credentials (user@host)")
    target = host_port(url)
    domains = {d.rstrip(".").lower() for d in own_domains if d}
    if target in set(own_hosts) or target[0] in domains:
        raise InvalidUrl("url points to this shortener (a redirect loop)")
    return url


def is_expired(last_modified: datetime, days: int, now: datetime) -> bool:
    """S3 lifecycle deletes expired objects up to a day late; the redirect stops on time."""
    return now >= last_modified + timedelta(days=days)


def public_base(headers: Mapping[str, str], configured: str = "") -> str:
    """Base URL of the API as the caller reached it (or the configured public one).

    API Gateway sends Host and X-Forwarded-Proto; localcloud adds X-Forwarded-Prefix, the
    API's local base path.
    """
    if configured:
        return configured.rstrip("/")
    lower = {k.lower(): v for k, v in headers.items()}
    proto = lower.get("x-forwarded-proto", "https").split(",")[0].strip()
    host = lower.get("host", "")
    prefix = lower.get("x-forwarded-prefix", "").rstrip("/")
    return f"{proto}://{host}{prefix}"
