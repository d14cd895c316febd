"""The joker_offers scenario for `localcloud demo`.

Plays the token issuer (HS256 with the stack's generated secret): an admin creates a lunch and
a dinner Joker offer and one that ends in a second; a customer app (scope offers:read) asks
for the offers at lunch, at dinner and now; a missing, an expired and a forged token get 401,
a reader on the admin API 403; the expiry schedule fires and the report counts the expired
offer. AssertionError when anything misbehaves.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def run(ctx: Any) -> None:
    out = ctx.outputs
    for name in ("PublicApiUrl", "AdminApiUrl", "JwtSecretArn"):
        expect(bool(out.get(name)), f"stack output {name} is missing")
    secret = ctx.client("secretsmanager").get_secret_value(
        SecretId=out["JwtSecretArn"])["SecretString"]

    def token(scope: str, key: str | None = None, ttl: int = 300) -> str:
        return jwt.encode({"sub": f"demo-{scope.split(':')[1]}", "iss": out["JwtIssuer"],
                           "aud": out["JwtAudience"], "exp": int(time.time()) + ttl,
                           "scope": scope}, key or secret, "HS256")

    def call(method: str, url: str, tok: str | None, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        req = urllib.request.Request(url, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body else None)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    admin, reader = token("offers:admin"), token("offers:read")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=1)

    def iso(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    restaurant = "demo-kebab"
    base = f"{out['AdminApiUrl']}/restaurants/{restaurant}/offers"
    for title, pct, start, end in (("Lunch Joker", 30, 11, 14), ("Dinner Joker", 45, 18, 22)):
        status, offer = call("POST", base, admin, {
            "title": title, "discountPercent": pct,
            "validFrom": iso(day + timedelta(hours=start)),
            "validTo": iso(day + timedelta(hours=end))})
        expect(status == 201, f"create {title}: {status} {offer}")
        ctx.step(f"admin created {title} ({pct}%, {start}:00-{end}:00 tomorrow)")
    now = datetime.now(UTC)
    status, flash = call("POST", base, admin, {
        "title": "Flash Joker", "discountPercent": 60, "validFrom": iso(now - timedelta(hours=1)),
        "validTo": iso(now + timedelta(seconds=1))})
    expect(status == 201, f"create flash: {status} {flash}")

    for label, hour, wanted in (("lunch", 12, ["Lunch Joker"]), ("dinner", 19, ["Dinner Joker"]),
                                ("breakfast", 8, [])):
        moment = iso(day + timedelta(hours=hour))
        status, body = call("GET", f"{out['PublicApiUrl']}/offers?restaurant={restaurant}"
                                   f"&time={moment}", reader)
        titles = [o["title"] for o in body["offers"]] if status == 200 else body
        expect(status == 200 and titles == wanted, f"{label}: {status} {titles}")
        ctx.step(f"GET /offers at {label} ({moment}) -> {titles or 'no offer'}")

    for label, tok in (("no token", None), ("expired token", token("offers:read", ttl=-3600)),
                       ("forged token", token("offers:read", key="x" * 64))):
        status, body = call("GET", f"{out['PublicApiUrl']}/offers?restaurant={restaurant}", tok)
        expect(status == 401, f"{label}: {status} {body}")
        ctx.step(f"{label} -> 401 {body['message']}")
    status, body = call("GET", f"{out['AdminApiUrl']}/reports", reader)
    expect(status == 403, f"reader on admin API: {status} {body}")
    ctx.step("reader token on the admin API -> 403")

    time.sleep(1.5)
    ctx.fire("ExpireOffersFunctionExpiry")
    ctx.cloud.wait_idle()
    status, offer = call("GET", f"{base}/{flash['offerId']}", admin)
    expect(offer["status"] == "EXPIRED", f"flash offer after the schedule: {offer}")
    status, rep = call("GET", f"{out['AdminApiUrl']}/reports", admin)
    mine = rep["restaurants"].get(restaurant)
    expect(mine == {"ACTIVE": 2, "EXPIRED": 1}, f"report: {rep}")
    ctx.step(f"expiry schedule fired: Flash Joker EXPIRED; report for {restaurant}: {mine}")
