"""joker_offers' JWT checks (PyJWT): HS256 and RS256 (keys from a JWKS served over HTTP, as
an identity provider serves them), expiry, issuer, audience, algorithm confusion, scopes and
the IAM policy the TOKEN authorizer returns."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

ISS, AUD, SECRET = "https://auth.joker.example/", "joker-offers", "s" * 64
ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/offers"


@pytest.fixture(scope="module")
def ja(load_module: Any) -> Any:
    return load_module("functions/joker_offers/authorizer/jwt_auth.py", "joker_offers_jwt_auth")


def token(key: Any = SECRET, alg: str = "HS256", headers: dict[str, Any] | None = None,
          **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "user-1", "iss": ISS, "aud": AUD, "iat": now, "exp": now + 300,
            "scope": "offers:read"} | claims
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, alg,
                      headers=headers)


def hs(ja: Any) -> Any:
    return ja.JwtSettings(algorithm="HS256", issuer=ISS, audience=AUD, secret=SECRET)


def test_valid_hs256(ja: Any) -> None:
    caller = ja.verify(token(scope="offers:read offers:admin"), hs(ja))
    assert caller.subject == "user-1" and caller.scopes == {"offers:read", "offers:admin"}


@pytest.mark.parametrize(("claims", "reason"), [
    ({"exp": int(time.time()) - 120}, "expired"),
    ({"iss": "https://evil.example/"}, "InvalidIssuer"),
    ({"aud": "someone-else"}, "InvalidAudience"),
    ({"exp": None}, "MissingRequiredClaim"),
    ({"sub": None}, "MissingRequiredClaim"),
    ({"nbf": int(time.time()) + 600}, "ImmatureSignature"),
])
def test_claims_are_checked(ja: Any, claims: dict[str, Any], reason: str) -> None:
    with pytest.raises(ja.Unauthorized) as err:
        ja.verify(token(**claims), hs(ja))
    assert reason in err.value.reason and str(err.value) == "Unauthorized"


def test_leeway_tolerates_small_clock_skew(ja: Any) -> None:
    ja.verify(token(exp=int(time.time()) - 10), hs(ja))


def test_forged_and_garbage_tokens(ja: Any) -> None:
    for bad in (token(key="another-secret-" * 4), "not.a.jwt", "abc",
                token()[:-4] + "AAAA"):
        with pytest.raises(ja.Unauthorized):
            ja.verify(bad, hs(ja))


def test_alg_none_and_algorithm_confusion_are_refused(ja: Any) -> None:
    unsigned = jwt.encode({"sub": "x", "iss": ISS, "aud": AUD, "exp": int(time.time()) + 60},
                          None, "none")
    with pytest.raises(ja.Unauthorized):
        ja.verify(unsigned, hs(ja))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ja.Unauthorized):  # an RS256 token where HS256 is configured
        ja.verify(token(key=key, alg="RS256"), hs(ja))


@pytest.mark.parametrize(("header", "ok"), [("Bearer abc", True), ("bearer abc", True),
                                            ("abc", True), ("", False), (None, False),
                                            ("Basic a b", False)])
def test_bearer_header(ja: Any, header: str | None, ok: bool) -> None:
    if ok:
        assert ja.bearer(header) == "abc"
    else:
        with pytest.raises(ja.Unauthorized):
            ja.bearer(header)


def test_policy_allows_the_stage_or_denies(ja: Any) -> None:
    caller = ja.verify(token(scope="offers:read"), hs(ja))
    allow = ja.policy(caller, ARN, "offers:read")
    statement = allow["policyDocument"]["Statement"][0]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow",
                         "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/*"}
    assert allow["principalId"] == "user-1" and allow["context"]["scope"] == "offers:read"
    deny = ja.policy(caller, ARN, "offers:admin")
    assert deny["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_scp_list_claim(ja: Any) -> None:
    assert ja.scopes_of({"scp": ["a", "b"]}) == {"a", "b"} and ja.scopes_of({}) == set()


@pytest.fixture(scope="module")
def jwks() -> Iterator[tuple[str, Any, Any]]:
    """An identity provider's JWKS endpoint with one RSA key (kid k1)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    document = json.dumps({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]})

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", key, other
    server.shutdown()


def test_rs256_with_keys_from_the_jwks(ja: Any, jwks: tuple[str, Any, Any]) -> None:
    url, key, other = jwks
    client = jwt.PyJWKClient(url)
    settings = ja.JwtSettings(algorithm="RS256", issuer=ISS, audience=AUD, jwks_url=url)

    def lookup(t: str) -> Any:
        return client.get_signing_key_from_jwt(t).key

    good = token(key=key, alg="RS256", headers={"kid": "k1"})
    assert ja.verify(good, settings, lookup).subject == "user-1"
    with pytest.raises(ja.Unauthorized):  # signed by a key the JWKS does not hold
        ja.verify(token(key=other, alg="RS256", headers={"kid": "k1"}), settings, lookup)
    with pytest.raises(ja.Unauthorized, match="Unauthorized"):  # unknown kid
        ja.verify(token(key=key, alg="RS256", headers={"kid": "k9"}), settings, lookup)
    with pytest.raises(ja.Unauthorized):  # HS256 signed with the public key (confusion)
        ja.verify(token(key=SECRET, alg="HS256", headers={"kid": "k1"}), settings, lookup)
