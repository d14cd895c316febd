"""TOKEN authorizers of the two joker_offers APIs (one module, one handler per API).

public_handler needs the scope `offers:read` (the public offers API), admin_handler
`offers:admin` (CRUD and reports). Configuration per stage from the stack: JWT_ALGORITHM,
JWT_ISSUER, JWT_AUDIENCE, and JWT_SECRET_ARN (HS256: Secrets Manager, via Powertools
parameters, cached) or JWKS_URL (RS256: PyJWKClient, keys cached). The token is never logged.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import jwt
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from jwt_auth import JwtSettings, Unauthorized, bearer, policy, verify

from common.observability import get_logger, get_metrics

logger = get_logger()
metrics = get_metrics()
ALGORITHM = os.environ.get("JWT_ALGORITHM", "HS256")


@cache
def _jwks() -> jwt.PyJWKClient:
    return jwt.PyJWKClient(os.environ["JWKS_URL"], cache_keys=True, lifespan=300, timeout=3)


def settings() -> JwtSettings:
    secret = None
    if ALGORITHM == "HS256":
        secret = str(parameters.get_secret(os.environ["JWT_SECRET_ARN"], max_age=300))
    return JwtSettings(algorithm=ALGORITHM, issuer=os.environ["JWT_ISSUER"],
                       audience=os.environ["JWT_AUDIENCE"], secret=secret,
                       jwks_url=os.environ.get("JWKS_URL") or None)


def authorize(event: dict[str, Any], required_scope: str) -> dict[str, Any]:
    try:
        config = settings()
        key = (lambda t: _jwks().get_signing_key_from_jwt(t).key) if config.jwks_url else None
        caller = verify(bearer(event.get("authorizationToken")), config, key)
    except Unauthorized as err:
        metrics.add_metric(name="TokensRejected", unit=MetricUnit.Count, value=1)
        logger.info("Token rejected", extra={"reason": err.reason})
        raise  # its message is "Unauthorized": API Gateway answers 401
    answer = policy(caller, event["methodArn"], required_scope)
    allowed = answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    metrics.add_metric(name="TokensAllowed" if allowed else "TokensDenied",
                       unit=MetricUnit.Count, value=1)
    logger.info("Token verified", extra={"sub": caller.subject, "allowed": allowed,
                                         "required_scope": required_scope})
    return answer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def public_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """TOKEN authorizer event -> IAM policy for the public API (scope offers:read)."""
    return authorize(event, "offers:read")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def admin_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """TOKEN authorizer event -> IAM policy for the admin API (scope offers:admin)."""
    return authorize(event, "offers:admin")
