"""device_grant's /token, /device and /callback over localcloud's API server, with the hosted
UI followed by plain HTTP (the browser test drives it in chromium): bad input, client
authentication, polling too fast, replayed and expired codes, the two parameter styles."""

from __future__ import annotations

import base64
import importlib.util
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("device_grant_demo_api",
                                                  ROOT / "functions/device_grant/demo.py")
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
def env():
    cloud = LocalCloud(aws_port=0, api_port=_free_port(), quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"device_grant"})
        cloud.start_api()
        cloud.start_delivery()
        out = cloud.outputs()["device_grant"]
        idp = cloud.client("cognito-idp")
        demo.create_user(idp, out["UserPoolId"])
        yield cloud, out, demo.client_credentials(idp, out)
    finally:
        cloud.stop()


def _backdate(cloud: LocalCloud, out: dict, device_code: str, **attrs: float) -> None:
    """Time travel for one request: move its expiry / next allowed poll into the past."""
    import hashlib

    table = cloud.client("dynamodb")
    sets = ", ".join(f"{k} = :{k}" for k in attrs)
    table.update_item(TableName=out["RequestsTableName"],
                      Key={"pk": {"S": "D#" + hashlib.sha256(device_code.encode()).hexdigest()}},
                      UpdateExpression=f"SET {sets}",
                      ExpressionAttributeValues={f":{k}": {"N": str(v)} for k, v in attrs.items()})


def test_codes_are_issued_with_no_store(env) -> None:
    _, out, auth = env
    resp = demo.request_codes(out, auth)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json()
    assert set(body) == {"device_code", "user_code", "verification_uri",
                         "verification_uri_complete", "interval", "expires_in"}
    assert body["device_code"].isalnum() and len(body["device_code"]) == 64
    assert len(body["user_code"]) == 8 and not set(body["user_code"]) & set("AEIOU")
    assert body["verification_uri"] == f"{out['ApiUrl']}/device"
    assert body["verification_uri_complete"] == f"{out['ApiUrl']}/device?code={body['user_code']}"
    assert (body["interval"], body["expires_in"]) == (5, 1800)
    again = demo.request_codes(out, auth).json()
    assert again["device_code"] != body["device_code"] and again["user_code"] != body["user_code"]


def test_client_authentication(env) -> None:
    _, out, (client_id, secret) = env
    url = out["TokenEndpoint"]
    cases = {
        "no credentials": requests.post(url, timeout=30),
        "wrong secret": requests.post(url, auth=(client_id, secret + "x"), timeout=30),
        "unknown client": requests.post(url, auth=("nosuchclient", secret), timeout=30),
        "client_id mismatch": requests.post(f"{url}?client_id=other", auth=(client_id, secret),
                                            timeout=30),
        "not basic": requests.post(url, headers={"Authorization": f"Bearer {secret}"},
                                   timeout=30),
        "garbled basic": requests.post(url, headers={"Authorization": "Basic %%%"}, timeout=30),
    }
    for name, resp in cases.items():
        assert resp.status_code == 401, name
        assert resp.json()["error"] == "invalid_client", name
        assert resp.headers["WWW-Authenticate"].startswith("Basic"), name
        assert resp.headers["Cache-Control"] == "no-store", name
    # the seed's style: client_id in the query string, matching the credentials
    ok = requests.post(f"{url}?client_id={client_id}", auth=(client_id, secret), timeout=30)
    assert ok.status_code == 200 and ok.json()["user_code"]


