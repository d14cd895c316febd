"""edge_headers on the local cloud: the stack deploys from the root template, and the deployed
functions (invoked through the embedded Lambda API, as CloudFront's replicas would be) turn
CloudFront's viewer-request samples into the requests the origin should see."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[3] / "events" / "edge_headers"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(aws_port=0, api_port=free_port(), quiet=True) as c:
        c.deploy(apps={"edge_headers"})
        yield c


def invoke(cloud: LocalCloud, output: str, event: dict[str, Any]) -> dict[str, Any]:
    name = cloud.outputs()["edge_headers"][output]
    resp = cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    assert "FunctionError" not in resp, resp["Payload"].read()
    return json.loads(resp["Payload"].read())


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def test_stack_outputs_and_only_cloudfront_is_left_to_placeholders(cloud: LocalCloud) -> None:
    out = cloud.outputs()["edge_headers"]
    assert out["PrerenderFunctionVersionArn"].endswith(f":{out['PrerenderFunctionName']}:1")
    assert out["CopyHeadersFunctionVersionArn"].endswith(f":{out['CopyHeadersFunctionName']}:1")
    edge_warnings = [w for w in cloud.warnings if "Distribution" in w or "OriginAccess" in w]
    assert len(edge_warnings) == 2
    # No layer and no environment reach the edge functions.
    for lid in ("CopyHeadersFunction", "PrerenderFunction"):
        spec = cloud.find_function(f"edge_headers/{lid}")
        assert spec.layers == [] and spec.environment == {}
        assert spec.memory_mb == 128 and spec.timeout == 5


@pytest.mark.parametrize(("name", "uri"), [
    ("viewer_request", "/"),
    ("viewer_request_browser", "/blog/post-1"),
    ("viewer_request_googlebot", "/prerendered/blog/post-1.html"),
    ("viewer_request_facebook", "/prerendered/products/index.html"),
])
def test_prerender_function_on_cloudfront_samples(cloud: LocalCloud, name: str,
                                                  uri: str) -> None:
    event = sample(name)
    request = invoke(cloud, "PrerenderFunctionName", event)
    original = event["Records"][0]["cf"]["request"]
    assert request["uri"] == uri
    assert request["querystring"] == original["querystring"]
    assert request["headers"] == original["headers"]


def test_copy_headers_function_on_a_cloudfront_sample(cloud: LocalCloud) -> None:
    event = sample("viewer_request_browser")
    request = invoke(cloud, "CopyHeadersFunctionName", event)
    original = event["Records"][0]["cf"]["request"]["headers"]
    for name, entries in original.items():
        assert request["headers"][name] == entries
        if name != "forwarded-proto":
            assert request["headers"][f"x-{name}"] == [
                {"key": f"X-{e['key']}", "value": e["value"]} for e in entries]
    assert "x-forwarded-proto" not in request["headers"]
    assert request["uri"] == "/blog/post-1"
