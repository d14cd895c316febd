"""Lambda@Edge viewer request: copy every viewer header to an `X-` prefixed header.

The origin then sees what the viewer sent even where CloudFront rewrites or drops a header on
the way. Lambda@Edge allows no layers and no environment variables, so this module stands
alone (standard library only) and its settings are constants.

CloudFront's event shape: `headers` maps a lowercase name to a list of `{"key", "value"}`
entries (several for a repeated header). A copy gets the key `x-<name>` and entries whose
`key` is `X-<original key>`. Copies CloudFront would reject (its disallowed and read-only
names, e.g. `X-Amz-Cf-*`, `X-Edge-*`, `X-Forwarded-Proto`) are skipped, as are copies that
would push the request past CloudFront's size limit: a rejected request would be a 502 for
the viewer.
"""

from __future__ import annotations

import json
from typing import Any

PREFIX = "x-"
# CloudFront refuses requests whose headers a viewer-request function added with these names
# (Lambda@Edge "disallowed headers"), and does not let it set the read-only ones.
DISALLOWED = frozenset({
    "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "trailer", "upgrade", "x-cache", "x-forwarded-proto", "x-real-ip",
    "content-length", "host", "transfer-encoding", "via",
})
DISALLOWED_PREFIXES = ("x-accel-", "x-amz-cf-", "x-edge-")
# A viewer-request function may return at most 40 KB; headers get most of it, the rest is
# left for the URI, query string and the event's other fields.
HEADER_BUDGET_BYTES = 32 * 1024

Headers = dict[str, list[dict[str, str]]]


def allowed_name(name: str) -> bool:
    """Whether CloudFront accepts a header named `name` (lowercase) added at viewer request."""
    return name not in DISALLOWED and not name.startswith(DISALLOWED_PREFIXES)


def headers_size(headers: Headers) -> int:
    """Bytes the headers take on the wire (`Key: value\\r\\n` per entry)."""
    return sum(len(e.get("key", n)) + len(e.get("value", "")) + 4
               for n, entries in headers.items() for e in entries)


def copy_headers(headers: Headers) -> tuple[Headers, list[str]]:
    """The headers plus an `X-` copy of each one; also the names whose copy was skipped.

    A viewer header that already has the copy's name is replaced by the copy: the copy says
    what the viewer sent under the original name, which is what the origin relies on.
    """
    out: Headers = {name: [dict(e) for e in entries] for name, entries in headers.items()}
    skipped: list[str] = []
    size = headers_size(out)
    for name, entries in sorted(headers.items()):
        target = PREFIX + name.lower()
        if not allowed_name(target):
            skipped.append(name)
            continue
        copies = [{"key": "X-" + e.get("key", name), "value": e.get("value", "")}
                  for e in entries]
        grown = size + headers_size({target: copies}) - headers_size({target: out.get(target,
                                                                                      [])})
        if grown > HEADER_BUDGET_BYTES:
            skipped.append(name)
            continue
        out[target] = copies
        size = grown
    return out, skipped


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Viewer request: the request with its headers copied; CloudFront forwards it."""
    request = event["Records"][0]["cf"]["request"]
    request["headers"], skipped = copy_headers(request.get("headers") or {})
    if skipped:
        # Lambda@Edge logs land in CloudWatch in the edge location's region.
        print(json.dumps({"level": "INFO", "message": "Header copies skipped",
                          "skipped": skipped,
                          "requestId": event["Records"][0]["cf"]["config"].get("requestId")}))
    return request
