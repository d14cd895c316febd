"""Lambda@Edge viewer request: send crawlers to the prerendered copy of a page.

Search engines and link previews (Google, Bing, Facebook, Twitter, Slack, ...) get the page
from `/prerendered/...`, which the build writes as static HTML; everyone else gets the single
page app. Run at viewer request, so the rewritten URI is the cache key: crawlers and people
never share a cached copy, without a Vary header or forwarding User-Agent to the origin.

Lambda@Edge allows no layers and no environment variables: standard library only, settings
are constants of this module.
"""

from __future__ import annotations

import json
import re
from typing import Any

PRERENDER_PREFIX = "/prerendered"
# Substrings of the User-Agent of crawlers and link-preview fetchers (matched case-blind).
CRAWLERS = (
    "googlebot", "google-inspectiontool", "adsbot-google", "bingbot", "yandex", "baiduspider",
    "duckduckbot", "applebot", "slurp", "facebookexternalhit", "facebot", "twitterbot",
    "linkedinbot", "slackbot", "discordbot", "telegrambot", "whatsapp", "pinterest",
    "redditbot", "embedly", "skypeuripreview", "petalbot",
)
_CRAWLER_RE = re.compile("|".join(re.escape(c) for c in CRAWLERS), re.IGNORECASE)
# Files with an extension (scripts, styles, images) are the same for crawlers: left alone.
_HAS_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")


def is_crawler(user_agent: str | None) -> bool:
    """Whether `user_agent` is one of the crawlers served prerendered pages."""
    return bool(user_agent) and _CRAWLER_RE.search(user_agent or "") is not None


def prerendered_uri(uri: str) -> str | None:
    """The prerendered page for `uri`, or None when the URI is an asset (has an extension).

    `/` -> `/prerendered/index.html`, `/blog/` -> `/prerendered/blog/index.html`,
    `/blog/post-1` -> `/prerendered/blog/post-1.html`.
    """
    if not uri.startswith("/"):
        uri = "/" + uri
    if uri == PRERENDER_PREFIX or uri.startswith(PRERENDER_PREFIX + "/"):
        return None  # already there (a crawler following a prerendered link)
    if uri.endswith("/"):
        return f"{PRERENDER_PREFIX}{uri}index.html"
    last = uri.rsplit("/", 1)[-1]
    if _HAS_EXTENSION.search(last):
        return None
    return f"{PRERENDER_PREFIX}{uri}.html"


def user_agent_of(headers: dict[str, list[dict[str, str]]]) -> str | None:
    entries = headers.get("user-agent") or []
    return entries[0].get("value") if entries else None


def route(request: dict[str, Any]) -> dict[str, Any]:
    """The request, its URI rewritten when a crawler asks for a page."""
    if not is_crawler(user_agent_of(request.get("headers") or {})):
        return request
    target = prerendered_uri(request.get("uri") or "/")
    if target is not None:
        request["uri"] = target  # the query string stays as it was
    return request


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Viewer request: the (possibly rewritten) request; CloudFront continues with it."""
    cf = event["Records"][0]["cf"]
    request = cf["request"]
    before = request.get("uri")
    request = route(request)
    if request.get("uri") != before:
        print(json.dumps({"level": "INFO", "message": "Crawler sent to the prerendered page",
                          "uri": before, "rewritten": request["uri"],
                          "requestId": cf["config"].get("requestId")}))
    return request
