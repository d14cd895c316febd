"""A campaign's transformation rules, declared in its keys-table item and applied with pandas.

The rules are data, not code: `{"filters": [...], "derive": [...], "columns": [...]}`, applied
in that order to the source rows (every value read as text):

- filters: `{"column", "op", "value"}` with op one of FILTER_OPS; rows failing any are dropped.
- derive: `{"name", "op", "args", ...}` with op one of DERIVE_OPS; an arg is a column name, or
  `{"value": literal}`. Each derived column may use the ones before it.
- columns (required: it is the target table's schema): `{"name", "source", "type"}`, the
  output in order (source defaults to name, type to text). A value the type cannot hold
  becomes NULL and is counted, so one bad cell does not fail a COPY.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from common.warehouse import TYPES, Column, WarehouseError, quote_ident

FILTER_OPS = ("eq", "ne", "gt", "ge", "lt", "le", "in", "not_in", "between", "is_null",
              "not_null", "contains", "matches")
DERIVE_OPS = ("concat", "add", "subtract", "multiply", "divide", "upper", "lower", "strip",
              "round", "map", "constant", "coalesce", "substring", "date_part")
_NO_VALUE_FILTERS = ("is_null", "not_null")
_DATE_PARTS = ("year", "month", "day", "quarter")


class RuleError(ValueError):
    """The rules are not valid: a configuration error, reported before any row is read."""


@dataclass(frozen=True)
class OutputColumn:
    name: str
    source: str
    type: str = "text"


@dataclass(frozen=True)
class Rules:
    filters: list[dict[str, Any]] = field(default_factory=list)
    derive: list[dict[str, Any]] = field(default_factory=list)
    columns: list[OutputColumn] = field(default_factory=list)

    def target_columns(self) -> list[Column]:
        """The target table's columns: campaign_key first, then the declared ones."""
        return [Column("campaign_key"), *(Column(c.name, c.type) for c in self.columns)]


def _ident(value: Any, where: str) -> str:
    try:
        quote_ident(value)
    except WarehouseError as err:
        raise RuleError(f"{where}: {err}") from err
    if "." in value:
        raise RuleError(f"{where}: {value!r} is not a plain column name")
    return value


def parse_rules(raw: Any) -> Rules:
    """Validate rules from the keys table; RuleError names the first problem."""
    if not isinstance(raw, Mapping):
        raise RuleError("rules must be an object with filters, derive and columns")
    unknown = set(raw) - {"filters", "derive", "columns"}
    if unknown:
        raise RuleError(f"rules: unknown field(s) {', '.join(sorted(unknown))}")
    filters = _list(raw.get("filters"), "rules.filters")
    for i, rule in enumerate(filters):
        where = f"rules.filters[{i}]"
        if not isinstance(rule, Mapping) or rule.get("op") not in FILTER_OPS:
            raise RuleError(f"{where}: op must be one of {', '.join(FILTER_OPS)}")
        if not isinstance(rule.get("column"), str):
            raise RuleError(f"{where}: column is required")
        if rule["op"] not in _NO_VALUE_FILTERS and "value" not in rule:
            raise RuleError(f"{where}: op {rule['op']} needs a value")
        if rule["op"] in ("in", "not_in") and not isinstance(rule["value"], list):
            raise RuleError(f"{where}: op {rule['op']} needs a list value")
        if rule["op"] == "between" and not (isinstance(rule["value"], list)
                                            and len(rule["value"]) == 2):
            raise RuleError(f"{where}: op between needs [low, high]")
        if rule["op"] == "matches":
            try:
                re.compile(str(rule["value"]))
            except re.error as err:
                raise RuleError(f"{where}: bad regular expression: {err}") from err
    derive = _list(raw.get("derive"), "rules.derive")
    for i, rule in enumerate(derive):
        where = f"rules.derive[{i}]"
        if not isinstance(rule, Mapping) or rule.get("op") not in DERIVE_OPS:
            raise RuleError(f"{where}: op must be one of {', '.join(DERIVE_OPS)}")
        _ident(rule.get("name"), f"{where}.name")
        if rule["op"] != "constant" and not isinstance(rule.get("args"), list):
            raise RuleError(f"{where}: args (a list) is required")
        if rule["op"] == "map" and not isinstance(rule.get("mapping"), Mapping):
            raise RuleError(f"{where}: op map needs a mapping object")
        if rule["op"] == "date_part" and rule.get("part") not in _DATE_PARTS:
            raise RuleError(f"{where}: part must be one of {', '.join(_DATE_PARTS)}")
    columns = []
    if not raw.get("columns"):
        raise RuleError("rules.columns is required: it declares the target table's columns")
    for i, col in enumerate(_list(raw["columns"], "rules.columns")):
        where = f"rules.columns[{i}]"
        if not isinstance(col, Mapping):
            raise RuleError(f"{where}: must be an object with name (source, type)")
        name = _ident(col.get("name"), f"{where}.name")
        col_type = col.get("type", "text")
        if col_type not in TYPES:
            raise RuleError(f"{where}: type must be one of {', '.join(TYPES)}")
        columns.append(OutputColumn(name, str(col.get("source") or name), col_type))
    names = [c.name for c in columns]
    if len(set(names)) != len(names) or "campaign_key" in names:
        raise RuleError("rules.columns: names must be unique and not campaign_key")
    return Rules(filters, derive, columns)


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RuleError(f"{where} must be a list")
    return value


