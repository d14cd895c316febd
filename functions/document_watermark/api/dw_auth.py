"""JWT verification for document_watermark: a bearer token checked against a JWKS (signature,
expiry, issuer, audience), then the scope that allows reading documents.

401: no token, malformed, unknown key, bad signature, expired, wrong issuer or audience.
403: a valid token without the required scope (or group).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKSet
from jwt.exceptions import PyJWKSetError

ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384")
LEEWAY_SECONDS = 30


class AuthError(Exception):
    """Refused: `status` 401 (who are you?) or 403 (not allowed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Principal:
    subject: str
    username: str
    scopes: frozenset[str]


def bearer_token(headers: Mapping[str, str] | None) -> str:
    lower = {k.lower(): v for k, v in (headers or {}).items()}
    value = lower.get("authorization", "").strip()
    scheme, _, token = value.partition(" ")
    if not value:
        raise AuthError(401, "missing Authorization: Bearer <token>")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "Authorization must be 'Bearer <token>'")
    return token.strip()


def _key_for(kid: str | None, load_jwks: Callable[[bool], Mapping[str, Any]]) -> Any:
    for refresh in (False, True):  # a key unknown to a cached JWKS: read it once more
        try:
            jwk_set = PyJWKSet.from_dict(dict(load_jwks(refresh)))
        except PyJWKSetError:
            jwk_set = None
        if jwk_set is not None:
            for key in jwk_set.keys:
                if key.key_id == kid:
                    return key
    raise AuthError(401, "token signed by an unknown key")


def verify(token: str, load_jwks: Callable[[bool], Mapping[str, Any]], *, issuer: str,
           audience: str, required_scope: str = "") -> Principal:
    """The token's principal; AuthError otherwise. `load_jwks(refresh)` returns the JWKS."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise AuthError(401, "malformed token") from None
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        # "none" and HMAC algorithms would let a caller sign with a key of their own choosing.
        raise AuthError(401, f"token algorithm {alg!r} is not accepted")
    key = _key_for(header.get("kid"), load_jwks)
    try:
        claims = jwt.decode(token, key.key, algorithms=[alg], audience=audience, issuer=issuer,
                            leeway=LEEWAY_SECONDS,
                            options={"require": ["exp", "iat", "sub", "iss", "aud"]})
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "token expired") from None
    except jwt.InvalidSignatureError:
        raise AuthError(401, "token signature does not verify") from None
    except jwt.InvalidAudienceError:
        raise AuthError(401, "token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise AuthError(401, "token is from another issuer") from None
    except jwt.ImmatureSignatureError:
        raise AuthError(401, "token is not valid yet") from None
    except jwt.MissingRequiredClaimError as err:
        raise AuthError(401, f"token lacks the {err.claim!r} claim") from None
    except jwt.InvalidTokenError:
        raise AuthError(401, "invalid token") from None
    scopes = frozenset(str(claims.get("scope", "")).split()) | frozenset(
        claims.get("cognito:groups") or [])
    if required_scope and required_scope not in scopes:
        raise AuthError(403, f"token lacks the {required_scope!r} scope")
    username = str(claims.get("email") or claims.get("cognito:username")
                   or claims.get("username") or claims["sub"])
    return Principal(subject=str(claims["sub"]), username=username, scopes=scopes)
