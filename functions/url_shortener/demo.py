"""The url_shortener scenario for `localcloud demo`, and the local target site it (and the
tests) shorten links to: a real HTTP server on 127.0.0.1 (the machine has no network).

Scenario: shorten a link to the target site -> 201 with a 7-character id; the redirect object
u/<id> is empty and carries the URL as its website redirect location; GET /{id} answers 301
to it and following it reaches the target page; the lifecycle rule expires u/ after 7 days;
bad URLs (ftp scheme, no host, credentials, too long, a link to the shortener itself) -> 400
with the reason; an unknown id -> 404; the admin page is served as HTML.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET_TITLE = "Target reached"


@contextmanager
def target_site() -> Iterator[str]:
    """A page to redirect to: http://127.0.0.1:<port>; GET /<anything> echoes its path."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = (f"<!DOCTYPE html><html><head><title>{TARGET_TITLE}</title></head><body>"
                    f"<h1 id='path'>{self.path}</h1></body></html>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get_no_follow(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET without following redirects: (status, headers, body)."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def bad_urls(api_url: str) -> dict[str, str]:
    """long URL -> a phrase of the 400's message."""
    return {
        "ftp://files.example.com/report.pdf": "scheme must be http or https",
        "javascript:alert(1)": "scheme must be http or https",
        "https://": "no host",
        "https://user:secret@example.com/": "must not carry credentials",
        "https://example.com/" + "a" * 2100: "the limit is 2048",
        "https://exa mple.com/": "must not contain spaces",
        f"{api_url}/abcdefg": "points to this shortener",
        "": "url is required",
    }


def run(ctx: Any) -> None:
    api = ctx.outputs["ApiUrl"]
    s3 = ctx.client("s3")
    bucket = ctx.outputs["LinksBucketName"]
    with target_site() as site:
        long_url = f"{site}/docs/architecture.pdf?version=3&signature=" + "x" * 200
        status, body = ctx.http("POST", f"{api}/shorten", {"url": long_url})
        if status != 201 or len(body.get("id", "")) != 7:
            raise AssertionError(f"POST /shorten: {status} {body}")
        short_id = body["id"]
        ctx.step(f"shortened a {len(long_url)}-character URL to {body['short_url']}")
        head = s3.head_object(Bucket=bucket, Key=f"u/{short_id}")
        if head["ContentLength"] != 0 or head.get("WebsiteRedirectLocation") != long_url:
            raise AssertionError(f"u/{short_id}: {head}")
        ctx.step(f"s3://{bucket}/u/{short_id}: empty, website redirect location set")
        status, headers, _ = get_no_follow(body["short_url"])
        if status != 301 or headers.get("Location") != long_url:
            raise AssertionError(f"GET /{short_id}: {status} {headers}")
        with urllib.request.urlopen(body["short_url"], timeout=30) as resp:
            page = resp.read().decode()
        if TARGET_TITLE not in page or "/docs/architecture.pdf" not in page:
            raise AssertionError(f"following the link: {page[:200]}")
        ctx.step("GET /{id} -> 301 -> the target page")
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    if [(r["Filter"].get("Prefix"), r["Expiration"]["Days"]) for r in rules] != [("u/", 7)]:
        raise AssertionError(f"lifecycle rules: {rules}")
    ctx.step("lifecycle: u/ expires after 7 days")
    for url, phrase in bad_urls(api).items():
        status, answer = ctx.http("POST", f"{api}/shorten", {"url": url})
        if status != 400 or phrase not in answer.get("message", ""):
            raise AssertionError(f"{url[:60]!r}: {status} {answer}")
    ctx.step(f"{len(bad_urls(api))} bad URLs refused with 400 and the reason")
    status, answer = ctx.http("GET", f"{api}/ZZZZZZZ")
    if status != 404:
        raise AssertionError(f"unknown id: {status} {answer}")
    status, page = ctx.http("GET", f"{api}/admin")
    if status != 200 or 'id="shorten-form"' not in page:
        raise AssertionError(f"admin page: {status}")
    ctx.step(f"unknown id -> 404; admin page at {api}/admin")
