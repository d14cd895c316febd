"""Pluggable scraping sources: each turns an item identifier into key-value pairs.

A source is configured as data (one item of the sources table):

    {"name": "specs_api", "type": "json_api", "url": "https://api.example.com/p/{identifier}",
     "timeout_seconds": 2, "max_attempts": 3, "backoff_seconds": 0.5, "rate_per_second": 10,
     "priority": 1, "json_path": "data", "enabled": true}

`type` picks the class from SOURCE_TYPES (json_api: an HTTP JSON API, flattened to dotted keys;
html: a web page's <table> th/td rows and <dl> dt/dd pairs); a new kind of source is one class
registered there. Every request goes through `fetch`: a per-source rate limit (shared by all
concurrent scrapers through the `RateLimiter`), a timeout, and retries with exponential backoff
on timeouts, connection errors, 429 and 5xx. 404 means the source does not know the item.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import quote

import requests

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class SourceConfigError(ValueError):
    """A source's configuration item is not usable."""


class RateLimiter(Protocol):
    def acquire(self, source: str, rate_per_second: float) -> None: ...


class NoLimit:
    def acquire(self, source: str, rate_per_second: float) -> None:
        return None


@dataclass
class Fetched:
    """What one source said about one item."""

    source: str
    identifier: str
    url: str
    status: str  # found | not_found | error
    properties: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    error: str | None = None
    http_status: int | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "identifier": self.identifier, "url": self.url,
                "status": self.status, "properties": self.properties, "attempts": self.attempts,
                "error": self.error, "http_status": self.http_status,
                "seconds": round(self.seconds, 3)}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested JSON as dotted key-value pairs; lists of scalars stay lists."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and any(isinstance(v, Mapping | list) for v in value):
        out = {}
        for index, inner in enumerate(value):
            out.update(flatten(inner, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or "value": value}


class _PairParser(HTMLParser):
    """Key-value pairs of a page: table rows (th then td) and definition lists (dt then dd)."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: dict[str, str] = {}
        self._tag: str | None = None
        self._text: list[str] = []
        self._key: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("th", "td", "dt", "dd"):
            self._tag, self._text = tag, []
        elif tag == "tr":
            self._key = None

    def handle_endtag(self, tag: str) -> None:
        if tag != self._tag:
            return
        text = " ".join("".join(self._text).split())
        if tag in ("th", "dt"):
            self._key = text
        elif self._key:
            self.pairs[self._key] = text
            self._key = None
        self._tag = None

    def handle_data(self, data: str) -> None:
        if self._tag is not None:
            self._text.append(data)


def parse_html_pairs(html: str) -> dict[str, str]:
    parser = _PairParser()
    parser.feed(html)
    parser.close()
    return parser.pairs


@dataclass
class HttpSource:
    """What every HTTP source shares: URL template, timeout, retries, backoff, rate."""

    name: str
    url: str
    timeout_seconds: float = 5.0
    max_attempts: int = 3
    backoff_seconds: float = 0.5
    rate_per_second: float = 10.0
    priority: int = 100
    config: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HttpSource:
        name, url = config.get("name"), config.get("url")
        if not isinstance(name, str) or not _NAME.match(name):
            raise SourceConfigError(f"source name {name!r}: lower-case letters, digits, _")
        if not isinstance(url, str) or "{identifier}" not in url or not url.startswith(
                ("http://", "https://")):
            raise SourceConfigError(f"{name}: url must be http(s) with an {{identifier}}")
        try:
            source = cls(name=name, url=url,
                         timeout_seconds=float(config.get("timeout_seconds", 5)),
                         max_attempts=int(config.get("max_attempts", 3)),
                         backoff_seconds=float(config.get("backoff_seconds", 0.5)),
                         rate_per_second=float(config.get("rate_per_second", 10)),
                         priority=int(config.get("priority", 100)), config=config)
        except (TypeError, ValueError) as err:
            raise SourceConfigError(f"{name}: {err}") from err
        if source.max_attempts < 1 or source.timeout_seconds <= 0 or source.rate_per_second <= 0:
            raise SourceConfigError(f"{name}: max_attempts, timeout and rate must be positive")
        return source

    def url_for(self, identifier: str) -> str:
        return self.url.replace("{identifier}", quote(identifier, safe=""))

    def parse(self, response: requests.Response) -> dict[str, Any]:
        raise NotImplementedError

    def fetch(self, identifier: str, session: requests.Session, limiter: RateLimiter,
              sleep: Callable[[float], None] = time.sleep) -> Fetched:
        """Ask the source about one item (rate limit, timeout, retries with backoff)."""
        started = time.monotonic()
        url = self.url_for(identifier)
        result = Fetched(self.name, identifier, url, "error")
        for attempt in range(1, self.max_attempts + 1):
            result.attempts = attempt
            limiter.acquire(self.name, self.rate_per_second)
            try:
                response = session.get(url, timeout=self.timeout_seconds)
            except requests.Timeout:
                result.error = f"timed out after {self.timeout_seconds:g} s"
            except requests.ConnectionError as err:
                result.error = f"connection failed: {type(err).__name__}"
            else:
                result.http_status = response.status_code
                if response.status_code == 404:
                    result.status, result.error = "not_found", None
                    break
                if response.status_code == 200:
                    try:
                        result.properties = self.parse(response)
                    except ValueError as err:  # a page that does not parse: no retry helps
                        result.error = f"unreadable response: {err}"
                        break
                    result.status, result.error = "found", None
                    break
                result.error = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUSES:
                    break
            if attempt < self.max_attempts:
                sleep(self.backoff_seconds * 2 ** (attempt - 1))
        result.seconds = time.monotonic() - started
        return result


class JsonApiSource(HttpSource):
    """An HTTP JSON API; `json_path` (dotted) picks the object that describes the item."""

    def parse(self, response: requests.Response) -> dict[str, Any]:
        try:
            body: Any = response.json()
        except ValueError as err:
            raise ValueError(f"not JSON: {err}") from err
        path = self.config.get("json_path")
        for part in str(path).split(".") if path else []:
            if not isinstance(body, Mapping) or part not in body:
                raise ValueError(f"no {path!r} in the response")
            body = body[part]
        return flatten(body)


class HtmlPageSource(HttpSource):
    """A web page: the th/td rows of its tables and dt/dd pairs of its definition lists."""

    def parse(self, response: requests.Response) -> dict[str, Any]:
        return parse_html_pairs(response.text)


SOURCE_TYPES: dict[str, type[HttpSource]] = {"json_api": JsonApiSource, "html": HtmlPageSource}


def build_sources(items: list[Mapping[str, Any]]) -> list[HttpSource]:
    """Enabled sources from their configuration items, in priority order (then name)."""
    sources = []
    for item in items:
        if item.get("enabled", True) is False:
            continue
        kind = SOURCE_TYPES.get(str(item.get("type")))
        if kind is None:
            raise SourceConfigError(f"{item.get('name')}: type {item.get('type')!r} is not one "
                                    f"of {', '.join(SOURCE_TYPES)}")
        sources.append(kind.from_config(item))
    return sorted(sources, key=lambda s: (s.priority, s.name))


class DynamoRateLimiter:
    """At most `rate_per_second` requests per source per second, across every concurrent
    scraper: one counter item per (source, second), raised with a conditional update."""

    def __init__(self, table: Any, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self.sleep = sleep
        self.clock = clock

    def acquire(self, source: str, rate_per_second: float) -> None:
        # Rates below one a second become one request per window of 1/rate seconds.
        window_seconds = max(1.0, 1.0 / rate_per_second)
        limit = max(1, int(rate_per_second * window_seconds))
        while True:
            now = self.clock()
            window = int(now // window_seconds)
            try:
                self.table.update_item(
                    Key={"source": source, "window": window},
                    UpdateExpression="ADD #n :one SET expires_at = :expires",
                    ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
                    ExpressionAttributeNames={"#n": "requests"},
                    ExpressionAttributeValues={":one": 1, ":limit": limit,
                                               ":expires": int(now) + 3600})
                return
            except self.table.meta.client.exceptions.ConditionalCheckFailedException:
                self.sleep((window + 1) * window_seconds - now)


def response_document(fetched: Fetched) -> bytes:
    return json.dumps({**fetched.as_dict(), "fetched_at": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, default=str).encode()
