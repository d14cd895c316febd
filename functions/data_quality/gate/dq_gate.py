"""The gate itself: judge a CSV chunk by chunk, write accepted and rejected rows as Parquet.

Memory stays bounded by the chunk size, whatever the file's size: rows are read `chunk_rows`
at a time, judged, and appended to two local Parquet files (one row group per chunk). The one
expectation that needs the whole column, uniqueness, gets a first pass over that column alone,
keeping an 8-byte hash per value (a duplicate is every row whose value occurs more than once,
as GE reports it).

A file pandas cannot read (bad encoding, a line with too many fields, no header, a rule's
column missing) raises Unparseable with the reason; nothing is written for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dq_expectations import Rule

CHUNK_ROWS = 50_000
COMMENTS = "comments"
SEPARATOR = "; "
_NOT_WORD = re.compile(r"\W+")


class Unparseable(ValueError):
    """The file is not a CSV the gate can judge; it goes to quarantine with this reason."""


def normalise_column(name: str) -> str:
    """Header names as warehouse identifiers: lower case, runs of other characters to `_`."""
    cleaned = _NOT_WORD.sub("_", str(name).strip().lower()).strip("_")
    if not cleaned or cleaned[0].isdigit():
        cleaned = f"c_{cleaned}"
    return cleaned


@dataclass
class RuleCount:
    rule: Rule
    unexpected: int = 0

    def as_dict(self, rows: int) -> dict[str, Any]:
        percent = 100.0 * self.unexpected / rows if rows else 0.0
        mostly = self.rule.kwargs.get("mostly")
        success = (self.unexpected == 0 if mostly is None
                   else rows == 0 or (rows - self.unexpected) / rows >= mostly)
        return {"id": self.rule.id, "column": self.rule.column, "expectation": self.rule.name,
                "kwargs": self.rule.kwargs, "reject_msg": self.rule.reject_msg,
                "unexpected_count": self.unexpected,
                "unexpected_percent": round(percent, 4), "success": success}


@dataclass
class Judgement:
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    chunks: int = 0
    columns: list[str] = field(default_factory=list)
    counts: list[RuleCount] = field(default_factory=list)

    def rules_report(self) -> list[dict[str, Any]]:
        return [c.as_dict(self.rows) for c in self.counts]


def _reader(stream: IO[bytes], chunk_rows: int, usecols: list[str] | None = None) -> Any:
    # Every value as text and only an empty field as null: "NA" is Namibia's country code,
    # not a missing value, and "null" in a job title is text.
    return pd.read_csv(stream, dtype=str, keep_default_na=False, na_values=[""],
                       chunksize=chunk_rows, encoding="utf-8", usecols=usecols)


def _chunks(open_csv: Callable[[], IO[bytes]], chunk_rows: int,
            usecols: list[str] | None = None) -> Any:
    stream = open_csv()
    try:
        try:
            yield from _reader(stream, chunk_rows, usecols)
        except pd.errors.EmptyDataError as err:
            raise Unparseable("the file is empty (no header row)") from err
        except pd.errors.ParserError as err:
            raise Unparseable(f"not valid CSV: {str(err).strip()}") from err
        except UnicodeDecodeError as err:
            raise Unparseable(f"not UTF-8 text: {err}") from err
        except ValueError as err:  # usecols naming a column the header lacks
            raise Unparseable(str(err)) from err
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _hashes(values: pd.Series) -> np.ndarray:
    return pd.util.hash_pandas_object(values, index=False).to_numpy()


def _duplicates(open_csv: Callable[[], IO[bytes]], rules: list[Rule], raw_columns: dict[str, str],
                chunk_rows: int) -> dict[str, np.ndarray]:
    """Per column with a uniqueness rule, the hashes of values that occur more than once."""
    columns = sorted({r.column for r in rules if r.needs_whole_column})
    if not columns:
        return {}
    seen: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    for chunk in _chunks(open_csv, chunk_rows, [raw_columns[c] for c in columns]):
        chunk.columns = [normalise_column(c) for c in chunk.columns]
        for column in columns:
            seen[column].append(_hashes(chunk[column].dropna()))
    duplicates = {}
    for column, parts in seen.items():
        values, counts = np.unique(np.concatenate(parts) if parts else np.array([], np.uint64),
                                   return_counts=True)
        duplicates[column] = values[counts > 1]
    return duplicates


def _header(open_csv: Callable[[], IO[bytes]]) -> dict[str, str]:
    """Normalised column name -> the header's own spelling (checked for clashes)."""
    for chunk in _chunks(open_csv, 1):
        raw = [str(c) for c in chunk.columns]
        break
    else:
        raise Unparseable("the file is empty (no header row)")
    names = {}
    for name in raw:
        norm = normalise_column(name)
        if norm in names:
            raise Unparseable(f"columns {names[norm]!r} and {name!r} have the same name "
                              f"once normalised ({norm})")
        names[norm] = name
    return names


def judge(open_csv: Callable[[], IO[bytes]], rules: list[Rule], accepted_path: Path,
          rejected_path: Path, chunk_rows: int = CHUNK_ROWS) -> Judgement:
    """Judge every row; write accepted rows (no comments) and rejected rows (with comments)."""
    raw_columns = _header(open_csv)
    columns = list(raw_columns)
    missing = sorted({r.column for r in rules} - set(columns))
    if missing:
        raise Unparseable(f"column(s) {', '.join(missing)} named by the rules are not in the "
                          f"header ({', '.join(columns)})")
    duplicates = _duplicates(open_csv, rules, raw_columns, chunk_rows)
    schema = pa.schema([(c, pa.string()) for c in columns])
    rejected_schema = schema.append(pa.field(COMMENTS, pa.string()))
    result = Judgement(columns=columns, counts=[RuleCount(r) for r in rules])
    with pq.ParquetWriter(accepted_path, schema) as accepted_out, \
            pq.ParquetWriter(rejected_path, rejected_schema) as rejected_out:
        for chunk in _chunks(open_csv, chunk_rows):
            chunk.columns = [normalise_column(c) for c in chunk.columns]
            comments = np.full(len(chunk), None, dtype=object)
            for count in result.counts:
                rule = count.rule
                values = chunk[rule.column]
                if rule.needs_whole_column:
                    failed = values.notna().to_numpy() & np.isin(
                        _hashes(values.fillna("")), duplicates[rule.column])
                else:
                    failed = ~rule.check(values)
                count.unexpected += int(failed.sum())
                for i in np.flatnonzero(failed):
                    comments[i] = (rule.reject_msg if comments[i] is None
                                   else comments[i] + SEPARATOR + rule.reject_msg)
            bad = pd.notna(comments)
            accepted = chunk[~bad]
            rejected = chunk[bad].assign(**{COMMENTS: comments[bad]})
            accepted_out.write_table(pa.Table.from_pandas(accepted, schema=schema,
                                                          preserve_index=False))
            rejected_out.write_table(pa.Table.from_pandas(rejected, schema=rejected_schema,
                                                          preserve_index=False))
            result.rows += len(chunk)
            result.accepted += len(accepted)
            result.rejected += len(rejected)
            result.chunks += 1
    return result
