"""The edge_headers scenario for `localcloud demo`.

CloudFront is not emulated locally, so the scenario plays its part: it uploads a small site
(the app's index.html and the prerendered pages) to the stack's bucket, sends CloudFront's
viewer-request events (the samples in events/edge_headers/) through the deployed functions,
and fetches what the origin would serve for the request each function returned. Googlebot and
Facebook get the prerendered HTML, a browser gets the app; the header copies arrive intact.
AssertionError when anything misbehaves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events" / "edge_headers"
SITE = {
    "index.html": "<html><body><div id='app'></div><script src='/static/app.js'></script>",
    "static/app.js": "document.getElementById('app').textContent = 'rendered in the browser';",
    "prerendered/index.html": "<html><body><h1>Home (prerendered)</h1></body></html>",
    "prerendered/blog/post-1.html": "<html><body><h1>Post 1 (prerendered)</h1></body></html>",
    "prerendered/products/index.html": "<html><body><h1>Products (prerendered)</h1></body>",
}


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def origin_fetch(s3: Any, bucket: str, uri: str) -> str:
    """What the S3 origin returns for `uri` (the SPA's index.html for app routes)."""
    key = uri.lstrip("/") or "index.html"
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except s3.exceptions.NoSuchKey:
        # The distribution of a single page app answers unknown paths with the app.
        return s3.get_object(Bucket=bucket, Key="index.html")["Body"].read().decode()


def run(ctx: Any) -> None:
    out = ctx.outputs
    for name in ("PrerenderFunctionName", "CopyHeadersFunctionName", "SiteBucketName",
                 "PrerenderFunctionVersionArn"):
        expect(bool(out.get(name)), f"stack output {name} is missing")
    s3, lam = ctx.client("s3"), ctx.client("lambda")
    bucket = out["SiteBucketName"]
    for key, body in SITE.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(),
                      ContentType="text/html" if key.endswith(".html") else "text/javascript")
    ctx.step(f"site uploaded to {bucket}: {', '.join(SITE)}")
    version = out["PrerenderFunctionVersionArn"].rsplit(":", 1)[-1]
    ctx.step(f"published versions for CloudFront: prerender :{version}")

    def viewer_request(function: str, event_name: str) -> dict[str, Any]:
        resp = lam.invoke(FunctionName=out[function], Payload=json.dumps(sample(event_name)))
        expect("FunctionError" not in resp, f"{function} failed on {event_name}")
        return json.loads(resp["Payload"].read())

    for event_name, wanted in (("viewer_request_googlebot", "Post 1 (prerendered)"),
                               ("viewer_request_facebook", "Products (prerendered)"),
                               ("viewer_request_browser", "<div id='app'>")):
        request = viewer_request("PrerenderFunctionName", event_name)
        agent = request["headers"]["user-agent"][0]["value"]
        page = origin_fetch(s3, bucket, request["uri"])
        expect(wanted in page, f"{event_name}: {request['uri']} served {page[:60]!r}")
        ctx.step(f"{agent[:40]:40} -> {request['uri']:32} -> {wanted}")

    asset = sample("viewer_request_googlebot")
    asset["Records"][0]["cf"]["request"]["uri"] = "/static/app.js"
    resp = lam.invoke(FunctionName=out["PrerenderFunctionName"], Payload=json.dumps(asset))
    uri = json.loads(resp["Payload"].read())["uri"]
    expect(uri == "/static/app.js", f"an asset was rewritten for Googlebot: {uri}")
    ctx.step("Googlebot asking for /static/app.js gets the same file as everyone")

    request = viewer_request("CopyHeadersFunctionName", "viewer_request_browser")
    headers = request["headers"]
    sent = sample("viewer_request_browser")["Records"][0]["cf"]["request"]["headers"]
    for name, entries in sent.items():
        if name == "forwarded-proto":
            expect("x-forwarded-proto" not in headers, "X-Forwarded-Proto must not be set")
            continue
        copies = headers.get(f"x-{name}")
        expect(copies == [{"key": "X-" + e["key"], "value": e["value"]} for e in entries],
               f"copy of {name} is {copies}")
    expect(all(k == k.lower() and all(e["key"].lower() == k for e in v)
               for k, v in headers.items()), "header names must be lowercase keys")
    ctx.step(f"copy headers: {len(sent)} viewer headers -> {len(headers)} headers "
             f"(X-Forwarded-Proto is CloudFront's: not copied); X-Cookie keeps both values")
