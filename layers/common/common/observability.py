"""Powertools Logger, Tracer and Metrics configured from the function's environment.

Every function gets POWERTOOLS_SERVICE_NAME from its stack and POWERTOOLS_METRICS_NAMESPACE,
POWERTOOLS_LOG_LEVEL from the stack's Globals, so apps ask for the utilities instead of
building them with duplicated arguments.
"""

from __future__ import annotations

import os
import threading

from aws_lambda_powertools import Logger, Metrics, Tracer

# One instance per service (and namespace) for the life of the execution environment: Powertools
# keeps per-instance state (appended keys, metric sets), so a module that asks twice must get the
# same object back.
_lock = threading.Lock()
_loggers: dict[str, Logger] = {}
_tracers: dict[str, Tracer] = {}
_metrics: dict[tuple[str, str | None], Metrics] = {}


def service_name(service: str | None = None) -> str:
    """The service name: the argument, else POWERTOOLS_SERVICE_NAME, else "service_undefined"."""
    return service or os.environ.get("POWERTOOLS_SERVICE_NAME") or "service_undefined"


def get_logger(service: str | None = None) -> Logger:
    """The structured JSON logger of `service` (default: POWERTOOLS_SERVICE_NAME)."""
    name = service_name(service)
    with _lock:
        if name not in _loggers:
            _loggers[name] = Logger(service=name)
        return _loggers[name]


def get_tracer(service: str | None = None) -> Tracer:
    """The X-Ray tracer of `service`; Powertools disables it by itself outside Lambda."""
    name = service_name(service)
    with _lock:
        if name not in _tracers:
            _tracers[name] = Tracer(service=name)
        return _tracers[name]


def get_metrics(namespace: str | None = None, service: str | None = None) -> Metrics:
    """EMF metrics in `namespace` (default: POWERTOOLS_METRICS_NAMESPACE) for `service`."""
    name = service_name(service)
    namespace = namespace or os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or None
    key = (name, namespace)
    with _lock:
        if key not in _metrics:
            _metrics[key] = Metrics(namespace=namespace, service=name)
        return _metrics[key]


def reset() -> None:
    """Forget the cached instances (for tests that change the environment)."""
    with _lock:
        _loggers.clear()
        _tracers.clear()
        _metrics.clear()
