from __future__ import annotations

import socket

import boto3
import pytest
import requests
from dm_sources import (
    DynamoRateLimiter,
    HtmlPageSource,
    JsonApiSource,
    NoLimit,
    SourceConfigError,
    build_sources,
    flatten,
    parse_html_pairs,
)
from moto import mock_aws


def test_flatten_and_html_pairs() -> None:
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": [{"e": "x"}], "f": None}) == {
        "a.b": 1, "a.c": [1, 2], "d.0.e": "x", "f": None}
    assert flatten(7) == {"value": 7}
    html = ("<table><tr><th> Color </th><td>Red <b>dark</b></td></tr><tr><td>orphan</td></tr>"
            "</table><dl><dt>Size</dt><dd>L</dd></dl>")
    assert parse_html_pairs(html) == {"Color": "Red dark", "Size": "L"}


def _sources(base, dm_demo):
    return {s.name: s for s in build_sources(dm_demo.source_items(base))}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_found_not_found_and_parsed(served, dm_demo) -> None:
    base, catalog, ids = served
    sources, session = _sources(base, dm_demo), requests.Session()
    known = next(i for i in ids if i in catalog.known and i not in catalog.slow)
    info = dm_demo.product(known)
    got = sources["specs_api"].fetch(known, session, NoLimit())
    assert (got.status, got.attempts, got.http_status) == ("found", 1, 200)
    assert got.properties == {"Colour": info["color"], "Weight (g)": info["weight_g"],
                              "connector.type": info["connector"], "sku": known}
    page = sources["catalog_page"].fetch(known, session, NoLimit())
    assert page.properties["Weight"] == f"{info['weight_g']} g"
    unknown = next(i for i in ids if i not in catalog.known)
    missing = sources["specs_api"].fetch(unknown, session, NoLimit())
    assert (missing.status, missing.attempts, missing.properties) == ("not_found", 1, {})


def test_timeouts_retries_and_backoff(served, dm_demo) -> None:
    base, catalog, ids = served
    sources, session = _sources(base, dm_demo), requests.Session()
    slow = next(iter(sorted(catalog.slow)))
    sleeps = Sleeps()
    got = sources["slow_api"].fetch(slow, session, NoLimit(), sleep=sleeps)
    assert (got.status, got.attempts) == ("error", 2)
    assert got.error == "timed out after 0.4 s"
    assert sleeps == [0.05]  # backoff between the two attempts
    flaky = next(i for i in ids if i in catalog.known and i not in catalog.broken)
    sleeps = Sleeps()
    got = sources["flaky_api"].fetch(flaky, session, NoLimit(), sleep=sleeps)
    assert (got.status, got.attempts, sleeps) == ("found", 2, [0.1])  # 503, then 200
    broken = next(iter(sorted(catalog.broken)))
    sleeps = Sleeps()
    got = sources["flaky_api"].fetch(broken, session, NoLimit(), sleep=sleeps)
    assert (got.status, got.attempts, got.error, sleeps) == ("error", 3, "HTTP 500",
                                                            [0.1, 0.2])  # exponential
    assert catalog.count("flaky", broken) == 3


def test_connection_refused_and_no_retry_on_400(dm_demo) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    source = JsonApiSource.from_config({"name": "gone", "type": "json_api", "max_attempts": 2,
                                        "backoff_seconds": 0,
                                        "url": f"http://127.0.0.1:{port}/{{identifier}}"})
    got = source.fetch("X", requests.Session(), NoLimit(), sleep=lambda s: None)
    assert (got.status, got.attempts) == ("error", 2)
    assert got.error.startswith("connection failed")

    class Answer:
        status_code = 400

    class Session:
        calls = 0

        def get(self, url, timeout):
            Session.calls += 1
            return Answer()

    got = source.fetch("X", Session(), NoLimit(), sleep=lambda s: None)
    assert (got.status, got.error, Session.calls) == ("error", "HTTP 400", 1)


def test_url_identifier_is_quoted() -> None:
    source = HtmlPageSource.from_config({"name": "p", "type": "html",
                                         "url": "https://x.example/{identifier}.html"})
    assert source.url_for("A B/1") == "https://x.example/A%20B%2F1.html"


@pytest.mark.parametrize("config, message", [
    ({"name": "Bad Name", "type": "json_api", "url": "http://x/{identifier}"}, "lower-case"),
    ({"name": "a", "type": "json_api", "url": "http://x/"}, "{identifier}"),
    ({"name": "a", "type": "json_api", "url": "ftp://x/{identifier}"}, "http"),
    ({"name": "a", "type": "json_api", "url": "http://x/{identifier}", "max_attempts": 0},
     "positive"),
    ({"name": "a", "type": "pdf", "url": "http://x/{identifier}"}, "type 'pdf'"),
])
def test_source_configuration_errors(config, message) -> None:
    with pytest.raises(SourceConfigError, match=message):
        build_sources([config])


def test_build_sources_orders_by_priority_and_skips_disabled(dm_demo) -> None:
    items = dm_demo.source_items("http://h")
    items[0]["enabled"] = False
    assert [s.name for s in build_sources(items)] == ["catalog_page", "slow_api", "flaky_api"]


def test_rate_limiter_shares_a_window_per_source() -> None:
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        table = ddb.create_table(
            TableName="rate", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "source", "KeyType": "HASH"},
                       {"AttributeName": "window", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "source", "AttributeType": "S"},
                                  {"AttributeName": "window", "AttributeType": "N"}])
        now = [1000.25]
        sleeps: list[float] = []

        def sleep(seconds: float) -> None:
            sleeps.append(round(seconds, 2))
            now[0] += seconds

        limiter = DynamoRateLimiter(table, sleep=sleep, clock=lambda: now[0])
        other = DynamoRateLimiter(table, sleep=sleep, clock=lambda: now[0])  # a 2nd scraper
        for i in range(7):
            (limiter if i % 2 else other).acquire("api", 3)
        assert sleeps == [0.75, 1.0]  # 3 in second 1000, 3 in 1001, the 7th in 1002
        other.acquire("another", 3)  # each source its own budget
        assert sleeps == [0.75, 1.0]
        limiter.acquire("slowest", 0.5)  # one request per 2-second window
        limiter.acquire("slowest", 0.5)
        assert sleeps[-1] == 2.0
