"""Cached boto3 clients and resources.

Endpoints need no code here: boto3 >= 1.28 reads AWS_ENDPOINT_URL_<SERVICE_ID> and
AWS_ENDPOINT_URL itself, which is how a function is pointed at the local cloud. This module adds
what every handler otherwise repeats: one client per service created outside the handler and
reused across invocations, standard-mode retries, and a region default.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Hashable
from typing import Any

import boto3
from botocore.config import Config

# Standard mode retries throttling and transient errors with backoff; the legacy default mode
# retries fewer error kinds.
DEFAULT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})
DEFAULT_REGION = "us-east-1"

_lock = threading.Lock()
_cache: dict[Hashable, Any] = {}


def region() -> str:
    """The region Lambda runs in (AWS_REGION), else AWS_DEFAULT_REGION, else us-east-1."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def _endpoint_env() -> tuple[tuple[str, str], ...]:
    # botocore resolves the per-service variable from the service id (e.g. "stepfunctions" reads
    # AWS_ENDPOINT_URL_SFN); keying on every endpoint variable keeps the cache correct without
    # repeating that mapping here.
    return tuple(
        sorted(
            (name, value)
            for name, value in os.environ.items()
            if name.startswith("AWS_ENDPOINT_URL") or name == "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
        )
    )


def _make(kind: str, service: str, kw: dict[str, Any]) -> Any:
    config = kw.pop("config", None)
    kw["config"] = DEFAULT_CONFIG.merge(config) if config is not None else DEFAULT_CONFIG
    return getattr(boto3, kind)(service, **kw)


def _build(kind: str, service: str, kw: dict[str, Any]) -> Any:
    kw["region_name"] = kw.get("region_name") or region()
    # Keyed on the caller's arguments: a Config is hashed by identity, so pass a module-level one
    # to share the client.
    key = (kind, service, _endpoint_env(), tuple(sorted(kw.items(), key=lambda item: item[0])))
    try:
        hash(key)
    except TypeError:  # an unhashable argument: build a fresh object, do not cache
        return _make(kind, service, kw)
    with _lock:
        if key not in _cache:
            # boto3's default session is not thread-safe while it creates clients.
            _cache[key] = _make(kind, service, kw)
        return _cache[key]


def client(service: str, **kw: Any) -> Any:
    """A cached boto3 client for `service`; `kw` goes to boto3.client (config is merged)."""
    return _build("client", service, dict(kw))


def resource(service: str, **kw: Any) -> Any:
    """A cached boto3 resource for `service`; `kw` goes to boto3.resource (config is merged)."""
    return _build("resource", service, dict(kw))


def clear_cache() -> None:
    """Drop every cached client and resource (for tests that swap credentials or endpoints)."""
    with _lock:
        _cache.clear()
