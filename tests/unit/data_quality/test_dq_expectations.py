from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dq_expectations import SPECS, ConfigError, compile_rules

VALUES = pd.Series(["Full Time", "part time", None, "Contract Temp", "Intern ship", "7", "12.5"])


def _check(name: str, **kwargs) -> list[bool]:
    (rule,) = compile_rules([{"id": "d-c", "column_name": "c",
                              "rules": [{"name": name, "kwargs": kwargs, "reject_msg": "R"}]}])
    return rule.check(VALUES).tolist()


def test_not_null_is_the_only_one_that_rejects_missing() -> None:
    assert _check("expect_column_values_to_not_be_null") == [True, True, False, True, True,
                                                             True, True]
    for name, kwargs in [("expect_column_values_to_match_regex", {"regex": "^Z"}),
                         ("expect_column_values_to_be_in_set", {"value_set": ["Z"]}),
                         ("expect_column_value_lengths_to_be_between", {"max_value": 1}),
                         ("expect_column_values_to_be_between", {"min_value": 100})]:
        assert _check(name, **kwargs)[2] is True  # the missing value passes (GE semantics)


def test_regex_expectations_search_like_ge() -> None:
    # searched, not fully matched: "Time" anywhere
    assert _check("expect_column_values_to_match_regex", regex="Time") == [
        True, False, True, False, False, False, False]
    assert _check("expect_column_values_to_not_match_regex", regex="\\s+") == [
        False, False, True, False, False, True, True]
    seed = [".*Full.*Time", ".*Part.*Time", ".*Contract.*"]
    assert _check("expect_column_values_to_match_regex_list", regex_list=seed) == [
        True, False, True, True, False, False, False]
    assert _check("expect_column_values_to_match_regex_list", regex_list=["e", "i"],
                  match_on="all") == [True, True, True, False, True, False, False]
    assert _check("expect_column_values_to_not_match_regex_list", regex_list=["\\d", "^F"]) == [
        False, True, True, True, True, False, False]


def test_length_set_and_number_expectations() -> None:
    assert _check("expect_column_value_lengths_to_be_between", min_value=2, max_value=9) == [
        True, True, True, False, False, False, True]
    assert _check("expect_column_value_lengths_to_be_between", min_value=9,
                  strict_min=True) == [False, False, True, True, True, False, False]
    assert _check("expect_column_value_lengths_to_equal", value=9) == [
        True, True, True, False, False, False, False]
    # CSV values are text: 7 in the set matches "7"
    assert _check("expect_column_values_to_be_in_set", value_set=["Full Time", 7]) == [
        True, False, True, False, False, True, False]
    assert _check("expect_column_values_to_not_be_in_set", value_set=["7"]) == [
        True, True, True, True, True, False, True]
    # numbers compare as numbers; text is outside any range
    assert _check("expect_column_values_to_be_between", min_value=7, max_value=12.5) == [
        False, False, True, False, False, True, True]
    assert _check("expect_column_values_to_be_between", min_value=7, max_value=12.5,
                  strict_max=True) == [False, False, True, False, False, True, False]


def test_strftime_format() -> None:
    dates = pd.Series(["2016-02-29", "2015-02-29", "02/03/2016", None, "2016-13-01"])
    (rule,) = compile_rules([{"id": "d-c", "column_name": "c", "rules": [
        {"name": "expect_column_values_to_match_strftime_format",
         "kwargs": {"strftime_format": "%Y-%m-%d"}}]}])
    assert rule.check(dates).tolist() == [True, False, False, True, False]
    assert rule.reject_msg == "REJECT:expect_column_values_to_match_strftime_format:c"


def test_every_named_expectation_is_implemented() -> None:
    required = {"expect_column_values_to_not_be_null", "expect_column_values_to_match_regex",
                "expect_column_values_to_match_regex_list",
                "expect_column_values_to_not_match_regex",
                "expect_column_value_lengths_to_be_between",
                "expect_column_values_to_be_in_set", "expect_column_values_to_be_between",
                "expect_column_values_to_be_unique",
                "expect_column_values_to_match_strftime_format"}
    assert required <= set(SPECS)


@pytest.mark.parametrize("rule, message", [
    ({"name": "expect_column_values_to_be_awesome"}, "unknown expectation"),
    ({"name": "expect_column_values_to_match_regex", "kwargs": {"pattern": "x"}},
     "takes no pattern"),
    ({"name": "expect_column_values_to_match_regex", "kwargs": {}}, "needs regex"),
    ({"name": "expect_column_values_to_match_regex", "kwargs": {"regex": "("}}, "bad regex"),
    ({"name": "expect_column_values_to_match_regex_list",
      "kwargs": {"regex_list": ["a"], "match_on": "some"}}, "match_on"),
    ({"name": "expect_column_value_lengths_to_be_between", "kwargs": {}},
     "min_value or max_value"),
    ({"name": "expect_column_values_to_be_between", "kwargs": {"min_value": "low"}},
     "must be a number"),
    ({"name": "expect_column_values_to_not_be_null", "kwargs": {"mostly": 2}}, "mostly"),
    ({"name": "expect_column_values_to_not_be_null", "kwargs": {"column": "other"}},
     "not the item's column_name"),
    ({"name": "expect_column_values_to_match_strftime_format",
      "kwargs": {"strftime_format": "YYYY"}}, "strftime_format"),
])
def test_configuration_errors(rule, message) -> None:
    with pytest.raises(ConfigError, match=message):
        compile_rules([{"id": "d-c", "column_name": "c", "rules": [rule]}])


def test_all_problems_reported_together() -> None:
    with pytest.raises(ConfigError) as err:
        compile_rules([
            {"id": "d-a", "column_name": "a", "rules": [{"name": "nope"}]},
            {"id": "d-b", "column_name": "b", "rules": []},
            {"id": "d-c", "rules": [{"name": "expect_column_values_to_not_be_null"}]},
        ])
    text = str(err.value)
    assert "d-a.rules[0]: unknown expectation 'nope'" in text
    assert "d-b: rules must be a non-empty list" in text
    assert "d-c: column_name is required" in text


def test_rule_ids_and_kwargs_kept_for_the_report() -> None:
    rules = compile_rules([{"id": "jobs-org", "column_name": "organization", "rules": [
        {"name": "expect_column_values_to_not_be_null", "kwargs": {"mostly": 0.9},
         "reject_msg": "REJECT:null"}]}])
    assert rules[0].id == "jobs-org:expect_column_values_to_not_be_null"
    assert rules[0].kwargs == {"mostly": 0.9}
    assert isinstance(rules[0].check(pd.Series(["a"])), np.ndarray)
