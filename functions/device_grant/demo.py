"""The device_grant scenario for `localcloud demo`, and the helpers its tests share.

Scenario: a user exists in the pool (AdminCreateUser + AdminSetUserPassword); the device asks
/token for codes (HTTP Basic with its app client's id and secret) -> the poll answers
authorization_pending; the user opens /device, enters the code, chooses Authorize and signs in
at the Cognito hosted UI (localcloud's, followed here with plain HTTP; the tests drive it in
headless chromium) -> /callback exchanges the code (PKCE) -> after the interval, the device's
poll gets the access and refresh tokens, signed with the key the hosted UI publishes; polling
again gets invalid_grant (single use). A second request the user denies -> access_denied.
Wrong client credentials -> 401.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import requests

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USERNAME = "alice"
PASSWORD = "Correct-Horse-42"


def create_user(idp: Any, pool_id: str, username: str = USERNAME, password: str = PASSWORD,
                permanent: bool = True) -> None:
    idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"},
                                          {"Name": "email_verified", "Value": "true"}],
                          TemporaryPassword=password if not permanent else "Temporary-0000")
    if permanent:
        idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password,
                                    Permanent=True)


def client_credentials(idp: Any, outputs: dict[str, Any]) -> tuple[str, str]:
    found = idp.describe_user_pool_client(UserPoolId=outputs["UserPoolId"],
                                          ClientId=outputs["DeviceClientId"])["UserPoolClient"]
    return found["ClientId"], found["ClientSecret"]


def request_codes(outputs: dict[str, Any], auth: tuple[str, str], **params: str
                  ) -> requests.Response:
    return requests.post(outputs["TokenEndpoint"], auth=auth, data=params or None, timeout=30)


def poll(outputs: dict[str, Any], auth: tuple[str, str], device_code: str) -> requests.Response:
    return requests.post(outputs["TokenEndpoint"], auth=auth, timeout=30,
                         data={"grant_type": DEVICE_GRANT, "device_code": device_code})


def decide_over_http(verification_uri: str, user_code: str, action: str,
                     username: str = USERNAME, password: str = PASSWORD) -> requests.Response:
    """What the browser does, with requests: the page's form, the hosted UI's sign-in form,
    the redirect to /callback. Returns the last page."""
    web = requests.Session()
    page = web.get(verification_uri, timeout=30)
    page.raise_for_status()
    login = web.post(verification_uri, data={"user_code": user_code, "action": action},
                     timeout=30)
    if urlsplit(login.url).path.endswith("/device"):
        return login  # the page refused the code
    assert urlsplit(login.url).path.endswith("/login"), login.url
    return web.post(login.url, data={"username": username, "password": password}, timeout=30)


def jwks_verify(hosted_ui_url: str, token: str, **options: Any) -> dict[str, Any]:
    """The token's claims, its signature checked against the hosted UI's published keys."""
    import jwt

    keys = jwt.PyJWKClient(f"{hosted_ui_url}/.well-known/jwks.json")
    key = keys.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], **options)


def run(ctx: Any) -> None:
    out = ctx.outputs
    idp = ctx.client("cognito-idp")
    create_user(idp, out["UserPoolId"])
    auth = client_credentials(idp, out)

    resp = request_codes(out, ("intruder", "guess"))
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client", resp.text
    ctx.step("wrong client credentials -> 401 invalid_client")

    resp = request_codes(out, auth)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store", resp.text
    codes = resp.json()
    assert len(codes["device_code"]) == 64 and len(codes["user_code"]) == 8
    assert codes["interval"] == 5 and codes["expires_in"] == 1800
    ctx.step(f"codes issued: user code {codes['user_code']}, verification_uri "
             f"{codes['verification_uri']}")
    resp = poll(out, auth, codes["device_code"])
    assert resp.status_code == 400 and resp.json() == {"error": "authorization_pending"}
    ctx.step("poll before the user decides -> 400 authorization_pending")

    page = decide_over_http(codes["verification_uri"], codes["user_code"], "authorize")
    assert page.status_code == 200 and "Device authorised" in page.text, page.text
    ctx.step("user entered the code, signed in at the hosted UI (PKCE) -> Device authorised")

    time.sleep(codes["interval"])  # a well-behaved device waits the interval between polls
    resp = poll(out, auth, codes["device_code"])
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    claims = jwks_verify(out["HostedUiUrl"], tokens["access_token"])
    assert claims["username"] == USERNAME and claims["client_id"] == auth[0], claims
    ctx.step(f"poll after approval -> 200 access+refresh tokens; access token for "
             f"{claims['username']}, signature checked against the published JWKS")
    resp = poll(out, auth, codes["device_code"])
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    ctx.step("the device code again -> 400 invalid_grant (single use)")

    codes = request_codes(out, auth).json()
    page = decide_over_http(codes["verification_uri"], codes["user_code"], "deny")
    assert "Request denied" in page.text, page.text
    resp = poll(out, auth, codes["device_code"])
    assert resp.status_code == 400 and resp.json() == {"error": "access_denied"}, resp.text
    ctx.step("a request the user denies -> 400 access_denied")