def _need(df: pd.DataFrame, column: str, where: str) -> pd.Series:
    if column not in df.columns:
        raise RuleError(f"{where}: no column {column!r} in the data")
    return df[column]


def _numeric(value: Any) -> Any:
    return pd.to_numeric(value, errors="coerce")


def _filter_mask(df: pd.DataFrame, rule: Mapping[str, Any], where: str) -> pd.Series:
    col = _need(df, rule["column"], where)
    op, value = rule["op"], rule.get("value")
    if op == "is_null":
        return col.isna() | (col == "")
    if op == "not_null":
        return col.notna() & (col != "")
    if op in ("in", "not_in"):
        inside = col.isin([str(v) for v in value])
        return inside if op == "in" else ~inside
    if op == "contains":
        return col.fillna("").str.contains(str(value), regex=False)
    if op == "matches":
        return col.fillna("").str.match(str(value))
    # Comparisons: numerically when the rule's value is a number, else as text (ISO dates
    # compare correctly as text).
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool)
                  for v in (value if op == "between" else [value]))
    left = _numeric(col) if numeric else col
    if op == "between":
        low, high = value
        return (left >= (low if numeric else str(low))) & (left <= (high if numeric else str(high)))
    right = value if numeric else str(value)
    result = {"eq": left == right, "ne": left != right, "gt": left > right,
              "ge": left >= right, "lt": left < right, "le": left <= right}[op]
    return result.fillna(False) if hasattr(result, "fillna") else result


def _arg(df: pd.DataFrame, arg: Any, where: str) -> Any:
    if isinstance(arg, Mapping) and "value" in arg:
        return arg["value"]
    if isinstance(arg, str):
        return _need(df, arg, where)
    raise RuleError(f"{where}: an arg is a column name or {{\"value\": literal}}")


