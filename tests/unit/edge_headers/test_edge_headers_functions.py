"""edge_headers: both viewer-request functions on CloudFront's own event samples (events/).

Checks the rules CloudFront applies to what a viewer-request function returns (lowercase
header names equal to their entries' keys, no disallowed or read-only names added), and the
Lambda@Edge limits on the functions themselves (standard library only, no layers, no
environment variables, 128 MB / 5 s, a published version).
"""

from __future__ import annotations

import ast
import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from localcloud import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "edge_headers"
FUNCTIONS = ROOT / "functions" / "edge_headers"


@pytest.fixture(scope="module")
def copy_app(load_module: Any) -> Any:
    return load_module("functions/edge_headers/copy_headers/app.py", "edge_headers_copy_app")


@pytest.fixture(scope="module")
def prerender_app(load_module: Any) -> Any:
    return load_module("functions/edge_headers/prerender/app.py", "edge_headers_prerender_app")


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def assert_valid_cloudfront_request(request: dict[str, Any], copy_app: Any) -> None:
    for name, entries in request["headers"].items():
        assert name == name.lower(), name
        assert entries, name
        for entry in entries:
            assert set(entry) == {"key", "value"}, entry
            assert entry["key"].lower() == name, (name, entry)


def test_every_header_of_the_docs_sample_is_copied(copy_app: Any) -> None:
    sample = event("viewer_request")
    original = copy.deepcopy(sample["Records"][0]["cf"]["request"]["headers"])
    out = copy_app.handler(sample, None)
    headers = out["headers"]
    assert headers["x-host"] == [{"key": "X-Host", "value": "d111111abcdef8.cloudfront.net"}]
    assert headers["x-user-agent"] == [{"key": "X-User-Agent", "value": "curl/7.66.0"}]
    assert headers["x-accept"] == [{"key": "X-accept", "value": "*/*"}]
    for name, entries in original.items():  # the originals are untouched
        assert headers[name] == entries
    assert len(headers) == 2 * len(original)
    assert out["uri"] == "/" and out["method"] == "GET" and out["clientIp"] == "203.0.113.178"
    assert_valid_cloudfront_request(out, copy_app)


def test_repeated_headers_keep_every_value_and_disallowed_copies_are_skipped(
        copy_app: Any, capsys: pytest.CaptureFixture[str]) -> None:
    out = copy_app.handler(event("viewer_request_browser"), None)
    headers = out["headers"]
    assert headers["x-cookie"] == [{"key": "X-Cookie", "value": "session=abc123"},
                                   {"key": "X-Cookie", "value": "theme=dark"}]
    assert headers["x-x-forwarded-for"][0]["value"] == "2001:0db8:85a3:0:0:8a2e:0370:7334"
    # X-Forwarded-Proto may not be set by a function: CloudFront would answer 502.
    assert "x-forwarded-proto" not in headers
    assert headers["forwarded-proto"] == [{"key": "Forwarded-Proto", "value": "https"}]
    assert_valid_cloudfront_request(out, copy_app)
    logged = json.loads(capsys.readouterr().out.strip())
    assert logged["skipped"] == ["forwarded-proto"]


@pytest.mark.parametrize("name", ["edge-location", "amz-cf-pop", "accel-buffering", "cache",
                                  "real-ip", "forwarded-proto"])
def test_copies_cloudfront_forbids_are_not_added(copy_app: Any, name: str) -> None:
    headers = {name: [{"key": name.title(), "value": "v"}]}
    out, skipped = copy_app.copy_headers(headers)
    assert out == headers and skipped == [name]


def test_a_viewer_sent_x_header_is_replaced_by_the_copy(copy_app: Any) -> None:
    headers = {"user": [{"key": "User", "value": "alice"}],
               "x-user": [{"key": "X-User", "value": "mallory"}]}
    out, skipped = copy_app.copy_headers(headers)
    assert out["x-user"] == [{"key": "X-User", "value": "alice"}]
    assert out["x-x-user"] == [{"key": "X-X-User", "value": "mallory"}]
    assert skipped == []


