"""stream_replication test set-up: the functions' sibling modules importable."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
REPLICATE_DIR = ROOT / "functions" / "stream_replication" / "replicate"
EVENTS = ROOT / "events" / "stream_replication"

# app.py imports its sibling module by name, as it does in the Lambda task root.
if str(REPLICATE_DIR) not in sys.path:
    sys.path.insert(0, str(REPLICATE_DIR))

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "stream_replication")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
