"""Does nothing: the benchmark measures the runtime around it."""

from typing import Any


def handler(event: Any, context: Any) -> dict[str, bool]:
    return {"ok": True}
