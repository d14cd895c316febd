"""JWT checks for the API Gateway TOKEN authorizer (PyJWT).

A token passes when its signature verifies (HS256 with the shared secret, or RS256 with a key
from the issuer's JWKS, chosen by configuration, never by the token), it has not expired (a
small leeway for clock skew), and its issuer and audience are ours. The caller's scopes
(`scope`, space-separated as OAuth 2.0 says, or a `scp` list) then decide what the policy
allows: a token that is valid but lacks the API's scope is denied (403), anything else that
fails is "Unauthorized" (401).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

LEEWAY_S = 30


class Unauthorized(Exception):
    """401: no token, or one that does not verify. API Gateway wants this exact message."""

    def __init__(self, reason: str) -> None:
        super().__init__("Unauthorized")
        self.reason = reason


@dataclass(frozen=True)
class JwtSettings:
    algorithm: str  # HS256 | RS256
    issuer: str
    audience: str
    secret: str | None = None  # HS256
    jwks_url: str | None = None  # RS256


@dataclass(frozen=True)
class Caller:
    subject: str
    scopes: frozenset[str]
    claims: dict[str, Any]


def bearer(header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (the bare token is accepted)."""
    if not header:
        raise Unauthorized("no token")
    parts = header.split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    if len(parts) == 1:
        return parts[0]
    raise Unauthorized("malformed Authorization header")


def scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    raw = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(str(s) for s in raw)
    return frozenset()


def verify(token: str, settings: JwtSettings,
           signing_key: Callable[[str], Any] | None = None) -> Caller:
    """The verified caller of `token`; Unauthorized with the reason otherwise.

    `signing_key(token)` gives the RS256 key (PyJWKClient's lookup by `kid`)."""
    if settings.algorithm == "HS256":
        if not settings.secret:
            raise Unauthorized("no HS256 secret configured")
        key: Any = settings.secret
    elif settings.algorithm == "RS256":
        if signing_key is None:
            raise Unauthorized("no JWKS configured")
        try:
            key = signing_key(token)
        except jwt.PyJWTError as err:
            raise Unauthorized(f"no signing key: {err}") from None
    else:
        raise Unauthorized(f"unsupported algorithm {settings.algorithm}")
    try:
        claims = jwt.decode(token, key, algorithms=[settings.algorithm],
                            audience=settings.audience, issuer=settings.issuer,
                            leeway=LEEWAY_S, options={"require": ["exp", "iss", "aud", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired") from None
    except jwt.PyJWTError as err:
        raise Unauthorized(f"invalid token: {type(err).__name__}") from None
    return Caller(subject=str(claims["sub"]), scopes=scopes_of(claims), claims=claims)


def api_arn_of(method_arn: str) -> str:
    """`arn:aws:execute-api:region:account:api/stage` of a method ARN, for a policy that
    covers every method of the stage (API Gateway caches the answer per token)."""
    prefix, _, path = method_arn.partition(":execute-api:")
    region, account, rest = path.split(":", 2)
    api_id, stage = rest.split("/")[:2]
    return f"{prefix}:execute-api:{region}:{account}:{api_id}/{stage}"


def policy(caller: Caller, method_arn: str, required_scope: str) -> dict[str, Any]:
    """Allow the whole stage when the caller has `required_scope`, else Deny it (403)."""
    effect = "Allow" if required_scope in caller.scopes else "Deny"
    return {
        "principalId": caller.subject,
        "policyDocument": {"Version": "2012-10-17", "Statement": [{
            "Action": "execute-api:Invoke", "Effect": effect,
            "Resource": f"{api_arn_of(method_arn)}/*"}]},
        # Context values must be strings, numbers or booleans.
        "context": {"sub": caller.subject, "scope": " ".join(sorted(caller.scopes))},
    }
