"""device_grant: the OAuth 2.0 device authorization grant (RFC 8628) with a Cognito user pool.

POST /token      the device: without grant_type, a device code and a user code; with
                 grant_type=urn:ietf:params:oauth:grant-type:device_code, a poll.
GET/POST /device the user: enter (or arrive with) the user code, authorise or deny; the choice
                 goes through the Cognito hosted UI (authorization code + PKCE).
GET /callback    the hosted UI's redirect: the code is exchanged at the Cognito token endpoint
                 and the result stored with the request, for the device's next poll.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

import dg_pages
import dg_store
import requests
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from dg_logic import (
    DEVICE_GRANT_TYPE,
    BadRequest,
    Settings,
    answer_poll,
    generate_code,
    hash_code,
    is_valid_code,
    next_interval,
    normalise_user_code,
    parse_basic,
    pkce_pair,
    public_base,
    request_params,
    select_tokens,
)

from common.aws import client, resource
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
app = APIGatewayHttpResolver()

SETTINGS = Settings.from_env()
_ddb = client("dynamodb")
_table = resource("dynamodb").Table(os.environ.get("TABLE_NAME", "device-grant"))
_cognito = client("cognito-idp")
_http = requests.Session()
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
STATE_COOKIE = "device_grant_state"
CLIENT_CACHE_S = 300
CODE_ATTEMPTS = 5
DEFAULT_SCOPE = "openid"

_clients: dict[str, tuple[float, dict[str, Any] | None]] = {}
_clients_lock = threading.Lock()


class OAuthError(Exception):
    """An RFC 6749/8628 error answer of /token."""

    def __init__(self, error: str, status: int = 400, description: str = "") -> None:
        super().__init__(error)
        self.error, self.status, self.description = error, status, description


def oauth_response(status: int, body: dict[str, Any], **headers: str) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body), headers={**NO_STORE, **headers})


def html_response(status: int, page: str, cookies: list[Cookie] | None = None) -> Response:
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=page,
                    headers={**NO_STORE, "Content-Security-Policy": dg_pages.CSP,
                             "X-Frame-Options": "DENY"}, cookies=cookies)


# --- the Cognito app client ---------------------------------------------------------------

def describe_client(client_id: str) -> dict[str, Any] | None:
    """The app client (secret, scopes), cached for CLIENT_CACHE_S: DescribeUserPoolClient has
    a low request quota, and polls come every few seconds."""
    now = time.monotonic()
    with _clients_lock:
        hit = _clients.get(client_id)
        if hit and hit[0] > now:
            return hit[1]
    try:
        found: dict[str, Any] | None = _cognito.describe_user_pool_client(
            UserPoolId=os.environ["USER_POOL_ID"], ClientId=client_id)["UserPoolClient"]
    except (_cognito.exceptions.ResourceNotFoundException,
            _cognito.exceptions.InvalidParameterException):
        found = None
    with _clients_lock:
        _clients[client_id] = (now + CLIENT_CACHE_S, found)
    return found


def authenticate_client(authorization: str | None, params: dict[str, str]) -> dict[str, Any]:
    """The app client whose HTTP Basic credentials came with the request (401 otherwise); a
    client_id parameter, when given, must name the same client."""
    creds = parse_basic(authorization)
    if creds is None:
        raise OAuthError("invalid_client", 401, "HTTP Basic client authentication is required")
    client_id, secret = creds
    found = describe_client(client_id)
    expected = (found or {}).get("ClientSecret") or ""
    if found is None or not expected or not secrets.compare_digest(secret.encode(),
                                                                   expected.encode()):
        raise OAuthError("invalid_client", 401, "client authentication failed")
    if params.get("client_id", client_id) != client_id:
        raise OAuthError("invalid_client", 401, "client_id does not match the credentials")
    return found


# --- POST /token ---------------------------------------------------------------------------

def issue_codes(cognito_client: dict[str, Any], params: dict[str, str], base: str,
                now: float) -> dict[str, Any]:
    """A new authorization request: device code, user code and where the user goes."""
    scope = " ".join(params.get("scope", "").split()) or DEFAULT_SCOPE
    allowed = cognito_client.get("AllowedOAuthScopes") or []
    if any(s not in allowed for s in scope.split()):
        raise OAuthError("invalid_scope", 400, f"scopes allowed: {' '.join(allowed)}")
    s = SETTINGS
    for _ in range(CODE_ATTEMPTS):
        device_code = generate_code(s.device_code_format, s.device_code_length)
        user_code = generate_code(s.user_code_format, s.user_code_length)
        try:
            dg_store.create_request(_ddb, _table.name, device_hash=hash_code(device_code),
                                    user_code=user_code, client_id=cognito_client["ClientId"],
                                    scope=scope, now=now, expires_in=s.code_expiration,
                                    interval=s.polling_interval)
            break
        except dg_store.CodeTaken:
            logger.warning("Code drawn twice, drawing again")
    else:
        raise RuntimeError(f"no free code after {CODE_ATTEMPTS} attempts")
    return {
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": f"{base}/device",
        # RFC 8628 3.3.1: the page still shows the code and asks the user to confirm.
        "verification_uri_complete": f"{base}/device?{urlencode({'code': user_code})}",
        "interval": s.polling_interval,
        "expires_in": s.code_expiration,
    }


def poll(cognito_client: dict[str, Any], params: dict[str, str], now: float) -> dict[str, Any]:
    """The device's poll: an OAuthError until the user has decided, then the token set, once."""
    device_code = params.get("device_code", "")
    if not device_code:
        raise OAuthError("invalid_request", 400, "device_code is required")
    device_hash = hash_code(device_code)
    item = dg_store.get_request(_table, device_hash)
    answer = answer_poll(item, cognito_client["ClientId"], now)
    if answer.error in ("invalid_grant", "expired_token"):
        raise OAuthError(answer.error)
    assert item is not None
    interval = int(item["interval"])
    if not dg_store.record_poll(_table, device_hash, now, interval, next_interval(interval)):
        metrics.add_metric(name="SlowDown", unit=MetricUnit.Count, value=1)
        raise OAuthError("slow_down")
    if answer.error:
        raise OAuthError(answer.error)
    tokens = dg_store.deliver(_table, device_hash, now)
    if tokens is None:  # another poll took them a moment ago
        raise OAuthError("invalid_grant")
    metrics.add_metric(name="TokensDelivered", unit=MetricUnit.Count, value=1)
    return select_tokens(tokens, SETTINGS.result_token_set)


