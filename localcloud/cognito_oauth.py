"""A Cognito user pool domain's hosted UI and OAuth 2.0 endpoints, which moto does not emulate.

Served by the API server under `/_localcloud/cognito/<domain>/...`; stack outputs and function
environments naming `https://<domain>.auth.<region>.amazoncognito.com` are rewritten to it
(`LocalCloud.localise_url`), so clients use the same paths as on AWS:

- `GET /oauth2/authorize` (response_type=code, PKCE S256 optional): checks the app client
  (code flow allowed, redirect_uri among its callback URLs, scopes among its allowed ones), then
  signs the user in at `/login` (or reuses the domain's session cookie) and redirects back with
  a single-use code (5 minutes, as Cognito's).
- `GET|POST /login`: the sign-in form; users are moto's (AdminCreateUser,
  AdminSetUserPassword); a temporary password asks for a new one (NEW_PASSWORD_REQUIRED).
- `POST /oauth2/token`: authorization_code (PKCE checked) and refresh_token grants; the client
  authenticates with HTTP Basic or client_id/client_secret in the form.
- `GET /oauth2/userInfo`, `GET /logout`, `GET /.well-known/jwks.json` and
  `/.well-known/openid-configuration`.

Tokens are the user pool's own (moto signs them with the key this module publishes), so the
Cognito API accepts them too (GetUser, refresh). Everything goes through the embedded cloud's
public Cognito API; only the JWKS comes from moto's package data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

if TYPE_CHECKING:
    from .cloud import LocalCloud

PREFIX = "/_localcloud/cognito/"
CODE_TTL_S = 300  # Cognito's authorization codes live 5 minutes
SESSION_TTL_S = 3600  # the hosted UI's sign-in cookie
COOKIE = "cognito"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_JSON = {"Content-Type": "application/json", **NO_STORE}
_AUTHORIZE_PARAMS = ("response_type", "client_id", "redirect_uri", "state", "scope",
                     "code_challenge", "code_challenge_method", "nonce")

Reply = tuple[int, dict[str, str], bytes]


@dataclass
class _Code:
    pool_id: str
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str
    tokens: dict[str, Any]
    expires: float


@dataclass
class _Session:
    pool_id: str
    client_id: str
    username: str
    refresh_token: str
    expires: float


@dataclass
class HostedUI:
    """One cloud's hosted-UI state: authorization codes and sign-in sessions."""

    cloud: LocalCloud
    codes: dict[str, _Code] = field(default_factory=dict)
    sessions: dict[str, _Session] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_UIS: weakref.WeakKeyDictionary[Any, HostedUI] = weakref.WeakKeyDictionary()
_UIS_LOCK = threading.Lock()


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.description = status, error, description
        self.headers = headers or {}

    def reply(self) -> Reply:
        body: dict[str, str] = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return self.status, {**_JSON, **self.headers}, json.dumps(body).encode()


