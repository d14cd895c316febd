"""The ETL step: a company's dataset (CSV) cleaned and standardised into items with identifiers.

- Header names become snake_case; values are trimmed and inner whitespace collapsed.
- The identifier is the SKU, upper-cased, with every run of other characters than letters and
  digits turned into one "-" (" ab 12/x " -> "AB-12-X"), so it is safe in a URL and an S3 key.
- A row without a SKU is dropped (counted); a repeated identifier keeps its first row (counted).
- `manufacturer`, when present, is title-cased so "ACME corp" and "Acme Corp" agree.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_NOT_WORD = re.compile(r"[^0-9a-zA-Z]+")
_SPACES = re.compile(r"\s+")
IDENTIFIER_COLUMN = "sku"


class DatasetError(ValueError):
    """The dataset cannot be read as items (no header, no sku column, not UTF-8 CSV)."""


def snake(name: str) -> str:
    return _NOT_WORD.sub("_", name.strip()).strip("_").lower()


def identifier_of(sku: str) -> str:
    return _NOT_WORD.sub("-", sku.strip().upper()).strip("-")


@dataclass
class Cleaned:
    items: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0
    dropped_no_sku: int = 0
    duplicates: int = 0

    @property
    def identifiers(self) -> list[str]:
        return [item["item_id"] for item in self.items]


def clean_rows(rows: Iterable[dict[str, str]]) -> Cleaned:
    """Clean and standardise rows already keyed by snake_case names."""
    out = Cleaned()
    seen: set[str] = set()
    for row in rows:
        out.rows += 1
        values = {k: _SPACES.sub(" ", (v or "").strip()) for k, v in row.items() if k}
        identifier = identifier_of(values.get(IDENTIFIER_COLUMN, ""))
        if not identifier:
            out.dropped_no_sku += 1
            continue
        if identifier in seen:
            out.duplicates += 1
            continue
        seen.add(identifier)
        if values.get("manufacturer"):
            values["manufacturer"] = values["manufacturer"].title()
        attributes = {k: v for k, v in values.items() if v != ""}
        out.items.append({"item_id": identifier, "attributes": attributes})
    return out


def read_dataset(data: bytes) -> Cleaned:
    """A CSV dataset (header row, a sku column) -> cleaned items."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DatasetError(f"not UTF-8 text: {err}") from err
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise DatasetError("the dataset is empty (no header row)")
    names = [snake(h) for h in header]
    if IDENTIFIER_COLUMN not in names:
        raise DatasetError(f"no {IDENTIFIER_COLUMN} column in the header ({', '.join(names)})")
    return clean_rows(dict(zip(names, row, strict=False)) for row in reader if any(row))
