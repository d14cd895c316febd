"""us_links: URL validation, ids, expiry, the short link's base; app: collision-free storage
and resolution against moto's S3 (If-None-Match is S3's own conditional write)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
import us_links as ul
from moto import mock_aws

OWN = [("short.example.com", 443), ("127.0.0.1", 3000)]


@pytest.mark.parametrize("url", [
    "https://example.com", "http://example.com:8080/a?b=c#d", "HTTPS://Example.com/x",
    "http://127.0.0.1:3001/other-port", "https://short.example.com:8443/other-port",
])
def test_accepted(url: str) -> None:
    assert ul.validate_url(f"  {url} ", own_hosts=OWN) == url


@pytest.mark.parametrize(("url", "phrase"), [
    (None, "url is required"), ("", "url is required"), (42, "url is required"),
    ("ftp://example.com/f", "not 'ftp'"), ("javascript:alert(1)", "not 'javascript'"),
    ("example.com/page", "not 'none'"), ("https:///path", "no host"),
    ("https://a:b@example.com", "credentials"), ("https://a@example.com", "credentials"),
    ("https://example.com:99999/", "invalid port"), ("https://exa mple.com", "spaces"),
    ("https://example.com/\x00", "control characters"),
    ("https://short.example.com/abc", "redirect loop"),
    ("https://SHORT.example.com.:443/abc", "redirect loop"),
    ("http://127.0.0.1:3000/url_shortener/abcdefg", "redirect loop"),
    ("https://links.example.org/x", "redirect loop"),
])
def test_refused_with_the_reason(url: object, phrase: str) -> None:
    with pytest.raises(ul.InvalidUrl, match=phrase):
        ul.validate_url(url, own_hosts=OWN, own_domains=["links.example.org"])


def test_length_limit() -> None:
    url = "https://example.com/" + "a" * 80
    assert ul.validate_url(url, max_length=len(url)) == url
    with pytest.raises(ul.InvalidUrl, match=f"{len(url)} characters long; the limit is 99"):
        ul.validate_url(url, max_length=99)


def test_ids() -> None:
    ids = {ul.new_id() for _ in range(2000)}
    assert len(ids) == 2000 and all(ul.is_id(i) for i in ids)
    assert not ul.is_id("admin") and not ul.is_id("abc-def") and not ul.is_id("abcdefgh")


def test_expiry_and_base() -> None:
    made = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert not ul.is_expired(made, 7, made + timedelta(days=6, hours=23))
    assert ul.is_expired(made, 7, made + timedelta(days=7))
    assert ul.public_base({"Host": "abc.execute-api.us-east-1.amazonaws.com",
                           "X-Forwarded-Proto": "https"}) == \
        "https://abc.execute-api.us-east-1.amazonaws.com"
    assert ul.public_base({"host": "127.0.0.1:3000", "x-forwarded-proto": "http",
                           "x-forwarded-prefix": "/url_shortener"}) == \
        "http://127.0.0.1:3000/url_shortener"
    assert ul.public_base({"host": "x"}, "https://s.example.com/") == "https://s.example.com"


@mock_aws
def test_store_link_never_overwrites_and_resolves(us_app, monkeypatch) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="links")
    s3.put_object(Bucket="links", Key="u/TAKEN01", Body=b"", WebsiteRedirectLocation="https://a")
    drawn = iter(["TAKEN01", "TAKEN01", "FRESH01"])
    monkeypatch.setattr(us_app, "new_id", lambda: next(drawn))
    assert us_app.store_link(s3, "links", "https://b.example.com/") == "FRESH01"
    assert us_app.resolve_link(s3, "links", "TAKEN01", 7) == "https://a"  # untouched
    assert us_app.resolve_link(s3, "links", "FRESH01", 7) == "https://b.example.com/"
    assert us_app.resolve_link(s3, "links", "NOTHERE", 7) is None
    later = datetime.now(UTC) + timedelta(days=8)
    assert us_app.resolve_link(s3, "links", "FRESH01", 7, now=later) is None
    monkeypatch.setattr(us_app, "new_id", lambda: "TAKEN01")
    with pytest.raises(us_app.IdSpaceExhausted):
        us_app.store_link(s3, "links", "https://c.example.com/", attempts=3)
