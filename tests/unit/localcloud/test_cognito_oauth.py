"""localcloud/cognito_oauth.py against moto's user pools (no server): authorize -> sign-in ->
code -> token with PKCE, single-use codes, client authentication, redirect and scope checks,
the session cookie, a temporary password, refresh, userInfo and the published keys; and the
deployer's typing of Cognito properties."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import jwt
import pytest
from moto import mock_aws

from localcloud import cognito_oauth
from localcloud.deployer import _shape_typed

DOMAIN = "unit-pool"
CALLBACK = "https://app.example.com/callback"
PREFIX = f"/_localcloud/cognito/{DOMAIN}"
VERIFIER = "v" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(
    b"=").decode()


class FakeCloud:
    """What the module needs of a LocalCloud: a Cognito client, the port, localise_url."""

    api_port = 3999
    region = "us-east-1"

    def __init__(self) -> None:
        self.idp = boto3.client("cognito-idp", region_name=self.region)

    def client(self, service: str) -> Any:
        assert service == "cognito-idp"
        return self.idp

    def localise_url(self, value: Any) -> Any:
        return value


@pytest.fixture
def pool():
    with mock_aws():
        cloud = FakeCloud()
        pool_id = cloud.idp.create_user_pool(PoolName="p")["UserPool"]["Id"]
        cloud.idp.create_user_pool_domain(Domain=DOMAIN, UserPoolId=pool_id)
        client = cloud.idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="c", GenerateSecret=True,
            AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email"], CallbackURLs=[CALLBACK],
            LogoutURLs=["https://app.example.com/bye"])["UserPoolClient"]
        cloud.idp.admin_create_user(UserPoolId=pool_id, Username="bob",
                                    TemporaryPassword="Temp-1234-abcd", MessageAction="SUPPRESS")
        cloud.idp.admin_set_user_password(UserPoolId=pool_id, Username="bob",
                                          Password="Secret-Pass-99", Permanent=True)
        yield cloud, pool_id, client


def _call(cloud, method: str, path: str, params: dict | None = None, headers=None,
          form: dict | None = None):
    query = f"?{urlencode(params)}" if params else ""
    body = urlencode(form).encode() if form is not None else b""
    hdrs = dict(headers or {})
    if form is not None:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    return cognito_oauth.handle(cloud, method, f"{PREFIX}{path}{query}", hdrs, body)


def _authorize_params(client, **extra) -> dict:
    return {"response_type": "code", "client_id": client["ClientId"], "redirect_uri": CALLBACK,
            "state": "st8", "scope": "openid", "code_challenge": CHALLENGE,
            "code_challenge_method": "S256", **extra}


def _sign_in(cloud, client, password="Secret-Pass-99", **extra):
    params = _authorize_params(client, **extra)
    status, headers, _ = _call(cloud, "GET", "/oauth2/authorize", params)
    assert status == 302 and urlsplit(headers["Location"]).path == f"{PREFIX}/login"
    status, headers, body = _call(cloud, "POST", "/login", params,
                                  form={"username": "bob", "password": password})
    return status, headers, body


def _basic(client) -> dict:
    raw = f"{client['ClientId']}:{client['ClientSecret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _code_of(location: str) -> str:
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st8"]
    return query["code"][0]


def test_code_flow_with_pkce_and_signed_tokens(pool) -> None:
    cloud, pool_id, client = pool
    status, headers, _ = _sign_in(cloud, client)
    assert status == 302 and headers["Location"].startswith(CALLBACK + "?")
    assert "HttpOnly" in headers["Set-Cookie"] and f"Path={PREFIX}" in headers["Set-Cookie"]
    code = _code_of(headers["Location"])
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER}
    status, headers, body = _call(cloud, "POST", "/oauth2/token", headers=_basic(client),
                                  form=form)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    tokens = json.loads(body)
    assert set(tokens) == {"access_token", "id_token", "refresh_token", "expires_in",
                           "token_type"}
    _, _, jwks = _call(cloud, "GET", "/.well-known/jwks.json")
    key = jwt.PyJWK(json.loads(jwks)["keys"][0]).key
    claims = jwt.decode(tokens["id_token"], key, algorithms=["RS256"],
                        audience=client["ClientId"],
                        issuer=f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}")
    assert claims["cognito:username"] == "bob"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tokens["id_token"][:-4] + "AAAA", key, algorithms=["RS256"],
                   options={"verify_aud": False})
    # single use: the same code again
    status, _, body = _call(cloud, "POST", "/oauth2/token", headers=_basic(client), form=form)
    assert status == 400 and json.loads(body)["error"] == "invalid_grant"
    # userInfo with the access token; the refresh grant
    status, _, body = _call(cloud, "GET", "/oauth2/userInfo",
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert status == 200 and json.loads(body)["username"] == "bob"
    status, _, body = _call(cloud, "POST", "/oauth2/token", headers=_basic(client), form={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert status == 200 and json.loads(body)["access_token"]
    status, _, body = _call(cloud, "POST", "/oauth2/token", headers=_basic(client), form={
        "grant_type": "refresh_token", "refresh_token": "nonsense"})
    assert status == 400 and json.loads(body)["error"] == "invalid_grant"


def test_token_endpoint_refusals(pool) -> None:
    cloud, _, client = pool
    wrong = {"code_verifier": "w" * 50}
    for change, status_error in ((wrong, (400, "invalid_grant")),
                                 ({"redirect_uri": CALLBACK + "x"}, (400, "invalid_grant")),
                                 ({"grant_type": "password"}, (400, "unsupported_grant_type"))):
        _, headers, _ = _sign_in(cloud, client)
        form = {"grant_type": "authorization_code", "code": _code_of(headers["Location"]),
                "redirect_uri": CALLBACK, "code_verifier": VERIFIER, **change}
        status, _, body = _call(cloud, "POST", "/oauth2/token", headers=_basic(client),
                                form=form)
        assert (status, json.loads(body)["error"]) == status_error, change
    bad = {"Authorization": "Basic " + base64.b64encode(
        f"{client['ClientId']}:nope".encode()).decode()}
    status, headers, body = _call(cloud, "POST", "/oauth2/token", headers=bad, form={
        "grant_type": "authorization_code", "code": "x"})
    assert status == 401 and json.loads(body)["error"] == "invalid_client"
    assert headers["WWW-Authenticate"] == "Basic"
    # client_secret_post works as well as Basic; a JSON body does not
    status, _, body = _call(cloud, "POST", "/oauth2/token", form={
        "grant_type": "authorization_code", "code": "unknown", "client_id": client["ClientId"],
        "client_secret": client["ClientSecret"]})
    assert status == 400 and json.loads(body)["error"] == "invalid_grant"
    status, _, body = cognito_oauth.handle(cloud, "POST", f"{PREFIX}/oauth2/token",
                                           {**_basic(client), "Content-Type": "application/json"},
                                           b"{}")
    assert status == 400 and json.loads(body)["error"] == "invalid_request"


def test_authorize_refusals(pool) -> None:
    cloud, _, client = pool
    status, _, body = _call(cloud, "GET", "/oauth2/authorize",
                            _authorize_params(client, redirect_uri="https://evil.example/cb"))
    assert status == 400 and b"redirect_mismatch" in body
    status, _, body = _call(cloud, "GET", "/oauth2/authorize",
                            _authorize_params(client, client_id="nope"))
    assert status == 400
    for extra, error in (({"scope": "openid admin"}, "invalid_scope"),
                         ({"response_type": "token"}, "unsupported_response_type"),
                         ({"code_challenge_method": "plain"}, "invalid_request")):
        status, headers, _ = _call(cloud, "GET", "/oauth2/authorize",
                                   _authorize_params(client, **extra))
        assert status == 302
        assert parse_qs(urlsplit(headers["Location"]).query) == {"error": [error],
                                                                 "state": ["st8"]}
    status, _, body = _call(cloud, "GET", "/oauth2/authorize", _authorize_params(client),
                            headers={})
    assert status == 302
    status, _, body = cognito_oauth.handle(cloud, "GET", "/_localcloud/cognito/nope/login", {},
                                           b"")
    assert status == 404


def test_wrong_password_then_session_cookie_then_logout(pool) -> None:
    cloud, _, client = pool
    status, _, body = _sign_in(cloud, client, password="wrong")
    assert status == 200 and b"Incorrect username or password." in body
    _, headers, _ = _sign_in(cloud, client)
    cookie = headers["Set-Cookie"].split(";")[0]
    status, headers, _ = _call(cloud, "GET", "/oauth2/authorize", _authorize_params(client),
                               headers={"Cookie": cookie})
    assert status == 302 and headers["Location"].startswith(CALLBACK)  # no sign-in form
    code = _code_of(headers["Location"])
    status, _, body = _call(cloud, "POST", "/oauth2/token", headers=_basic(client), form={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER})
    assert status == 200 and json.loads(body)["refresh_token"]
    status, headers, _ = _call(cloud, "GET", "/logout", {
        "client_id": client["ClientId"], "logout_uri": "https://app.example.com/bye"},
        headers={"Cookie": cookie})
    assert status == 302 and "Max-Age=0" in headers["Set-Cookie"]
    status, headers, _ = _call(cloud, "GET", "/oauth2/authorize", _authorize_params(client),
                               headers={"Cookie": cookie})
    assert urlsplit(headers["Location"]).path == f"{PREFIX}/login"


def test_a_temporary_password_must_be_changed(pool) -> None:
    cloud, pool_id, client = pool
    cloud.idp.admin_create_user(UserPoolId=pool_id, Username="carol",
                                TemporaryPassword="Temp-1234-abcd", MessageAction="SUPPRESS")
    params = _authorize_params(client)
    status, _, body = _call(cloud, "POST", "/login", params,
                            form={"username": "carol", "password": "Temp-1234-abcd"})
    assert status == 200 and b"new password" in body
    session = body.split(b"name='session' value='")[1].split(b"'")[0].decode()
    status, headers, _ = _call(cloud, "POST", "/login", params, form={
        "username": "carol", "session": session, "new_password": "Brand-New-Pass-77"})
    assert status == 302 and headers["Location"].startswith(CALLBACK)
    user = cloud.idp.admin_get_user(UserPoolId=pool_id, Username="carol")
    assert user["UserStatus"] == "CONFIRMED"


def test_discovery_document(pool) -> None:
    cloud, pool_id, _ = pool
    status, _, body = _call(cloud, "GET", "/.well-known/openid-configuration")
    doc = json.loads(body)
    assert status == 200 and doc["issuer"].endswith(pool_id)
    assert doc["token_endpoint"] == f"http://127.0.0.1:3999{PREFIX}/oauth2/token"


def test_cognito_properties_are_typed_by_the_api_shape() -> None:
    idp = boto3.client("cognito-idp", region_name="us-east-1")
    shape = idp.meta.service_model.operation_model("CreateUserPool").input_shape
    props = {"Policies": {"PasswordPolicy": {"MinimumLength": "12", "RequireNumbers": "false"}},
             "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": "true"}}
    typed = {k: _shape_typed(v, shape.members[k]) for k, v in props.items()}
    assert typed == {"Policies": {"PasswordPolicy": {"MinimumLength": 12,
                                                     "RequireNumbers": False}},
                     "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}}
