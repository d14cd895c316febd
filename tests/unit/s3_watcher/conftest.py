"""s3_watcher unit set-up: the watcher package importable (as in the task root)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WATCHER_DIR = ROOT / "functions" / "s3_watcher" / "watcher"

if str(WATCHER_DIR) not in sys.path:
    sys.path.insert(0, str(WATCHER_DIR))

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "s3_watcher")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
