"""Score one input file: read it (CSV, gzip CSV or Parquet), add the prediction, write it.

Plain functions over bytes and DataFrames, shared by the Lambda worker (app.py) and the
container entry point (container.py). The output keeps every input column and adds the
model's output column (`prediction`); rows with a missing feature get an empty prediction
and are counted, not dropped.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from model_format import Model

SUFFIXES = (".csv", ".csv.gz", ".parquet")


class InputFileError(ValueError):
    """The file cannot be scored (format, columns, values); retrying will not help."""


@dataclass(frozen=True)
class Scored:
    """One scored file: its rows, how many had a missing feature, and the output bytes."""

    rows: int
    missing: int
    data: bytes


def file_format(key: str) -> str:
    """'csv', 'csv.gz' or 'parquet' from the key's suffix; InputFileError otherwise."""
    lower = key.lower()
    for suffix in (".csv.gz", ".csv", ".parquet"):
        if lower.endswith(suffix):
            return suffix[1:]
    raise InputFileError(f"{key}: not a .csv, .csv.gz or .parquet file")


def read_table(data: bytes, fmt: str) -> pd.DataFrame:
    try:
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        if fmt == "csv.gz":
            data = gzip.decompress(data)
        return pd.read_csv(io.BytesIO(data), low_memory=False)
    except ImportError as err:  # pyarrow is in the container image, not the Lambda zip
        raise InputFileError(f"reading {fmt} needs pyarrow, which this worker lacks; run the "
                             "job on the container worker") from err
    except (ValueError, OSError, EOFError, pd.errors.ParserError) as err:
        raise InputFileError(f"cannot parse as {fmt}: {str(err)[:300]}") from err


def write_table(frame: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    text = frame.to_csv(index=False).encode()
    # mtime=0: the same input gives byte-identical output (a resubmitted shard rewrites it).
    return gzip.compress(text, mtime=0) if fmt == "csv.gz" else text


def score_frame(model: Model, frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """`frame` with the model's output column added, and the count of rows left unscored."""
    missing_cols = [c for c in model.features if c not in frame.columns]
    if missing_cols:
        raise InputFileError(f"missing feature column(s): {', '.join(missing_cols)}")
    if model.output in frame.columns:
        raise InputFileError(f"the input already has a {model.output!r} column")
    try:
        x = frame[model.features].apply(pd.to_numeric, errors="raise").to_numpy(np.float64)
    except (ValueError, TypeError) as err:
        raise InputFileError(f"non-numeric feature value: {str(err)[:200]}") from err
    complete = np.isfinite(x).all(axis=1)
    out = np.full(len(frame), np.nan)
    if complete.any():
        out[complete] = model.predict(x[complete])
    scored = frame.copy()
    scored[model.output] = out
    return scored, int((~complete).sum())


def score_bytes(model: Model, data: bytes, key: str) -> Scored:
    """Score the bytes of the input object `key`; the output has the same format."""
    fmt = file_format(key)
    frame = read_table(data, fmt)
    scored, missing = score_frame(model, frame)
    return Scored(rows=len(scored), missing=missing, data=write_table(scored, fmt))


def output_key(input_key: str, input_prefix: str, output_prefix: str) -> str:
    """Where the output of `input_key` goes: the same relative path under the output prefix."""
    if not input_key.startswith(input_prefix):
        raise InputFileError(f"{input_key} is not under {input_prefix}")
    return output_prefix + input_key[len(input_prefix):]
