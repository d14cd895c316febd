"""The API's requests, checked before R sees them: plain Python, no R, no AWS.

Every problem is an HttpError whose message names the field (and row or sample) at fault:
400 for malformed data, 413 for a request over the configured size limits.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.http import HttpError
from common.validation import ValidationError, require_object

DEFAULT_MAX_ROWS = 100
# 100 rows x 2,000 samples of 17-digit numbers is about 4 MB of JSON, inside Lambda's 6 MB
# synchronous payload limit; larger cohorts would be refused by Lambda before reaching us.
DEFAULT_MAX_SAMPLES = 2000
MIN_SAMPLES = 2
PLOT_MIN_SIZE, PLOT_MAX_SIZE = 200, 2000
MAX_TITLE = 200


@dataclass(frozen=True)
class Limits:
    """Request size limits (MAX_ROWS and MAX_SAMPLES in the function's environment)."""

    max_rows: int = DEFAULT_MAX_ROWS
    max_samples: int = DEFAULT_MAX_SAMPLES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        env = os.environ if environ is None else environ
        return cls(
            max_rows=_positive_int(env, "MAX_ROWS", DEFAULT_MAX_ROWS),
            max_samples=_positive_int(env, "MAX_SAMPLES", DEFAULT_MAX_SAMPLES),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = int(raw)  # a bad setting is a deployment error: fail loudly at init
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return value


@dataclass(frozen=True)
class Cohort:
    """Follow-up times and event indicators of the same n samples."""

    times: list[float]
    events: list[int]

    @property
    def n(self) -> int:
        return len(self.times)


@dataclass(frozen=True)
class StatsRequest:
    """POST /survival: one Cox model per row of values_by_record."""

    cohort: Cohort
    rows: list[list[float]]


@dataclass(frozen=True)
class PlotRequest:
    """POST /survival/plot: one gene's values, split at `cutoff` (None = R's median)."""

    cohort: Cohort
    values: list[float]
    cutoff: float | None
    title: str
    width: int
    height: int


def _is_number(value: Any) -> bool:
    # JSON true/false arrive as bool, a subclass of int; they are not measurements.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(value: Any, field: str) -> list[float]:
    """`value` as a list of finite floats; the message names the first offending index."""
    if not isinstance(value, list):
        raise ValidationError(f"Field '{field}' must be a list of numbers", field=field)
    out = []
    for index, item in enumerate(value):
        if not _is_number(item):
            raise ValidationError(
                f"{field}[{index}] must be a number, got {_json_type(item)}", field=field
            )
        number = float(item)
        if not math.isfinite(number):
            # Python's json accepts NaN and Infinity; R would take them as NA/Inf silently.
            raise ValidationError(
                f"{field}[{index}] must be a finite number, got {item!r}", field=field
            )
        out.append(number)
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def parse_cohort(body: Mapping[str, Any], limits: Limits) -> Cohort:
    """times and events of `body`: equal lengths, times >= 0, events 0/1, at least one event."""
    missing = [name for name in ("times", "events") if body.get(name) is None]
    if missing:
        raise ValidationError(f"Missing required field(s): {', '.join(missing)}")
    times = _numbers(body["times"], "times")
    if len(times) < MIN_SAMPLES:
        raise ValidationError(
            f"Field 'times' must have at least {MIN_SAMPLES} samples, got {len(times)}",
            field="times",
        )
    if len(times) > limits.max_samples:
        raise HttpError(
            413,
            f"Too many samples: {len(times)}; the limit is {limits.max_samples} per request",
            field="times",
        )
    negative = next((i for i, t in enumerate(times) if t < 0), None)
    if negative is not None:
        raise ValidationError(
            f"times[{negative}] must be >= 0 (time to event or censoring), got {times[negative]}",
            field="times",
        )
    raw_events = body["events"]
    if not isinstance(raw_events, list):
        raise ValidationError("Field 'events' must be a list of 0/1", field="events")
    if len(raw_events) != len(times):
        raise ValidationError(
            f"events has {len(raw_events)} entries but times has {len(times)}; "
            "they must have one entry per sample",
            field="events",
        )
    events = []
    for index, item in enumerate(raw_events):
        if not _is_number(item) or item not in (0, 1):
            raise ValidationError(
                f"events[{index}] must be 0 (censored) or 1 (event), got {item!r}",
                field="events",
            )
        events.append(int(item))
    if not any(events):
        raise ValidationError(
            "events has no event (all 0): a survival model needs at least one", field="events"
        )
    return Cohort(times, events)


def parse_stats_request(body: Any, limits: Limits) -> StatsRequest:
    """The body of POST /survival, checked against `limits`."""
    body = require_object(body)
    if body.get("values_by_record") is None:
        missing = [n for n in ("times", "events", "values_by_record") if body.get(n) is None]
        raise ValidationError(f"Missing required field(s): {', '.join(missing)}")
    cohort = parse_cohort(body, limits)
    raw_rows = body["values_by_record"]
    if not isinstance(raw_rows, list):
        raise ValidationError(
            "Field 'values_by_record' must be a list of rows (lists of numbers)",
            field="values_by_record",
        )
    if not raw_rows:
        raise ValidationError(
            "Field 'values_by_record' must have at least one row", field="values_by_record"
        )
    if len(raw_rows) > limits.max_rows:
        raise HttpError(
            413,
            f"Too many rows: {len(raw_rows)}; the limit is {limits.max_rows} per request "
            "(split the records over several requests)",
            field="values_by_record",
        )
    rows = []
    for index, raw in enumerate(raw_rows):
        field = f"values_by_record[{index}]"
        if isinstance(raw, list) and len(raw) != cohort.n:
            problem = "is empty" if not raw else f"has {len(raw)} values"
            raise ValidationError(
                f"{field} {problem} but times has {cohort.n}; every row needs one value per "
                "sample",
                field="values_by_record",
            )
        try:
            rows.append(_numbers(raw, field))
        except ValidationError as err:
            raise ValidationError(err.message, field="values_by_record") from None
    return StatsRequest(cohort, rows)


def parse_plot_request(body: Any, limits: Limits) -> PlotRequest:
    """The body of POST /survival/plot: times, events, values, optional cutoff/title/size."""
    body = require_object(body)
    missing = [n for n in ("times", "events", "values") if body.get(n) is None]
    if missing:
        raise ValidationError(f"Missing required field(s): {', '.join(missing)}")
    cohort = parse_cohort(body, limits)
    values = _numbers(body["values"], "values")
    if len(values) != cohort.n:
        raise ValidationError(
            f"values has {len(values)} entries but times has {cohort.n}", field="values"
        )
    cutoff_raw = body.get("cutoff", "median")
    if cutoff_raw == "median":
        cutoff = None
    elif _is_number(cutoff_raw) and math.isfinite(cutoff_raw):
        cutoff = float(cutoff_raw)
    else:
        raise ValidationError("Field 'cutoff' must be a finite number or \"median\"",
                              field="cutoff")
    title = body.get("title", "Kaplan-Meier")
    if not isinstance(title, str) or len(title) > MAX_TITLE:
        raise ValidationError(
            f"Field 'title' must be a string of at most {MAX_TITLE} characters", field="title"
        )
    size = {}
    for name, default in (("width", 800), ("height", 600)):
        value = body.get(name, default)
        if not (isinstance(value, int) and not isinstance(value, bool)
                and PLOT_MIN_SIZE <= value <= PLOT_MAX_SIZE):
            raise ValidationError(
                f"Field '{name}' must be an integer from {PLOT_MIN_SIZE} to {PLOT_MAX_SIZE} "
                "(pixels)",
                field=name,
            )
        size[name] = value
    return PlotRequest(cohort, values, cutoff, title, size["width"], size["height"])


def split_sizes(values: list[float], cutoff: float) -> tuple[int, int]:
    """(low, high) group sizes for `cutoff`: high is values > cutoff, as in the plot."""
    high = sum(1 for v in values if v > cutoff)
    return len(values) - high, high
