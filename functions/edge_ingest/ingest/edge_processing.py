"""Process a CSV file as it arrives: filter, clean, summarise and scan it, in one pass.

Standard library only (the Snowball Edge Lambda environment: Python, boto3, 128 MB): rows are
streamed from any iterable of text lines and written to any text sink, so memory stays flat
whatever the file's size. Statistics use Welford's running mean and variance.
"""

from __future__ import annotations

import csv
import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

EXAMPLES_PER_FINDING = 5


class UnreadableFile(ValueError):
    """The file is not UTF-8 CSV with a header row: nothing in it can be judged."""


@dataclass
class Threshold:
    column: str
    above: float | None = None
    below: float | None = None

    def hit(self, value: float) -> bool:
        return ((self.above is not None and value > self.above)
                or (self.below is not None and value < self.below))

    @property
    def name(self) -> str:
        parts = [f"> {self.above:g}" if self.above is not None else "",
                 f"< {self.below:g}" if self.below is not None else ""]
        return f"{self.column} {' or '.join(p for p in parts if p)}"


@dataclass
class Pattern:
    column: str  # "*" scans every field
    regex: re.Pattern[str]
    name: str


@dataclass
class Rules:
    """What the function checks; from the RULES environment variable (JSON)."""

    required: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    thresholds: list[Threshold] = field(default_factory=list)
    patterns: list[Pattern] = field(default_factory=list)
    dedupe_on: list[str] = field(default_factory=list)
    dedupe_window: int = 10_000
    max_reject_ratio: float = 0.2

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Rules:
        """Rules from their JSON form; a malformed rule raises ValueError naming it."""
        if not isinstance(raw, dict):
            raise ValueError("rules must be a JSON object")
        try:
            ranges = {normalise(c): (float(lo), float(hi))
                      for c, (lo, hi) in (raw.get("ranges") or {}).items()}
            thresholds = [Threshold(normalise(t["column"]),
                                    float(t["above"]) if "above" in t else None,
                                    float(t["below"]) if "below" in t else None)
                          for t in raw.get("thresholds") or []]
            patterns = [Pattern(normalise(p.get("column", "*")) if p.get("column") != "*" else "*",
                                re.compile(p["regex"]), p.get("name") or p["regex"])
                        for p in raw.get("patterns") or []]
        except (KeyError, TypeError, ValueError, re.error) as err:
            raise ValueError(f"bad rule: {err}") from err
        if any(t.above is None and t.below is None for t in thresholds):
            raise ValueError("a threshold needs 'above' or 'below'")
        return cls(required=[normalise(c) for c in raw.get("required") or []],
                   numeric=[normalise(c) for c in raw.get("numeric") or []],
                   ranges=ranges, thresholds=thresholds, patterns=patterns,
                   dedupe_on=[normalise(c) for c in raw.get("dedupe_on") or []],
                   dedupe_window=int(raw.get("dedupe_window", 10_000)),
                   max_reject_ratio=float(raw.get("max_reject_ratio", 0.2)))


def normalise(name: str) -> str:
    """A column name as the output uses it: trimmed, lower case, runs of non-word chars '_'."""
    return re.sub(r"\W+", "_", name.strip().lower()).strip("_")


@dataclass
class ColumnStats:
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def as_dict(self) -> dict[str, Any]:
        if not self.count:
            return {"count": 0}
        std = math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 0.0
        return {"count": self.count, "min": self.minimum, "max": self.maximum,
                "mean": round(self.mean, 6), "stddev": round(std, 6)}


@dataclass
class Finding:
    rule: str
    kind: str  # threshold | pattern | problem
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: int, column: str, value: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES_PER_FINDING:
            self.examples.append({"row": row, "column": column, "value": value[:200]})


@dataclass
class Report:
    columns: list[str] = field(default_factory=list)
    rows_in: int = 0
    rows_out: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    stats: dict[str, ColumnStats] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def finding(self, rule: str, kind: str) -> Finding:
        if rule not in self.findings:
            self.findings[rule] = Finding(rule, kind)
        return self.findings[rule]

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows_in": self.rows_in, "rows_out": self.rows_out,
                "duplicates": self.duplicates, "rejected": dict(sorted(self.rejected.items())),
                "statistics": {c: s.as_dict() for c, s in self.stats.items()},
                "findings": [vars(f) for f in self.findings.values()]}


