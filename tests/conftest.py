"""Test-wide setup: the common layer and the repository root importable, no real AWS reachable."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]

# On Lambda the layer's contents are on the path; here the same directory stands in for it.
for path in (ROOT / "layers" / "common", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# Set before any test module imports boto3, so no test can reach a real account by accident.
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SECURITY_TOKEN"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"


def load_handler_module(relative_path: str, name: str) -> ModuleType:
    """Import a function's module by file path under a unique name.

    Every function's module is called `app`, so importing them by name would collide.
    """
    spec = importlib.util.spec_from_file_location(name, ROOT / relative_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_module():
    """The `load_handler_module` helper, for tests that load a function by path."""
    return load_handler_module
