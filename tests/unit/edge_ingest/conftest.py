"""edge_ingest unit set-up: the ingest package importable (as in the task root)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
INGEST_DIR = ROOT / "functions" / "edge_ingest" / "ingest"

if str(INGEST_DIR) not in sys.path:
    sys.path.insert(0, str(INGEST_DIR))
