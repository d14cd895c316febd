"""SampleDataFunction: put the shipped model and generated input files into the data bucket.

Event (every field optional):
    {"model_key": "models/churn-mlp-v1.npz", "input_prefix": "inputs/sample/",
     "files": 4, "rows": 10000, "seed": 1, "formats": ["csv", "csv.gz"]}

Writes models/churn-mlp-v1.npz (the artifact trained by train_model.py, shipped in models/)
and `files` customer files of `rows` rows each (datagen.py, seeded), cycling through
`formats`. Nothing is downloaded: the model is in the package, the data is generated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from datagen import customers
from scoring import write_table
from shard import s3_client

from common.observability import get_logger

logger = get_logger()

SHIPPED_MODEL = Path(__file__).resolve().parent / "models" / "churn-mlp-v1.npz"
SUFFIX = {"csv": ".csv", "csv.gz": ".csv.gz", "parquet": ".parquet"}
MAX_FILES, MAX_ROWS = 1000, 1_000_000


def _int(event: dict[str, Any], name: str, default: int, high: int) -> int:
    value = event.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ValueError(f"{name} must be an integer from 1 to {high}")
    return value


def write_sample(s3: Any, bucket: str, event: dict[str, Any]) -> dict[str, Any]:
    """Upload the model and the generated files; what was written."""
    model_key = str(event.get("model_key", "models/churn-mlp-v1.npz"))
    prefix = str(event.get("input_prefix", "inputs/sample/"))
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    files, rows = _int(event, "files", 4, MAX_FILES), _int(event, "rows", 10_000, MAX_ROWS)
    seed = _int(event, "seed", 1, 2**31)
    formats = event.get("formats", ["csv", "csv.gz"])
    if not isinstance(formats, list) or not formats or any(f not in SUFFIX for f in formats):
        raise ValueError(f"formats must be a list of {sorted(SUFFIX)}")
    s3.put_object(Bucket=bucket, Key=model_key, Body=SHIPPED_MODEL.read_bytes())
    keys = []
    for i in range(files):
        fmt = formats[i % len(formats)]
        key = f"{prefix}part-{i:05d}{SUFFIX[fmt]}"
        frame = customers(rows, seed + i, id_offset=i * rows)
        s3.put_object(Bucket=bucket, Key=key, Body=write_table(frame, fmt))
        keys.append(key)
    return {"model_key": model_key, "input_prefix": prefix, "files": keys,
            "rows": rows * files, "seed": seed}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: see the module docstring."""
    result = write_sample(s3_client(), os.environ["DATA_BUCKET"], event or {})
    logger.info("Sample written", extra={"files": len(result["files"]), "rows": result["rows"]})
    return result