def decoded_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Text lines of a UTF-8 byte stream (BOM dropped); UnreadableFile if it is not UTF-8."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    pending = ""
    try:
        for chunk in chunks:
            pending += decoder.decode(chunk)
            *lines, pending = pending.split("\n")
            yield from (line + "\n" for line in lines)
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:
        raise UnreadableFile(f"not UTF-8 text (byte {err.start} of a chunk)") from err
    if pending:
        yield pending


def process(lines: Iterable[str], sink: TextIO, rules: Rules) -> Report:
    """Filter, clean, summarise and scan CSV `lines`; accepted rows go to `sink` as CSV."""
    report = Report()
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise UnreadableFile("empty file: no header row") from None
    except csv.Error as err:
        raise UnreadableFile(f"not CSV: {err}") from err
    columns = [normalise(h) for h in header]
    if not any(columns) or len(set(columns)) != len(columns):
        raise UnreadableFile("header row has empty or repeated column names")
    missing = [c for c in rules.required + rules.numeric if c not in columns]
    if missing:
        raise UnreadableFile(f"missing columns: {', '.join(sorted(set(missing)))}")
    report.columns = columns
    index = {c: i for i, c in enumerate(columns)}
    numeric = [(c, index[c]) for c in rules.numeric]
    report.stats = {c: ColumnStats() for c in rules.numeric}
    dedupe = [index[c] for c in rules.dedupe_on if c in index]
    recent: OrderedDict[tuple[str, ...], None] = OrderedDict()
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(columns)
    row_no = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            row_no += 1
            report.rows_in += 1
            report.reject("malformed CSV")
            continue
        row_no += 1
        if not row or all(not f.strip() for f in row):
            continue  # blank lines are not rows
        report.rows_in += 1
        reason, values = _clean(row, columns, index, numeric, rules)
        if reason:
            report.reject(reason)
            continue
        if dedupe:
            key = tuple(row[i].strip() for i in dedupe)
            if key in recent:
                report.duplicates += 1
                continue
            recent[key] = None
            if len(recent) > rules.dedupe_window:
                recent.popitem(last=False)
        cleaned = [f.strip() for f in row]
        for column, value in values.items():
            report.stats[column].add(value)
            for t in rules.thresholds:
                if t.column == column and t.hit(value):
                    report.finding(t.name, "threshold").add(row_no, column, cleaned[index[column]])
        for p in rules.patterns:
            targets = columns if p.column == "*" else [p.column] if p.column in index else []
            for column in targets:
                if p.regex.search(cleaned[index[column]]):
                    report.finding(p.name, "pattern").add(row_no, column, cleaned[index[column]])
        writer.writerow(cleaned)
        report.rows_out += 1
    if report.rows_in and report.rejected_total / report.rows_in > rules.max_reject_ratio:
        f = report.finding(f"rejected rows above {rules.max_reject_ratio:.0%}", "problem")
        f.count = report.rejected_total
        f.examples = [{"reason": r, "rows": n} for r, n in sorted(report.rejected.items())]
    return report


def _clean(row: list[str], columns: list[str], index: dict[str, int],
           numeric: list[tuple[str, int]], rules: Rules) -> tuple[str, dict[str, float]]:
    if len(row) != len(columns):
        return "wrong number of fields", {}
    for column in rules.required:
        if not row[index[column]].strip():
            return f"{column} missing", {}
    values: dict[str, float] = {}
    for column, i in numeric:
        text = row[i].strip()
        if not text:
            continue  # a missing reading is not an invalid one
        try:
            value = float(text)
        except ValueError:
            return f"{column} not a number", {}
        if not math.isfinite(value):
            return f"{column} not a number", {}
        bounds = rules.ranges.get(column)
        if bounds and not bounds[0] <= value <= bounds[1]:
            return f"{column} out of range", {}
        values[column] = value
    return "", values


def output_keys(key: str, incoming: str, processed: str) -> tuple[str, str]:
    """Where the cleaned rows and the summary of `key` go: side by side under `processed`."""
    rel = key[len(incoming):] if key.startswith(incoming) else key
    stem = rel[:-4] if rel.lower().endswith(".csv") else rel
    return f"{processed}{stem}.csv", f"{processed}{stem}.summary.json"