def test_copies_stop_at_the_size_budget(copy_app: Any) -> None:
    big = "a" * 6000
    headers = {f"h{i}": [{"key": f"H{i}", "value": big}] for i in range(4)}
    out, skipped = copy_app.copy_headers(headers)
    assert copy_app.headers_size(out) <= copy_app.HEADER_BUDGET_BYTES
    copied = [n for n in headers if f"x-{n}" in out]
    assert len(copied) == 1 and skipped == ["h1", "h2", "h3"]


def test_googlebot_gets_the_prerendered_page_and_keeps_its_query(prerender_app: Any) -> None:
    out = prerender_app.handler(event("viewer_request_googlebot"), None)
    assert out["uri"] == "/prerendered/blog/post-1.html"
    assert out["querystring"] == "size=LARGE"
    assert out["headers"]["user-agent"][0]["value"].startswith("Mozilla/5.0 (compatible; Goo")


def test_facebook_preview_of_a_folder_gets_its_index(prerender_app: Any) -> None:
    assert prerender_app.handler(event("viewer_request_facebook"), None)["uri"] == \
        "/prerendered/products/index.html"


@pytest.mark.parametrize("name", ["viewer_request", "viewer_request_browser"])
def test_people_and_tools_get_the_app(prerender_app: Any, name: str) -> None:
    sample = event(name)
    uri = sample["Records"][0]["cf"]["request"]["uri"]
    assert prerender_app.handler(sample, None)["uri"] == uri


@pytest.mark.parametrize(("uri", "expected"), [
    ("/", "/prerendered/index.html"),
    ("/blog/", "/prerendered/blog/index.html"),
    ("/blog/post-1", "/prerendered/blog/post-1.html"),
    ("/static/app.js", None),
    ("/img/logo.png", None),
    ("/prerendered/blog/post-1.html", None),
    ("/prerendered", None),
    ("/prerendered-not/x", "/prerendered/prerendered-not/x.html"),
])
def test_prerendered_uris(prerender_app: Any, uri: str, expected: str | None) -> None:
    assert prerender_app.prerendered_uri(uri) == expected


@pytest.mark.parametrize(("agent", "crawler"), [
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", True),
    ("Twitterbot/1.0", True),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", True),
    ("LinkedInBot/1.0 (compatible; Mozilla/5.0)", True),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1", False),
    ("", False),
    (None, False),
])
def test_crawler_detection(prerender_app: Any, agent: str | None, crawler: bool) -> None:
    assert prerender_app.is_crawler(agent) is crawler


def test_a_request_without_user_agent_is_left_alone(prerender_app: Any) -> None:
    request = {"uri": "/blog/post-1", "headers": {}}
    assert prerender_app.route(dict(request)) == request


@pytest.mark.parametrize("function", ["copy_headers", "prerender"])
def test_edge_functions_import_the_standard_library_only(function: str) -> None:
    tree = ast.parse((FUNCTIONS / function / "app.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add((node.module or "").split(".")[0])
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported


def test_the_stack_respects_lambda_at_edge_limits() -> None:
    template = cfn_yaml.load(ROOT / "stacks" / "edge_headers.yaml")
    glob = template["Globals"]["Function"]
    assert "Layers" not in glob and "Environment" not in glob and "Tracing" not in glob
    assert glob["MemorySize"] <= 128 and glob["Timeout"] <= 5
    assert glob["AutoPublishAlias"]
    principals = glob["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    assert "edgelambda.amazonaws.com" in principals
    functions = {k: v for k, v in template["Resources"].items()
                 if v["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == {"CopyHeadersFunction", "PrerenderFunction"}
    for props in (f["Properties"] for f in functions.values()):
        assert not {"Layers", "Environment", "Tracing", "DeadLetterQueue"} & set(props)
    dist = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    associations = [dist["DefaultCacheBehavior"]["LambdaFunctionAssociations"][0]] + [
        a for b in dist["CacheBehaviors"] for a in b["LambdaFunctionAssociations"]]
    assert {a["EventType"] for a in associations} == {"viewer-request"}
    assert {a["LambdaFunctionARN"]["Ref"] for a in associations} == {
        "PrerenderFunction.Version", "CopyHeadersFunction.Version"}