def _params() -> dict[str, str]:
    event = app.current_event
    body = event.decoded_body if event.body else None
    return request_params(event.query_string_parameters, body,
                          event.headers.get("content-type"))


@app.post("/token")
@tracer.capture_method
def token() -> Response:
    try:
        params = _params()
        cognito_client = authenticate_client(app.current_event.headers.get("authorization"),
                                             params)
        now = time.time()
        grant_type = params.get("grant_type")
        if not grant_type:
            answer = issue_codes(cognito_client, params, public_base(app.current_event.headers),
                                 now)
            metrics.add_metric(name="DeviceCodesIssued", unit=MetricUnit.Count, value=1)
            logger.info("Codes issued", extra={"client_id": cognito_client["ClientId"]})
            return oauth_response(200, answer)
        if grant_type != DEVICE_GRANT_TYPE:
            raise OAuthError("unsupported_grant_type", 400,
                             f"grant_type must be {DEVICE_GRANT_TYPE} (or absent)")
        return oauth_response(200, poll(cognito_client, params, now))
    except BadRequest as err:
        return oauth_response(400, {"error": "invalid_request", "error_description": str(err)})
    except OAuthError as err:
        body = {"error": err.error}
        if err.description:
            body["error_description"] = err.description
        extra = {"WWW-Authenticate": 'Basic realm="device_grant"'} if err.status == 401 else {}
        return oauth_response(err.status, body, **extra)


# --- /device -------------------------------------------------------------------------------

@app.get("/device")
def device_page() -> Response:
    code = (app.current_event.query_string_parameters or {}).get("code", "")
    return html_response(200, dg_pages.device_page(_device_url(), code[:64]))


def _device_url() -> str:
    return f"{public_base(app.current_event.headers)}/device"


