"""s3_fanout_replication unit set-up: the replicate package importable (as in the task root)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
REPLICATE_DIR = ROOT / "functions" / "s3_fanout_replication" / "replicate"

if str(REPLICATE_DIR) not in sys.path:
    sys.path.insert(0, str(REPLICATE_DIR))

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "s3_fanout_replication")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
