"""Request checks of survival_api: every bad-input case of the issue, no R involved."""

from __future__ import annotations

import math

import pytest

from common.http import HttpError
from common.validation import ValidationError

TIMES = [5.0, 8.0, 12.0, 20.0]
EVENTS = [1, 0, 1, 0]
ROW = [0.1, 0.2, 0.3, 0.4]


@pytest.fixture(scope="module")
def req(load_module):
    return load_module("functions/survival_api/survival/survival_request.py",
                       "survival_api_request")


def _body(**changes):
    return {"times": TIMES, "events": EVENTS, "values_by_record": [ROW, ROW[::-1]], **changes}


def _reject(req, body, match, status=400, limits=None):
    with pytest.raises(HttpError, match=match) as info:
        req.parse_stats_request(body, limits or req.Limits())
    assert info.value.status == status
    return info.value


def test_a_good_request_is_parsed_to_floats_and_ints(req):
    parsed = req.parse_stats_request(
        {"times": [5, 8.5, 12, 20], "events": [1, 0, 1.0, 0], "values_by_record": [[1, 2, 3, 4]]},
        req.Limits(),
    )
    assert parsed.cohort.times == [5.0, 8.5, 12.0, 20.0]
    assert parsed.cohort.events == [1, 0, 1, 0]
    assert all(type(e) is int for e in parsed.cohort.events)
    assert parsed.rows == [[1.0, 2.0, 3.0, 4.0]]
    assert all(type(v) is float for v in parsed.rows[0])


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"events": [1, 0, 1]}, r"events has 3 entries but times has 4"),
        ({"values_by_record": [ROW, ROW[:3]]}, r"values_by_record\[1\] has 3 values but times "
                                                r"has 4"),
        ({"values_by_record": [ROW, [0.1, "x", 0.3, 0.4]]},
         r"values_by_record\[1\]\[1\] must be a number, got a string"),
        ({"values_by_record": [[0.1, None, 0.3, 0.4]]}, r"\[0\]\[1\] must be a number, got null"),
        ({"values_by_record": [[0.1, True, 0.3, 0.4]]}, r"got a boolean"),
        ({"times": [5, "8", 12, 20]}, r"times\[1\] must be a number, got a string"),
        ({"events": [1, 2, 1, 0]}, r"events\[1\] must be 0 \(censored\) or 1 \(event\), got 2"),
        ({"events": [1, True, 1, 0]}, r"events\[1\] must be 0 .* got True"),
        ({"events": [1, 0.5, 1, 0]}, r"events\[1\] must be 0 .* got 0.5"),
        ({"events": [0, 0, 0, 0]}, r"no event \(all 0\)"),
        ({"values_by_record": [[0.1, math.nan, 0.3, 0.4]]}, r"\[0\]\[1\] must be a finite "
                                                             r"number, got nan"),
        ({"values_by_record": [[0.1, math.inf, 0.3, 0.4]]}, r"finite number, got inf"),
        ({"times": [5, -math.inf, 12, 20]}, r"times\[1\] must be a finite number"),
        ({"times": [5, -1, 12, 20]}, r"times\[1\] must be >= 0"),
        ({"values_by_record": []}, r"at least one row"),
        ({"values_by_record": [ROW, []]}, r"values_by_record\[1\] is empty but times has 4"),
        ({"values_by_record": [ROW, 3]}, r"values_by_record\[1\]' must be a list"),
        ({"values_by_record": "1,2,3,4"}, r"must be a list of rows"),
        ({"times": [5]}, r"at least 2 samples, got 1"),
        ({"times": []}, r"at least 2 samples, got 0"),
        ({"times": "5,8"}, r"'times' must be a list of numbers"),
        ({"events": None}, r"Missing required field\(s\): events"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem(req, changes, match):
    error = _reject(req, _body(**changes), match)
    assert isinstance(error, ValidationError)


def test_missing_fields_are_all_named(req):
    _reject(req, {"times": TIMES}, r"Missing required field\(s\): events, values_by_record")
    _reject(req, [1, 2], r"body must be an object")


def test_limits_give_413_with_the_limit_in_the_message(req):
    error = _reject(req, _body(values_by_record=[ROW] * 3), r"Too many rows: 3; the limit is 2",
                    status=413, limits=req.Limits(max_rows=2, max_samples=4))
    assert error.extra == {"field": "values_by_record"}
    _reject(req, _body(), r"Too many samples: 4; the limit is 3", status=413,
            limits=req.Limits(max_rows=2, max_samples=3))
    # At the limit is fine.
    parsed = req.parse_stats_request(_body(values_by_record=[ROW] * 2), req.Limits(2, 4))
    assert len(parsed.rows) == 2


def test_limits_come_from_the_environment(req):
    assert req.Limits.from_env({}) == req.Limits(100, 2000)
    assert req.Limits.from_env({"MAX_ROWS": "20", "MAX_SAMPLES": "500"}) == req.Limits(20, 500)
    with pytest.raises(ValueError, match="MAX_ROWS must be a positive integer"):
        req.Limits.from_env({"MAX_ROWS": "0"})


def test_plot_request_defaults_and_checks(req):
    body = {"times": TIMES, "events": EVENTS, "values": ROW}
    parsed = req.parse_plot_request(body, req.Limits())
    assert (parsed.cutoff, parsed.title, parsed.width, parsed.height) == (
        None, "Kaplan-Meier", 800, 600)
    assert req.parse_plot_request({**body, "cutoff": 0.25}, req.Limits()).cutoff == 0.25
    for changes, match in [
        ({"values": ROW[:3]}, "values has 3 entries but times has 4"),
        ({"values": None}, r"Missing required field\(s\): values"),
        ({"cutoff": "mean"}, "'cutoff' must be a finite number or \"median\""),
        ({"cutoff": True}, "'cutoff' must be a finite number"),
        ({"width": 50}, "'width' must be an integer from 200 to 2000"),
        ({"height": 600.5}, "'height' must be an integer"),
        ({"title": "x" * 201}, "at most 200 characters"),
        ({"events": [0, 0, 0, 0]}, "no event"),
    ]:
        with pytest.raises(ValidationError, match=match):
            req.parse_plot_request({**body, **changes}, req.Limits())


def test_split_sizes_puts_ties_with_the_cutoff_in_the_low_group(req):
    assert req.split_sizes([1.0, 2.0, 2.0, 3.0], 2.0) == (3, 1)
    assert req.split_sizes([1.0, 2.0], 5.0) == (2, 0)
