"""Great Expectations column expectations, row by row, with pandas (GE itself is not needed).

Names and kwargs are GE's, so a rule written for GE works here and the other way round:

    {"name": "expect_column_values_to_match_regex_list",
     "kwargs": {"regex_list": [".*Full.*Time", ".*Part.*Time"], "match_on": "any"},
     "reject_msg": "REJECT:invalid_job_type"}

Semantics follow GE's pandas backend: a null is "missing" and passes every expectation except
`expect_column_values_to_not_be_null` (GE filters missing values out of column-map
expectations); regexes are searched (`re.search`, GE's `str.contains`), not fully matched.
`mostly` and `result_format` are accepted: they shape GE's dataset-level result and appear in
the report here, but a row is rejected for each failing value whatever `mostly` says (the
gate's job is to keep bad rows out).

Unknown names, unknown or missing kwargs and bad regexes are a ConfigError, raised by
`compile_rules` before any row is judged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

COMMON_KWARGS = frozenset({"column", "mostly", "result_format", "include_config",
                           "catch_exceptions", "meta"})


class ConfigError(ValueError):
    """The rules cannot be applied (unknown expectation, bad kwargs): no row is judged."""


@dataclass(frozen=True)
class Spec:
    required: frozenset[str]
    optional: frozenset[str] = frozenset()


SPECS: dict[str, Spec] = {
    "expect_column_values_to_not_be_null": Spec(frozenset()),
    "expect_column_values_to_match_regex": Spec(frozenset({"regex"})),
    "expect_column_values_to_match_regex_list": Spec(frozenset({"regex_list"}),
                                                     frozenset({"match_on"})),
    "expect_column_values_to_not_match_regex": Spec(frozenset({"regex"})),
    "expect_column_values_to_not_match_regex_list": Spec(frozenset({"regex_list"})),
    "expect_column_value_lengths_to_be_between": Spec(frozenset(),
                                                      frozenset({"min_value", "max_value",
                                                                 "strict_min", "strict_max"})),
    "expect_column_value_lengths_to_equal": Spec(frozenset({"value"})),
    "expect_column_values_to_be_in_set": Spec(frozenset({"value_set"})),
    "expect_column_values_to_not_be_in_set": Spec(frozenset({"value_set"})),
    "expect_column_values_to_be_between": Spec(frozenset(),
                                               frozenset({"min_value", "max_value",
                                                          "strict_min", "strict_max"})),
    "expect_column_values_to_be_unique": Spec(frozenset()),
    "expect_column_values_to_match_strftime_format": Spec(frozenset({"strftime_format"})),
}


@dataclass(frozen=True)
class Rule:
    """One expectation on one column, ready to judge chunks."""

    id: str
    column: str
    name: str
    kwargs: dict[str, Any]
    reject_msg: str
    check: Callable[[pd.Series], np.ndarray] = field(compare=False, repr=False)

    @property
    def needs_whole_column(self) -> bool:
        """Uniqueness needs every value of the file, not one chunk (see dq_gate)."""
        return self.name == "expect_column_values_to_be_unique"


def _missing(values: pd.Series) -> np.ndarray:
    return values.isna().to_numpy()


def _text(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str)


def _regex(pattern: Any, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ConfigError(f"{where}: regex must be a string")
    try:
        return re.compile(pattern)
    except re.error as err:
        raise ConfigError(f"{where}: bad regex {pattern!r}: {err}") from err


def _regex_list(value: Any, where: str) -> list[re.Pattern[str]]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: regex_list must be a non-empty list")
    return [_regex(p, where) for p in value]


def _number(value: Any, where: str, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {name} must be a number") from None
    return float(value)


def _between(values: pd.Series, kwargs: Mapping[str, Any], where: str) -> np.ndarray:
    low = _number(kwargs.get("min_value"), where, "min_value")
    high = _number(kwargs.get("max_value"), where, "max_value")
    if low is None and high is None:
        raise ConfigError(f"{where}: min_value or max_value is required")
    ok = np.ones(len(values), dtype=bool)
    if low is not None:
        ok &= (values > low if kwargs.get("strict_min") else values >= low).to_numpy(bool)
    if high is not None:
        ok &= (values < high if kwargs.get("strict_max") else values <= high).to_numpy(bool)
    return ok


def _make_check(name: str, kwargs: Mapping[str, Any], where: str
                ) -> Callable[[pd.Series], np.ndarray]:
    """A function from a chunk's column to a boolean array: True where the row passes."""
    if name == "expect_column_values_to_not_be_null":
        return lambda s: ~_missing(s)

    def keep_missing(test: Callable[[pd.Series], np.ndarray]) -> Callable[[pd.Series], np.ndarray]:
        return lambda s: _missing(s) | test(s)

    if name in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
        pattern = _regex(kwargs["regex"], where)
        expect = name == "expect_column_values_to_match_regex"
        return keep_missing(lambda s: (_text(s).str.contains(pattern, regex=True)
                                       .to_numpy(bool) == expect))
    if name == "expect_column_values_to_match_regex_list":
        patterns = _regex_list(kwargs["regex_list"], where)
        match_on = kwargs.get("match_on", "any")
        if match_on not in ("any", "all"):
            raise ConfigError(f"{where}: match_on must be 'any' or 'all'")
        combine = np.logical_or if match_on == "any" else np.logical_and

        def regex_list(s: pd.Series) -> np.ndarray:
            text = _text(s)
            hits = [text.str.contains(p, regex=True).to_numpy(bool) for p in patterns]
            return combine.reduce(hits)

        return keep_missing(regex_list)
    if name == "expect_column_values_to_not_match_regex_list":
        patterns = _regex_list(kwargs["regex_list"], where)
        return keep_missing(lambda s: ~np.logical_or.reduce(
            [_text(s).str.contains(p, regex=True).to_numpy(bool) for p in patterns]))
    if name == "expect_column_value_lengths_to_be_between":
        _between(pd.Series([], dtype=float), kwargs, where)  # checks the kwargs now
        return keep_missing(lambda s: _between(_text(s).str.len(), kwargs, where))
    if name == "expect_column_value_lengths_to_equal":
        length = kwargs["value"]
        if isinstance(length, bool) or not isinstance(length, int):
            raise ConfigError(f"{where}: value must be an integer")
        return keep_missing(lambda s: (_text(s).str.len() == length).to_numpy(bool))
    if name in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
        value_set = kwargs["value_set"]
        if not isinstance(value_set, list):
            raise ConfigError(f"{where}: value_set must be a list")
        # CSV values are text: compare as text ("1" in [1, 2] is a member, as a reader means).
        members = {str(v) for v in value_set}
        inside = name == "expect_column_values_to_be_in_set"
        return keep_missing(lambda s: _text(s).isin(members).to_numpy(bool) == inside)
    if name == "expect_column_values_to_be_between":
        _between(pd.Series([], dtype=float), kwargs, where)

        def between(s: pd.Series) -> np.ndarray:
            numbers = pd.to_numeric(s, errors="coerce")
            # A value that is not a number is outside any range.
            return _between(numbers, kwargs, where) & numbers.notna().to_numpy()

        return keep_missing(between)
    if name == "expect_column_values_to_match_strftime_format":
        fmt = kwargs["strftime_format"]
        if not isinstance(fmt, str) or "%" not in fmt:
            raise ConfigError(f"{where}: strftime_format must be a format such as %Y-%m-%d")

        def parses(value: str) -> bool:
            try:
                datetime.strptime(value, fmt)
            except ValueError:
                return False
            return True

        return keep_missing(lambda s: _text(s).map(parses).to_numpy(bool))
    if name == "expect_column_values_to_be_unique":
        # Judged against the whole file by dq_gate (the chunk alone cannot tell).
        return lambda s: np.ones(len(s), dtype=bool)
    raise ConfigError(f"{where}: unknown expectation {name!r}")  # pragma: no cover (SPECS)


