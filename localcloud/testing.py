"""Helpers for tests, benchmarks and scripts that run apps on a fresh local cloud."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .cloud import LocalCloud


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_cloud(apps: set[str] | None = None, *, template: Path | None = None,
                  parameters: dict[str, Any] | None = None, api: bool = True,
                  delivery: bool = True,
                  log: Callable[[str, str], None] | None = None) -> Iterator[LocalCloud]:
    """A started local cloud with `apps` (or `template`) deployed, stopped on exit.

    `api` serves the APIs on a free port; `delivery` starts the event-source pollers and the
    schedule clock. Only one may run per process at a time (moto's backends are global).
    """
    cloud = LocalCloud(aws_port=0, api_port=free_port(), quiet=True,
                       log=log or (lambda *_: None))
    cloud.start()
    try:
        cloud.deploy(template=template, parameters=parameters, apps=apps)
        if api:
            cloud.start_api()
        if delivery:
            cloud.start_delivery()
        yield cloud
    finally:
        cloud.stop()
