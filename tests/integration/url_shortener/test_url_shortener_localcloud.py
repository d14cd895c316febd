"""url_shortener on localcloud through its HTTP API: the demo's scenario (shorten, redirect
object, 301, lifecycle, bad URLs, 404), concurrent shortening, malformed requests."""

from __future__ import annotations

import importlib.util
import json
import socket
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.demo import DemoContext

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("url_shortener_demo_it",
                                                  ROOT / "functions/url_shortener/demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ctx():
    cloud = LocalCloud(aws_port=0, api_port=_free_port(), quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"url_shortener"})
        cloud.start_api()
        cloud.start_delivery()
        ctx = DemoContext(cloud, "url_shortener")
        ctx.steps = []  # type: ignore[attr-defined]
        ctx.step = ctx.steps.append  # type: ignore[method-assign, attr-defined]
        yield ctx
    finally:
        cloud.stop()


def test_scenario(ctx) -> None:
    demo.run(ctx)
    assert any("GET /{id} -> 301 -> the target page" in s for s in ctx.steps)


def test_concurrent_shortening_gives_distinct_working_links(ctx) -> None:
    api = ctx.outputs["ApiUrl"]
    urls = [f"https://example.com/doc/{i}" for i in range(24)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda u: ctx.http("POST", f"{api}/shorten", {"url": u}), urls))
    assert all(status == 201 for status, _ in answers)
    ids = [body["id"] for _, body in answers]
    assert len(set(ids)) == len(urls)
    for url, short_id in zip(urls, ids, strict=True):
        status, headers, _ = demo.get_no_follow(f"{api}/{short_id}")
        assert (status, headers["Location"]) == (301, url)


def test_malformed_requests(ctx) -> None:
    api = ctx.outputs["ApiUrl"]
    status, body = ctx.http("POST", f"{api}/shorten", ["https://example.com"])
    assert status == 400 and "JSON object" in body["message"]
    req = urllib.request.Request(f"{api}/shorten", data=b"{not json", method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=30)
        raise AssertionError("accepted a body that is not JSON")
    except urllib.error.HTTPError as err:
        assert err.code == 400
    status, _, body = demo.get_no_follow(f"{api}/bad-id!")
    assert status == 404 and "no short link" in json.loads(body)["message"]
    status, _, _ = demo.get_no_follow(f"{api}/shorten")  # GET on a POST-only path
    assert status == 404
