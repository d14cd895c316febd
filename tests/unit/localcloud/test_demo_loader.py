"""localcloud demo loads each functions/<app>/demo.py the way an import would."""

from __future__ import annotations

import sys
from pathlib import Path

from localcloud import demo


def test_a_scenario_module_can_define_dataclasses(tmp_path: Path) -> None:
    # dataclasses resolve string annotations through sys.modules[cls.__module__]; a module
    # executed without being registered there fails at class creation.
    path = tmp_path / "demo.py"
    path.write_text(
        "from __future__ import annotations\n"
        "from dataclasses import dataclass, field\n\n"
        "@dataclass\n"
        "class Totals:\n"
        "    names: list[str] = field(default_factory=list)\n\n"
        "def run(ctx):\n"
        "    return Totals(['a']).names\n"
    )
    module = demo._load("loader_check", path)
    try:
        assert module.run(None) == ["a"]
        assert sys.modules["demo_loader_check"] is module
    finally:
        sys.modules.pop("demo_loader_check", None)
