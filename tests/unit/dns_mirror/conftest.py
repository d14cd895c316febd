"""dns_mirror unit tests: the function's `dns_mirror` package importable, as on Lambda."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CODE = ROOT / "functions" / "dns_mirror" / "sync"

# Appended, not prepended: only the `dns_mirror` package is wanted from there, and other
# apps' tests must not pick up this function's `app` module.
if str(CODE) not in sys.path:
    sys.path.append(str(CODE))