def _derive(df: pd.DataFrame, rule: Mapping[str, Any], where: str) -> Any:
    op = rule["op"]
    if op == "constant":
        return rule.get("value")
    args = [_arg(df, a, where) for a in rule["args"]]
    if not args:
        raise RuleError(f"{where}: op {op} needs at least one arg")
    if op == "concat":
        parts = [a.fillna("").astype(str) if isinstance(a, pd.Series) else str(a) for a in args]
        out = parts[0] if isinstance(parts[0], pd.Series) else pd.Series(parts[0], index=df.index)
        for part in parts[1:]:
            out = out + str(rule.get("sep", "")) + part
        return out
    if op in ("add", "subtract", "multiply", "divide"):
        if len(args) != 2:
            raise RuleError(f"{where}: op {op} needs two args")
        left, right = (_numeric(a) for a in args)
        if op == "divide":
            # Division by zero gives NULL, not infinity (Redshift would refuse the value).
            right = right.replace(0, np.nan) if isinstance(right, pd.Series) else (
                np.nan if right == 0 else right)
        return {"add": lambda: left + right, "subtract": lambda: left - right,
                "multiply": lambda: left * right, "divide": lambda: left / right}[op]()
    first = args[0]
    if not isinstance(first, pd.Series):
        first = pd.Series(first, index=df.index)
    if op == "upper":
        return first.str.upper()
    if op == "lower":
        return first.str.lower()
    if op == "strip":
        return first.str.strip()
    if op == "round":
        return _numeric(first).round(int(rule.get("digits", 0)))
    if op == "map":
        mapping = {str(k): v for k, v in rule["mapping"].items()}
        default = rule.get("default")
        return first.map(lambda v: mapping.get(v, v if default is None else default))
    if op == "coalesce":
        out = first.replace("", np.nan)
        for other in args[1:]:
            out = out.fillna(other.replace("", np.nan) if isinstance(other, pd.Series) else other)
        return out
    if op == "substring":
        start = int(rule.get("start", 0))
        length = rule.get("length")
        return first.str.slice(start, None if length is None else start + int(length))
    # date_part
    dates = pd.to_datetime(first, errors="coerce", format="mixed")
    part = getattr(dates.dt, rule["part"])
    return part.astype("Int64")


def _typed(series: pd.Series, col_type: str) -> tuple[pd.Series, int]:
    """`series` as `col_type` (as text for the CSV); values it cannot hold become NULL."""
    present = series.notna() & (series.astype(str) != "")
    if col_type == "text":
        return series.where(present, None), 0
    if col_type in ("integer", "real"):
        values = _numeric(series)
        if col_type == "integer":
            values = values.where(values.isna() | (values == values.round()))
            values = values.astype("Int64")
    elif col_type in ("date", "timestamp"):
        dates = pd.to_datetime(series, errors="coerce", format="mixed")
        fmt = "%Y-%m-%d" if col_type == "date" else "%Y-%m-%d %H:%M:%S"
        values = dates.dt.strftime(fmt)
    else:  # boolean
        truth = {"true": True, "t": True, "1": True, "yes": True, "y": True,
                 "false": False, "f": False, "0": False, "no": False, "n": False}
        values = series.astype(str).str.strip().str.lower().map(truth)
    coerced = int((present & values.isna()).sum())
    return values, coerced


@dataclass
class Transformed:
    frame: pd.DataFrame
    columns: list[Column]
    rows_in: int
    rows_filtered: int
    coerced_nulls: int


def apply_rules(df: pd.DataFrame, rules: Rules, campaign_key: str) -> Transformed:
    """Filter, derive and select `df` by `rules`; the result starts with campaign_key."""
    rows_in = len(df)
    mask = pd.Series(True, index=df.index)
    for i, rule in enumerate(rules.filters):
        mask &= _filter_mask(df, rule, f"rules.filters[{i}]")
    df = df[mask].copy()
    for i, rule in enumerate(rules.derive):
        df[rule["name"]] = _derive(df, rule, f"rules.derive[{i}]")
    columns = rules.columns
    out = pd.DataFrame(index=df.index)
    out["campaign_key"] = campaign_key
    coerced = 0
    for col in columns:
        values, bad = _typed(_need(df, col.source, f"rules.columns {col.name!r}"), col.type)
        out[col.name] = values
        coerced += bad
    return Transformed(out.reset_index(drop=True), rules.target_columns(), rows_in,
                       rows_in - len(out), coerced)
