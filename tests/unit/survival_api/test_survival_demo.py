"""The survival_api demo against the real handler in-process (no HTTP): it passes on the real
app and fails, with a message, when the app is one ulp off or answers wrongly."""

from __future__ import annotations

import base64
import json
import math
from types import SimpleNamespace

import pytest

BASE = "http://api.test/survival_api"


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/survival_api/demo.py", "survival_api_demo")


class InProcessApi:
    """ctx.http and the demo's PNG fetcher, served by app.handler with HTTP API v2 events."""

    def __init__(self, app, context, tamper=None):
        self.app, self.context, self.tamper = app, context, tamper
        self.calls = []

    def _invoke(self, url, body):
        path = url.removeprefix(BASE)
        self.calls.append(path)
        event = {"version": "2.0", "routeKey": f"POST {path}", "rawPath": path,
                 "requestContext": {"requestId": f"demo-{len(self.calls)}"},
                 "body": json.dumps(body), "isBase64Encoded": False}
        return self.app.handler(event, self.context)

    def http(self, method, url, body=None, headers=None):
        assert method == "POST"
        response = self._invoke(url, body)
        decoded = json.loads(response["body"])
        if self.tamper:
            decoded = self.tamper(decoded)
        return response["statusCode"], decoded

    def post_png(self, url, body):
        response = self._invoke(url, body)
        return response["statusCode"], response["headers"], base64.b64decode(response["body"])


def _ctx(api, outputs=None):
    steps = []
    return SimpleNamespace(outputs={"ApiUrl": BASE} if outputs is None else outputs,
                           http=api.http, step=steps.append, steps=steps)


@pytest.mark.slow
def test_the_scenario_passes_on_the_real_handler(demo, app, lambda_context):
    api = InProcessApi(app, lambda_context)
    ctx = _ctx(api)
    demo.run(ctx, post_png=api.post_png)
    assert api.calls == ["/survival"] * 4 + ["/survival/plot"]
    assert "equal Rscript's, bit for bit" in ctx.steps[1]
    assert "both curves drawn" in ctx.steps[-1]


def test_one_ulp_off_is_caught(demo, app, lambda_context):
    def nudge(body):
        if body.get("statistics_list"):
            first = body["statistics_list"][0]
            first["hazard"] = math.nextafter(first["hazard"], math.inf)
        return body

    api = InProcessApi(app, lambda_context, tamper=nudge)
    with pytest.raises(AssertionError, match="row 0: API gave hazard=.* Rscript prints"):
        demo.run(_ctx(api), post_png=api.post_png)


def test_a_bad_status_and_a_missing_output_are_caught(demo, app, lambda_context):
    api = InProcessApi(app, lambda_context)
    with pytest.raises(AssertionError, match="ApiUrl is missing"):
        demo.run(_ctx(api, outputs={}), post_png=api.post_png)
    failing = SimpleNamespace(outputs={"ApiUrl": BASE}, step=lambda m: None,
                              http=lambda *a, **k: (502, {"message": "Internal server error"}))
    with pytest.raises(AssertionError, match="POST /survival answered 502"):
        demo.run(failing, post_png=api.post_png)
