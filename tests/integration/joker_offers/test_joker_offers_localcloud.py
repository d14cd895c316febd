"""joker_offers on the local cloud: both REST APIs behind their TOKEN authorizers (tokens
signed with the stack's generated HS256 secret, as the issuer would), offer CRUD, reports,
the expiry schedule, and the per-route timing metrics in the functions' EMF logs."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration
LOGS: list[str] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def env() -> Iterator[dict[str, Any]]:
    with LocalCloud(aws_port=0, api_port=free_port(), quiet=True,
                    log=lambda name, line: LOGS.append(line)) as cloud:
        cloud.deploy(apps={"joker_offers"})
        cloud.start_api()
        cloud.start_delivery()
        out = cloud.outputs()["joker_offers"]
        secret = cloud.client("secretsmanager").get_secret_value(
            SecretId=out["JwtSecretArn"])["SecretString"]
        yield {"cloud": cloud, "out": out, "secret": secret,
               "public": out["PublicApiUrl"], "admin": out["AdminApiUrl"]}


def token(env: dict[str, Any], scope: str = "offers:read", key: str | None = None,
          **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "tester", "iss": env["out"]["JwtIssuer"], "aud": env["out"]["JwtAudience"],
            "exp": now + 300, "scope": scope} | claims
    return jwt.encode(body, key or env["secret"], "HS256")


def call(method: str, url: str, tok: str | None, body: Any = None,
         raw: bytes | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if tok is not None:
        headers["Authorization"] = f"Bearer {tok}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as err:
        text = err.read()
        return err.code, json.loads(text) if text else None


def iso(delta_hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=delta_hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_offer(env: dict[str, Any], restaurant: str, pct: int, start: float,
              end: float) -> dict[str, Any]:
    status, body = call("POST", f"{env['admin']}/restaurants/{restaurant}/offers",
                        token(env, "offers:admin"),
                        {"title": f"{pct}% joker", "discountPercent": pct,
                         "validFrom": iso(start), "validTo": iso(end)})
    assert status == 201, body
    return body


@pytest.mark.parametrize("case", ["missing", "expired", "forged", "audience", "issuer",
                                  "garbage"])
def test_bad_tokens_are_401(env: dict[str, Any], case: str) -> None:
    tok = {"missing": None,
           "expired": token(env, exp=int(time.time()) - 3600),
           "forged": token(env, key="not-the-secret-" * 4),
           "audience": token(env, aud="another-api"),
           "issuer": token(env, iss="https://evil.example/"),
           "garbage": "abc.def.ghi"}[case]
    for url in (f"{env['public']}/offers?restaurant=r1", f"{env['admin']}/reports"):
        status, body = call("GET", url, tok)
        assert status == 401 and body == {"message": "Unauthorized"}, (url, body)


def test_a_reader_cannot_use_the_admin_api(env: dict[str, Any]) -> None:
    status, body = call("GET", f"{env['admin']}/reports", token(env, "offers:read"))
    assert status == 403 and "not authorized" in body["message"]
    status, _ = call("POST", f"{env['admin']}/restaurants/r1/offers", token(env, "offers:read"),
                     {"title": "x"})
    assert status == 403
    # ...and an admin-only token cannot read the public API.
    assert call("GET", f"{env['public']}/offers?restaurant=r1",
                token(env, "offers:admin"))[0] == 403


def test_crud_and_the_public_view(env: dict[str, Any]) -> None:
    admin = token(env, "offers:admin")
    lunch = new_offer(env, "kebab-1", 25, -1, 2)
    big = new_offer(env, "kebab-1", 40, -0.5, 1)
    new_offer(env, "kebab-1", 50, 5, 7)
    status, body = call("GET", f"{env['public']}/offers?restaurant=kebab-1", token(env))
    assert status == 200 and [o["offerId"] for o in body["offers"]] == [
        big["offerId"], lunch["offerId"]]
    status, body = call("GET", f"{env['public']}/offers?restaurant=kebab-1&time={iso(6)}",
                        token(env))
    assert [o["discountPercent"] for o in body["offers"]] == [50]
    url = f"{env['admin']}/restaurants/kebab-1/offers/{lunch['offerId']}"
    status, body = call("PATCH", url, admin, {"discountPercent": 30})
    assert status == 200 and body["discountPercent"] == 30
    assert call("GET", url, admin)[1]["discountPercent"] == 30
    assert call("DELETE", url, admin)[0] == 204
    assert call("GET", url, admin)[0] == 404
    assert call("DELETE", url, admin)[0] == 404
    status, body = call("GET", f"{env['admin']}/restaurants/kebab-1/offers", admin)
    assert status == 200 and len(body["offers"]) == 2


@pytest.mark.parametrize(("raw", "status"), [
    (b"{not json", 400), (b"[]", 400),
    (json.dumps({"title": "x", "discountPercent": 99, "validFrom": "2026-01-01T00:00:00Z",
                 "validTo": "2027-01-01T00:00:00Z"}).encode(), 400),
    (json.dumps({"title": "x", "discountPercent": 10, "validFrom": "2027-01-01T00:00:00Z",
                 "validTo": "2026-01-01T00:00:00Z"}).encode(), 400),
])
def test_bad_admin_input(env: dict[str, Any], raw: bytes, status: int) -> None:
    got, body = call("POST", f"{env['admin']}/restaurants/r9/offers",
                     token(env, "offers:admin"), raw=raw)
    assert got == status and body["code"] == status


@pytest.mark.parametrize("query", ["", "?restaurant=", "?restaurant=r1&time=noon",
                                   "?restaurant=r1&time=2026-11-23T12:00:00"])
def test_bad_public_queries(env: dict[str, Any], query: str) -> None:
    status, body = call("GET", f"{env['public']}/offers{query}", token(env))
    assert status == 400 and body["code"] == 400


def test_schedule_expires_and_reports_count(env: dict[str, Any]) -> None:
    cloud = env["cloud"]
    ending = new_offer(env, "doner-7", 35, -1, 1 / 3600)  # ends in one second
    time.sleep(1.5)
    cloud.scheduler.fire("joker_offers/ExpireOffersFunctionExpiry")
    cloud.wait_idle()
    admin = token(env, "offers:admin")
    url = f"{env['admin']}/restaurants/doner-7/offers/{ending['offerId']}"
    assert call("GET", url, admin)[1]["status"] == "EXPIRED"
    status, rep = call("GET", f"{env['admin']}/reports", admin)
    assert status == 200 and rep["restaurants"]["doner-7"] == {"EXPIRED": 1}
    assert rep["total"] == sum(rep["byStatus"].values())


def test_per_route_timing_metrics(env: dict[str, Any]) -> None:
    call("GET", f"{env['public']}/offers?restaurant=kebab-1", token(env))
    emf = [json.loads(line) for line in LOGS if line.startswith('{"_aws"')]
    routes = {m.get("route") for m in emf if "RouteLatency" in m}
    assert {"GET /offers", "POST /restaurants/{restaurantId}/offers", "GET /reports"} <= routes
    public = [m for m in emf if m.get("route") == "GET /offers"][-1]
    assert public["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "JokerOffers"
    assert public["RouteLatency"][0] > 0 and public["QueryLatency"][0] > 0
    assert public["RouteLatency"][0] >= public["QueryLatency"][0]