def handle(cloud: LocalCloud, method: str, raw_path: str, headers: dict[str, str],
           body: bytes) -> Reply:
    """Answer one request under /_localcloud/cognito/<domain>/..."""
    with _UIS_LOCK:
        ui = _UIS.get(cloud)
        if ui is None:
            ui = _UIS[cloud] = HostedUI(cloud)
    url = urlsplit(raw_path)
    domain, _, rest = url.path[len(PREFIX):].partition("/")
    headers = {k.lower(): v for k, v in headers.items()}
    params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    if method == "POST" and "application/x-www-form-urlencoded" in headers.get(
            "content-type", ""):
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update({k: v[-1] for k, v in form.items()})
    pool_id = _pool_of(cloud, domain)
    if pool_id is None:
        return _page(404, "Not found", f"No user pool domain {domain!r} in this cloud.")
    base = f"http://127.0.0.1:{cloud.api_port}{PREFIX}{domain}"
    try:
        if rest == "oauth2/authorize" and method == "GET":
            return _authorize(ui, pool_id, base, params, _cookies(headers))
        if rest == "login" and method in ("GET", "POST"):
            return _login(ui, pool_id, base, params, method)
        if rest == "oauth2/token" and method == "POST":
            return _token(ui, pool_id, params, headers)
        if rest == "oauth2/userInfo" and method in ("GET", "POST"):
            return _userinfo(cloud, headers)
        if rest == "logout" and method == "GET":
            return _logout(ui, pool_id, base, params, _cookies(headers))
        if rest == ".well-known/jwks.json" and method == "GET":
            from moto.utilities.utils import load_resource

            keys = load_resource("moto.cognitoidp.models", "resources/jwks-public.json")
            return 200, {"Content-Type": "application/json"}, json.dumps(keys).encode()
        if rest == ".well-known/openid-configuration" and method == "GET":
            return 200, {"Content-Type": "application/json"}, json.dumps(
                _openid_configuration(cloud, pool_id, base)).encode()
    except _OAuthError as err:
        return err.reply()
    return _page(404, "Not found", f"No hosted-UI endpoint {method} /{rest}.")


# --- lookups --------------------------------------------------------------------------------

def _pool_of(cloud: LocalCloud, domain: str) -> str | None:
    if not domain:
        return None
    desc = cloud.client("cognito-idp").describe_user_pool_domain(Domain=domain)
    return (desc.get("DomainDescription") or {}).get("UserPoolId") or None


def _client(cloud: LocalCloud, pool_id: str, client_id: str) -> dict[str, Any] | None:
    idp = cloud.client("cognito-idp")
    try:
        return idp.describe_user_pool_client(UserPoolId=pool_id,
                                             ClientId=client_id)["UserPoolClient"]
    except idp.exceptions.ResourceNotFoundException:
        return None


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            out[name] = value
    return out


def _redirect(location: str, extra: dict[str, str] | None = None) -> Reply:
    return 302, {"Location": location, **NO_STORE, **(extra or {})}, b""