def compile_rules(items: list[Mapping[str, Any]]) -> list[Rule]:
    """Rules-table items (one per dataset column) -> rules; ConfigError lists every problem."""
    rules: list[Rule] = []
    problems: list[str] = []
    for item in items:
        item_id = str(item.get("id"))
        column = item.get("column_name")
        entries = item.get("rules")
        if not isinstance(column, str) or not column:
            problems.append(f"{item_id}: column_name is required")
            continue
        if not isinstance(entries, list) or not entries:
            problems.append(f"{item_id}: rules must be a non-empty list")
            continue
        for index, entry in enumerate(entries):
            where = f"{item_id}.rules[{index}]"
            try:
                rules.append(_compile(entry, column, where, item_id))
            except ConfigError as err:
                problems.append(str(err))
    if problems:
        raise ConfigError("; ".join(problems))
    return rules


def _compile(entry: Any, column: str, where: str, item_id: str) -> Rule:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: must be an object with name, kwargs and reject_msg")
    name = entry.get("name")
    spec = SPECS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ConfigError(f"{where}: unknown expectation {name!r} (known: "
                          f"{', '.join(sorted(SPECS))})")
    kwargs = dict(entry.get("kwargs") or {})
    if kwargs.get("column", column) != column:
        raise ConfigError(f"{where}: kwargs.column {kwargs['column']!r} is not the item's "
                          f"column_name {column!r}")
    unknown = set(kwargs) - spec.required - spec.optional - COMMON_KWARGS
    if unknown:
        raise ConfigError(f"{where}: {name} takes no {', '.join(sorted(unknown))}")
    missing = spec.required - set(kwargs)
    if missing:
        raise ConfigError(f"{where}: {name} needs {', '.join(sorted(missing))}")
    mostly = kwargs.get("mostly")
    if mostly is not None and not (isinstance(mostly, int | float) and 0 <= mostly <= 1):
        raise ConfigError(f"{where}: mostly must be between 0 and 1")
    reject_msg = entry.get("reject_msg") or f"REJECT:{name}:{column}"
    if not isinstance(reject_msg, str):
        raise ConfigError(f"{where}: reject_msg must be text")
    check = _make_check(name, kwargs, where)
    return Rule(f"{item_id}:{name}", column, name, kwargs, reject_msg, check)