@app.post("/device")
@tracer.capture_method
def device_decision() -> Response:
    event = app.current_event
    form = {k: v[-1] for k, v in parse_qs(event.decoded_body or "",
                                          keep_blank_values=True).items()}
    raw_code, action = form.get("user_code", ""), form.get("action", "")
    user_code = normalise_user_code(raw_code, SETTINGS.user_code_format)[:64]

    def again(status: int, error: str) -> Response:
        return html_response(status, dg_pages.device_page(_device_url(), raw_code[:64], error))

    if action not in ("authorize", "deny"):
        return again(400, "Choose Authorize or Deny.")
    if not is_valid_code(user_code, SETTINGS.user_code_format, SETTINGS.user_code_length):
        return again(400, "That is not a code from a device. Check it and try again.")
    now = time.time()
    found = dg_store.find_by_user_code(_table, user_code)
    if found is None:
        return again(400, "Unknown code. Check it and try again.")
    device_hash, request = found
    if now >= float(request["expires_at"]):
        return again(400, "This code has expired. Ask the device for a new one.")
    if request["status"] != "PENDING":
        return again(400, "This code has already been used.")
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    dg_store.start_sign_in(_table, state=state, device_hash=device_hash, verifier=verifier,
                           action=action, client_id=request["client_id"], now=now)
    base = public_base(event.headers)
    query = urlencode({"response_type": "code", "client_id": request["client_id"],
                       "redirect_uri": f"{base}/callback", "state": state,
                       "scope": request["scope"], "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    # The state is bound to this browser: /callback accepts it only with this cookie.
    cookie = Cookie(name=STATE_COOKIE, value=state, path=_path_of(f"{base}/callback"),
                    secure=base.startswith("https://"), http_only=True,
                    max_age=dg_store.SIGN_IN_TTL_S, same_site=SameSite.LAX_MODE)
    location = f"{os.environ['COGNITO_DOMAIN_URL'].rstrip('/')}/oauth2/authorize?{query}"
    return Response(status_code=303, content_type="text/plain", body="",
                    headers={**NO_STORE, "Location": location}, cookies=[cookie])


def _path_of(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


# --- /callback -----------------------------------------------------------------------------

def exchange_code(cognito_client: dict[str, Any], code: str, redirect_uri: str,
                  verifier: str) -> dict[str, Any]:
    """The token set for an authorization code, from the Cognito token endpoint."""
    url = f"{os.environ['COGNITO_DOMAIN_URL'].rstrip('/')}/oauth2/token"
    resp = _http.post(url, timeout=10, auth=(cognito_client["ClientId"],
                                             cognito_client["ClientSecret"]),
                      data={"grant_type": "authorization_code", "code": code,
                            "client_id": cognito_client["ClientId"],
                            "redirect_uri": redirect_uri, "code_verifier": verifier})
    if resp.status_code != 200:
        raise OAuthError(str((resp.json() if resp.content else {}).get("error", "server_error")),
                         resp.status_code)
    return resp.json()


def _claims(jwt: str) -> dict[str, Any]:
    """The payload of a token that came straight from the token endpoint over TLS (OpenID
    Connect Core 3.1.3.7 lets a client skip the signature check then)."""
    import base64

    try:
        part = jwt.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return {}


@app.get("/callback")
@tracer.capture_method
def callback() -> Response:
    event = app.current_event
    query = event.query_string_parameters or {}
    state = query.get("state", "")
    cookies = dict(c.split("=", 1) for c in (event.cookies or []) if "=" in c)
    expired_cookie = Cookie(name=STATE_COOKIE, value="", path=_path_of(
        f"{public_base(event.headers)}/callback"), max_age=0, http_only=True,
        secure=public_base(event.headers).startswith("https://"))

    def fail(status: int, message: str) -> Response:
        logger.info("Callback refused", extra={"reason": message})
        return html_response(status, dg_pages.outcome_page("Not authorised", message, False),
                             [expired_cookie])

    if not state or not secrets.compare_digest(cookies.get(STATE_COOKIE, ""), state):
        return fail(400, "This sign-in did not start in this browser. Enter the code again.")
    now = time.time()
    attempt = dg_store.take_sign_in(_table, state, now)
    if attempt is None:
        return fail(400, "This sign-in has expired or was already used. Enter the code again.")
    if query.get("error") or not query.get("code"):
        return fail(400, f"Sign-in did not complete ({query.get('error', 'no code')}).")
    cognito_client = describe_client(attempt["client_id"])
    if cognito_client is None:
        return fail(400, "The device's client no longer exists.")
    try:
        tokens = exchange_code(cognito_client, query["code"],
                               f"{public_base(event.headers)}/callback", attempt["verifier"])
    except (OAuthError, requests.RequestException, ValueError) as err:
        logger.warning("Code exchange failed", extra={"error": str(err)})
        return fail(502, "Sign-in could not be confirmed with the identity provider.")
    claims = _claims(tokens.get("id_token") or tokens.get("access_token") or "")
    user = str(claims.get("cognito:username") or claims.get("username") or claims.get("sub"))
    approved = attempt["action"] == "authorize"
    kept = {k: tokens[k] for k in ("access_token", "id_token", "refresh_token", "expires_in",
                                   "token_type") if k in tokens} if approved else None
    if not dg_store.record_decision(_table, attempt["device_hash"], approved=approved,
                                    user=user, tokens=kept, now=now):
        return fail(400, "This code has expired or was already used.")
    metrics.add_metric(name="DeviceAuthorized" if approved else "DeviceDenied",
                       unit=MetricUnit.Count, value=1)
    logger.info("Decision recorded", extra={"approved": approved, "user": user})
    if approved:
        page = dg_pages.outcome_page("Device authorised",
                                     "Success: your device is now signed in. You can close "
                                     "this page.", True)
    else:
        page = dg_pages.outcome_page("Request denied",
                                     "The device's request was denied; it gets no access.", True)
    return html_response(200, page, [expired_cookie])


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
