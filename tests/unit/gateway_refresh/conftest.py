"""gateway_refresh unit set-up: the refresh package importable (as in the task root)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
REFRESH_DIR = ROOT / "functions" / "gateway_refresh" / "refresh"

if str(REFRESH_DIR) not in sys.path:
    sys.path.insert(0, str(REFRESH_DIR))

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "gateway_refresh")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