def _with_query(uri: str, values: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(values)


# --- /oauth2/authorize and /login -----------------------------------------------------------

def _check_authorize(ui: HostedUI, pool_id: str, params: dict[str, str]
                     ) -> tuple[dict[str, Any], str] | Reply:
    """(client, granted scope), or the reply refusing the request: an error page while the
    redirect_uri is not trusted, else a redirect carrying the error (RFC 6749 4.1.2.1)."""
    client_id = params.get("client_id", "")
    client = _client(ui.cloud, pool_id, client_id) if client_id else None
    if client is None:
        return _page(400, "Error", "invalid_request: the client does not exist")
    redirect_uri = params.get("redirect_uri", "")
    callbacks = [ui.cloud.localise_url(u) for u in client.get("CallbackURLs") or []]
    if not redirect_uri or redirect_uri not in callbacks:
        return _page(400, "Error", "redirect_mismatch: redirect_uri is not a callback URL of "
                                   "the client")

    def fail(error: str) -> Reply:
        values = {"error": error}
        if params.get("state"):
            values["state"] = params["state"]
        return _redirect(_with_query(redirect_uri, values))

    if params.get("response_type") != "code":
        return fail("unsupported_response_type")
    if not client.get("AllowedOAuthFlowsUserPoolClient") or "code" not in (
            client.get("AllowedOAuthFlows") or []):
        return fail("unauthorized_client")
    allowed = client.get("AllowedOAuthScopes") or []
    scopes = params.get("scope", "").split() or list(allowed)
    if any(s not in allowed for s in scopes):
        return fail("invalid_scope")
    if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
        return fail("invalid_request")  # Cognito supports S256 only
    return client, " ".join(scopes)


def _authorize(ui: HostedUI, pool_id: str, base: str, params: dict[str, str],
               cookies: dict[str, str]) -> Reply:
    checked = _check_authorize(ui, pool_id, params)
    if not isinstance(checked[0], dict):
        return checked  # type: ignore[return-value]
    client, scope = checked  # type: ignore[misc]
    with ui.lock:
        session = ui.sessions.get(cookies.get(COOKIE, ""))
    if (session and session.expires > time.time() and session.pool_id == pool_id
            and session.client_id == client["ClientId"]):
        tokens = _refresh(ui.cloud, pool_id, client["ClientId"], session.refresh_token)
        if tokens is not None:
            tokens["RefreshToken"] = session.refresh_token
            return _issue_code(ui, pool_id, params, scope, tokens)
    query = urlencode({k: params[k] for k in _AUTHORIZE_PARAMS if params.get(k)})
    return _redirect(f"{base}/login?{query}")


def _issue_code(ui: HostedUI, pool_id: str, params: dict[str, str], scope: str,
                tokens: dict[str, Any], extra_headers: dict[str, str] | None = None) -> Reply:
    code = str(uuid.uuid4())
    with ui.lock:
        now = time.time()
        for stale in [c for c, v in ui.codes.items() if v.expires < now]:
            del ui.codes[stale]
        ui.codes[code] = _Code(pool_id=pool_id, client_id=params["client_id"],
                               redirect_uri=params["redirect_uri"], scope=scope,
                               challenge=params.get("code_challenge", ""), tokens=tokens,
                               expires=now + CODE_TTL_S)
    values = {"code": code}
    if params.get("state"):
        values["state"] = params["state"]
    return _redirect(_with_query(params["redirect_uri"], values), extra_headers)


def _login(ui: HostedUI, pool_id: str, base: str, params: dict[str, str], method: str) -> Reply:
    checked = _check_authorize(ui, pool_id, params)
    if not isinstance(checked[0], dict):
        return checked  # type: ignore[return-value]
    client, scope = checked  # type: ignore[misc]
    hidden = {k: params[k] for k in _AUTHORIZE_PARAMS if params.get(k)}
    if method == "GET":
        return _login_form(base, hidden)
    idp = ui.cloud.client("cognito-idp")
    username = params.get("username", "")
    try:
        if params.get("session"):  # the answer to NEW_PASSWORD_REQUIRED
            out = idp.admin_respond_to_auth_challenge(
                UserPoolId=pool_id, ClientId=client["ClientId"],
                ChallengeName="NEW_PASSWORD_REQUIRED", Session=params["session"],
                ChallengeResponses={"USERNAME": username,
                                    "NEW_PASSWORD": params.get("new_password", "")})
        else:
            out = idp.admin_initiate_auth(
                UserPoolId=pool_id, ClientId=client["ClientId"],
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": params.get("password", "")})
    except idp.exceptions.InvalidPasswordException as err:
        return _new_password_form(base, hidden, username, params.get("session", ""),
                                  err.response["Error"].get("Message") or "Invalid password.")
    except (idp.exceptions.NotAuthorizedException, idp.exceptions.UserNotFoundException,
            idp.exceptions.ResourceNotFoundException) as err:
        message = ("User is disabled." if "disabled" in str(err)
                   else "Incorrect username or password.")
        return _login_form(base, hidden, username, message)
    if out.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
        return _new_password_form(base, hidden, username, out["Session"])
    if "AuthenticationResult" not in out:
        return _page(501, "Not emulated", f"challenge {out.get('ChallengeName')} is not "
                                          "emulated by the local hosted UI")
    tokens = out["AuthenticationResult"]
    sid = secrets.token_urlsafe(32)
    with ui.lock:
        ui.sessions[sid] = _Session(pool_id=pool_id, client_id=client["ClientId"],
                                    username=username, refresh_token=tokens["RefreshToken"],
                                    expires=time.time() + SESSION_TTL_S)
    path = urlsplit(base).path
    cookie = f"{COOKIE}={sid}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={SESSION_TTL_S}"
    return _issue_code(ui, pool_id, params, scope, tokens, {"Set-Cookie": cookie})


def _refresh(cloud: LocalCloud, pool_id: str, client_id: str,
             refresh_token: str) -> dict[str, Any] | None:
    idp = cloud.client("cognito-idp")
    try:
        out = idp.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id,
                                      AuthFlow="REFRESH_TOKEN_AUTH",
                                      AuthParameters={"REFRESH_TOKEN": refresh_token})
    except Exception:  # noqa: BLE001 - moto answers an unknown token with a server error
        return None
    tokens = out.get("AuthenticationResult")
    # A refresh token only works for the client it was issued to.
    if not tokens or _claims(tokens["IdToken"]).get("aud") != client_id:
        return None
    return dict(tokens)


def _claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (the token came from the pool itself)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


# --- /oauth2/token --------------------------------------------------------------------------

def _authenticate_client(ui: HostedUI, pool_id: str, params: dict[str, str],
                         headers: dict[str, str]) -> dict[str, Any]:
    auth = headers.get("authorization", "")
    basic = auth[:6].lower() == "basic "
    if basic:
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
            client_id, _, secret = decoded.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        except (ValueError, UnicodeDecodeError):
            raise _OAuthError(401, "invalid_client", headers={
                "WWW-Authenticate": "Basic"}) from None
    else:
        client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
    client = _client(ui.cloud, pool_id, client_id) if client_id else None
    expected = (client or {}).get("ClientSecret")
    if client is None or (expected and not hmac.compare_digest(secret.encode(),
                                                               expected.encode())):
        raise _OAuthError(401, "invalid_client",
                          headers={"WWW-Authenticate": "Basic"} if basic else None)
    if params.get("client_id") and params["client_id"] != client_id:
        raise _OAuthError(401, "invalid_client")
    return client


def _token(ui: HostedUI, pool_id: str, params: dict[str, str], headers: dict[str, str]) -> Reply:
    if "application/x-www-form-urlencoded" not in headers.get("content-type", ""):
        raise _OAuthError(400, "invalid_request",
                          "Content-Type must be application/x-www-form-urlencoded")
    client = _authenticate_client(ui, pool_id, params, headers)
    grant = params.get("grant_type", "")
    if grant == "authorization_code":
        with ui.lock:
            code = ui.codes.pop(params.get("code", ""), None)  # single use, even on failure
        if (code is None or code.expires < time.time() or code.pool_id != pool_id
                or code.client_id != client["ClientId"]
                or code.redirect_uri != params.get("redirect_uri")):
            raise _OAuthError(400, "invalid_grant")
        if code.challenge:
            verifier = params.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if not verifier or not hmac.compare_digest(digest.rstrip(b"=").decode(),
                                                       code.challenge):
                raise _OAuthError(400, "invalid_grant", "code_verifier does not match")
        t = code.tokens
        answer = {"access_token": t["AccessToken"], "refresh_token": t["RefreshToken"],
                  "expires_in": t.get("ExpiresIn", 3600), "token_type": "Bearer"}
        if "openid" in code.scope.split():
            answer["id_token"] = t["IdToken"]
        return 200, _JSON, json.dumps(answer).encode()
    if grant == "refresh_token":
        tokens = _refresh(ui.cloud, pool_id, client["ClientId"], params.get("refresh_token", ""))
        if tokens is None:
            raise _OAuthError(400, "invalid_grant")
        answer = {"access_token": tokens["AccessToken"], "id_token": tokens["IdToken"],
                  "expires_in": tokens.get("ExpiresIn", 3600), "token_type": "Bearer"}
        return 200, _JSON, json.dumps(answer).encode()
    raise _OAuthError(400, "unsupported_grant_type")


# --- userInfo, logout, discovery ------------------------------------------------------------

def _userinfo(cloud: LocalCloud, headers: dict[str, str]) -> Reply:
    auth = headers.get("authorization", "")
    if auth[:7].lower() != "bearer ":
        raise _OAuthError(401, "invalid_token", headers={"WWW-Authenticate": "Bearer"})
    idp = cloud.client("cognito-idp")
    try:
        user = idp.get_user(AccessToken=auth[7:].strip())
    except Exception:  # noqa: BLE001 - any refusal of the token is a 401
        raise _OAuthError(401, "invalid_token", headers={"WWW-Authenticate": "Bearer"}) from None
    info: dict[str, Any] = {"username": user["Username"]}
    info.update({a["Name"]: a["Value"] for a in user.get("UserAttributes", [])})
    return 200, _JSON, json.dumps(info).encode()


def _logout(ui: HostedUI, pool_id: str, base: str, params: dict[str, str],
            cookies: dict[str, str]) -> Reply:
    client = _client(ui.cloud, pool_id, params.get("client_id", "")) if params.get(
        "client_id") else None
    target = params.get("logout_uri", "")
    allowed = [ui.cloud.localise_url(u) for u in (client or {}).get("LogoutURLs") or []]
    if client is None or target not in allowed:
        return _page(400, "Error", "invalid_request: logout_uri is not a sign-out URL of the "
                                   "client")
    with ui.lock:
        ui.sessions.pop(cookies.get(COOKIE, ""), None)
    path = urlsplit(base).path
    return _redirect(target, {"Set-Cookie": f"{COOKIE}=; Path={path}; Max-Age=0"})


def _openid_configuration(cloud: LocalCloud, pool_id: str, base: str) -> dict[str, Any]:
    return {
        "issuer": f"https://cognito-idp.{cloud.region}.amazonaws.com/{pool_id}",
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "userinfo_endpoint": f"{base}/oauth2/userInfo",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }


# --- pages ----------------------------------------------------------------------------------

_STYLE = ("body{font-family:sans-serif;max-width:24rem;margin:3rem auto}label,input,button"
          "{display:block;width:100%;margin:.4rem 0}.error{color:#b00}")


def _page(status: int, title: str, body_html: str, *, escape: bool = True) -> Reply:
    content = html.escape(body_html) if escape else body_html
    doc = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
           f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
           f"{content if not escape else f'<p id=message>{content}</p>'}</body></html>")
    return status, {"Content-Type": "text/html; charset=utf-8", **NO_STORE}, doc.encode()