def test_bad_requests(env) -> None:
    _, out, auth = env
    url = out["TokenEndpoint"]
    json_body = requests.post(url, auth=auth, json={"grant_type": demo.DEVICE_GRANT}, timeout=30)
    assert json_body.status_code == 400 and json_body.json()["error"] == "invalid_request"
    malformed = requests.post(url, auth=auth, data="grant_type", timeout=30, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert malformed.status_code == 400 and malformed.json()["error"] == "invalid_request"
    twice = requests.post(f"{url}?device_code=a", auth=auth, timeout=30,
                          data={"device_code": "b", "grant_type": demo.DEVICE_GRANT})
    assert twice.status_code == 400 and "more than once" in twice.json()["error_description"]
    other = requests.post(url, auth=auth, data={"grant_type": "password"}, timeout=30)
    assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"
    missing = requests.post(url, auth=auth, data={"grant_type": demo.DEVICE_GRANT}, timeout=30)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    unknown = demo.poll(out, auth, "A" * 64)
    assert unknown.status_code == 400 and unknown.json() == {"error": "invalid_grant"}
    scope = demo.request_codes(out, auth, scope="openid admin")
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"


def test_polling_too_fast_slows_down_and_the_interval_grows(env) -> None:
    cloud, out, auth = env
    codes = demo.request_codes(out, auth).json()
    first = demo.poll(out, auth, codes["device_code"])
    assert first.status_code == 400 and first.json() == {"error": "authorization_pending"}
    fast = demo.poll(out, auth, codes["device_code"])
    assert fast.status_code == 400 and fast.json() == {"error": "slow_down"}
    assert fast.headers["Cache-Control"] == "no-store"
    item = cloud.client("dynamodb").scan(TableName=out["RequestsTableName"])["Items"]
    mine = [i for i in item if i.get("user_code", {}).get("S") == codes["user_code"]]
    assert mine[0]["interval"]["N"] == "10"  # 5 + 5 (RFC 8628 3.5)
    _backdate(cloud, out, codes["device_code"], next_poll_at=time.time() - 1)
    assert demo.poll(out, auth, codes["device_code"]).json() == {"error": "authorization_pending"}


def test_query_string_and_form_body_polls_and_single_use(env) -> None:
    cloud, out, auth = env
    client_id = auth[0]
    # the seed's request: everything in the query string
    codes = requests.post(f"{out['TokenEndpoint']}?client_id={client_id}", auth=auth,
                          timeout=30).json()
    page = demo.decide_over_http(codes["verification_uri"], codes["user_code"].lower(),
                                 "authorize")
    assert page.status_code == 200 and "Device authorised" in page.text
    query = (f"{out['TokenEndpoint']}?client_id={client_id}&device_code={codes['device_code']}"
             f"&grant_type={demo.DEVICE_GRANT}")
    resp = requests.post(query, auth=auth, timeout=30)
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert resp.headers["Cache-Control"] == "no-store"
    claims = demo.jwks_verify(out["HostedUiUrl"], tokens["access_token"])
    assert claims["username"] == demo.USERNAME and claims["client_id"] == client_id
    # the tokens are the pool's: Cognito accepts them
    user = cloud.client("cognito-idp").get_user(AccessToken=tokens["access_token"])
    assert user["Username"] == demo.USERNAME
    _backdate(cloud, out, codes["device_code"], next_poll_at=time.time() - 1)
    replay = demo.poll(out, auth, codes["device_code"])  # form body this time
    assert replay.status_code == 400 and replay.json() == {"error": "invalid_grant"}


def test_deny_and_expiry(env) -> None:
    cloud, out, auth = env
    denied = demo.request_codes(out, auth).json()
    page = demo.decide_over_http(denied["verification_uri"], denied["user_code"], "deny")
    assert "Request denied" in page.text
    assert demo.poll(out, auth, denied["device_code"]).json() == {"error": "access_denied"}
    # a decided code cannot be decided again
    again = demo.decide_over_http(denied["verification_uri"], denied["user_code"], "authorize")
    assert again.status_code == 400 and "already been used" in again.text

    expired = demo.request_codes(out, auth).json()
    _backdate(cloud, out, expired["device_code"], expires_at=int(time.time()) - 1)
    page = demo.decide_over_http(expired["verification_uri"], expired["user_code"], "authorize")
    assert page.status_code == 400 and "expired" in page.text
    resp = demo.poll(out, auth, expired["device_code"])
    assert resp.status_code == 400 and resp.json() == {"error": "expired_token"}


def test_the_page_refuses_bad_codes_and_the_callback_forged_requests(env) -> None:
    _, out, auth = env
    uri = out["VerificationUri"]
    for code, phrase in (("AEIOU123", "not a code"), ("BCDF2345", "Unknown code")):
        page = requests.post(uri, data={"user_code": code, "action": "authorize"}, timeout=30)
        assert page.status_code == 400 and phrase in page.text
    page = requests.post(uri, data={"user_code": "BCDF2345", "action": "maybe"}, timeout=30)
    assert page.status_code == 400 and "Choose Authorize or Deny" in page.text
    shown = requests.get(f"{uri}?code=<script>", timeout=30)
    assert "<script>" not in shown.text and "&lt;script&gt;" in shown.text
    assert "default-src 'none'" in shown.headers["Content-Security-Policy"]
    # a callback without the state cookie of the browser that started the sign-in
    forged = requests.get(f"{out['ApiUrl']}/callback?code=abc&state=xyz", timeout=30)
    assert forged.status_code == 400 and "did not start in this browser" in forged.text
    # a wrong password at the hosted UI keeps the user there, and decides nothing
    codes = demo.request_codes(out, auth).json()
    page = demo.decide_over_http(codes["verification_uri"], codes["user_code"], "authorize",
                                 password="wrong-password")
    assert "Incorrect username or password." in page.text
    assert demo.poll(out, auth, codes["device_code"]).json() == {
        "error": "authorization_pending"}


def test_a_raw_basic_header_and_a_scope_in_the_form(env) -> None:
    _, out, (client_id, secret) = env
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    resp = requests.post(out["TokenEndpoint"], headers={"Authorization": f"Basic {raw}"},
                         data={"scope": "openid email"}, timeout=30)
    assert resp.status_code == 200 and resp.json()["interval"] == 5
