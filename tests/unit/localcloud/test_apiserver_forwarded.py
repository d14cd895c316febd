"""The proxy events carry X-Forwarded-For/Proto/Port (as API Gateway sends them) and
X-Forwarded-Prefix, the API's local base path, so a handler can build absolute URLs to itself."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from localcloud.apiserver import ApiServer, _forwarded
from localcloud.deployer import ApiDefinition, ApiRoute

FN = "arn:aws:lambda:us-east-1:123456789012:function:f"


class _Cloud:
    def __init__(self, api: ApiDefinition) -> None:
        self.apis = [api]
        self.events: list[dict[str, Any]] = []

    def invoke(self, arn: str, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return SimpleNamespace(ok=True, payload=json.dumps({"statusCode": 200, "body": "ok"}))

    def _log(self, *args: Any) -> None:
        return None


def _api(kind: str) -> ApiDefinition:
    api = ApiDefinition(api_id="abc", app="shop", logical_id="Api", kind=kind,
                        routes=[ApiRoute(method="GET", path="/items/{id}", function_arn=FN)],
                        stages=["$default"] if kind == "http" else ["prod"])
    api.base_path = "/shop"
    return api


def test_forwarded_headers_are_added_not_overridden() -> None:
    added = _forwarded({"Host": "127.0.0.1:3000"}, _api("http"), "10.0.0.9", 3000)
    assert added == {"Host": "127.0.0.1:3000", "X-Forwarded-For": "10.0.0.9",
                     "X-Forwarded-Proto": "http", "X-Forwarded-Port": "3000",
                     "X-Forwarded-Prefix": "/shop"}
    kept = _forwarded({"x-forwarded-proto": "https"}, _api("http"), "10.0.0.9", 3000)
    assert kept["x-forwarded-proto"] == "https" and "X-Forwarded-Proto" not in kept


def test_http_and_rest_events_carry_them() -> None:
    for kind, path in (("http", "/shop/items/7"), ("rest", "/shop/prod/items/7")):
        cloud = _Cloud(_api(kind))
        server = ApiServer(cloud, 0)  # type: ignore[arg-type]
        try:
            status, _, body = server.handle("GET", path, {"Host": f"127.0.0.1:{server.port}"},
                                            b"", "127.0.0.1")
        finally:
            server.httpd.server_close()
        assert (status, body) == (200, b"ok")
        headers = {k.lower(): v for k, v in cloud.events[0]["headers"].items()}
        assert headers["x-forwarded-prefix"] == "/shop"
        assert headers["x-forwarded-port"] == str(server.port)
        assert headers["x-forwarded-proto"] == "http"
        assert headers["x-forwarded-for"] == "127.0.0.1"