def _hidden(values: dict[str, str]) -> str:
    return "".join(f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
                   for k, v in values.items())


def _login_form(base: str, hidden: dict[str, str], username: str = "",
                error: str = "") -> Reply:
    # The element ids are those of Cognito's classic hosted UI.
    err = f"<p class='error' id='loginErrorMessage'>{html.escape(error)}</p>" if error else ""
    form = (f"{err}<form method='post' action='{html.escape(base)}/login?"
            f"{html.escape(urlencode(hidden))}'>{_hidden(hidden)}"
            "<label for='signInFormUsername'>Username</label>"
            f"<input id='signInFormUsername' name='username' value='{html.escape(username)}' "
            "autocomplete='username' required>"
            "<label for='signInFormPassword'>Password</label>"
            "<input id='signInFormPassword' name='password' type='password' "
            "autocomplete='current-password' required>"
            "<button id='signInSubmitButton' type='submit' name='signInSubmitButton'>Sign in"
            "</button></form>")
    return _page(200, "Sign in", form, escape=False)


def _new_password_form(base: str, hidden: dict[str, str], username: str, session: str,
                       error: str = "") -> Reply:
    err = f"<p class='error' id='loginErrorMessage'>{html.escape(error)}</p>" if error else ""
    form = (f"{err}<p>Please enter a new password.</p><form method='post' "
            f"action='{html.escape(base)}/login?{html.escape(urlencode(hidden))}'>"
            f"{_hidden({**hidden, 'username': username, 'session': session})}"
            "<label for='new_password'>New password</label>"
            "<input id='new_password' name='new_password' type='password' "
            "autocomplete='new-password' required>"
            "<button id='changePasswordButton' type='submit'>Change password</button></form>")
    return _page(200, "Change password", form, escape=False)
