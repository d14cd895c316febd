from __future__ import annotations

import pandas as pd
import pytest
from etl_rules import RuleError, apply_rules, parse_rules

from common.warehouse import Column


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "id": ["1", "2", "3", "4", "5"],
        "region": ["EU", "US", "APAC", None, "EU"],
        "units": ["2", "n/a", "4", "1", "0"],
        "price": ["1.50", "2.00", "3.00", "4.00", "5.00"],
        "day": ["2026-01-05", "2026-02-10", "bad", "2026-03-01", "2026-01-31"],
        "channel": ["web", "store", "web", "web", "partner"],
    })


def test_filters_derive_and_typed_columns() -> None:
    rules = parse_rules({
        "filters": [{"column": "region", "op": "in", "value": ["EU", "US"]}],
        "derive": [{"name": "revenue", "op": "multiply", "args": ["units", "price"]},
                   {"name": "code", "op": "upper", "args": ["channel"]}],
        "columns": [{"name": "sale_id", "source": "id", "type": "integer"},
                    {"name": "units", "type": "integer"},
                    {"name": "revenue", "type": "real"},
                    {"name": "sold_on", "source": "day", "type": "date"},
                    {"name": "code"}],
    })
    out = apply_rules(_frame(), rules, "MCS2017")
    assert out.rows_in == 5 and out.rows_filtered == 2
    assert [c.name for c in out.columns] == ["campaign_key", "sale_id", "units", "revenue",
                                             "sold_on", "code"]
    assert out.columns[1] == Column("sale_id", "integer")
    records = out.frame.astype(object).where(out.frame.notna(), None).to_dict("records")
    assert records == [
        {"campaign_key": "MCS2017", "sale_id": 1, "units": 2, "revenue": 3.0,
         "sold_on": "2026-01-05", "code": "WEB"},
        # "n/a" units: NULL units and NULL revenue, the row kept
        {"campaign_key": "MCS2017", "sale_id": 2, "units": None, "revenue": None,
         "sold_on": "2026-02-10", "code": "STORE"},
        {"campaign_key": "MCS2017", "sale_id": 5, "units": 0, "revenue": 0.0,
         "sold_on": "2026-01-31", "code": "PARTNER"},
    ]
    assert out.coerced_nulls == 1  # "n/a" could not be an integer


def test_numeric_and_text_comparisons() -> None:
    rules = parse_rules({
        "filters": [{"column": "units", "op": "ge", "value": 1},
                    {"column": "day", "op": "between", "value": ["2026-01-01", "2026-02-28"]}],
        "columns": [{"name": "id"}],
    })
    out = apply_rules(_frame(), rules, "K")
    # units >= 1 numerically ("n/a" is not), day within Jan-Feb as text
    assert out.frame["id"].tolist() == ["1"]


@pytest.mark.parametrize("op, value, ids", [
    ("eq", "web", ["1", "3", "4"]),
    ("ne", "web", ["2", "5"]),
    ("not_in", ["web", "store"], ["5"]),
    ("contains", "tor", ["2"]),
    ("matches", "^(web|partner)$", ["1", "3", "4", "5"]),
    ("lt", 3, None),
])
def test_filter_ops(op, value, ids) -> None:
    column = "units" if op == "lt" else "channel"
    rules = parse_rules({"filters": [{"column": column, "op": op, "value": value}],
                         "columns": [{"name": "id"}]})
    out = apply_rules(_frame(), rules, "K")
    assert out.frame["id"].tolist() == (ids if ids is not None else ["1", "4", "5"])


def test_null_filters_and_derive_ops() -> None:
    rules = parse_rules({
        "filters": [{"column": "region", "op": "not_null"}],
        "derive": [
            {"name": "label", "op": "concat", "args": ["region", {"value": "x"}], "sep": "-"},
            {"name": "half", "op": "divide", "args": ["units", {"value": 0}]},
            {"name": "area", "op": "map", "args": ["region"],
             "mapping": {"EU": "Europe", "US": "Americas"}, "default": "Other"},
            {"name": "month", "op": "date_part", "args": ["day"], "part": "month"},
            {"name": "first", "op": "coalesce", "args": ["region", {"value": "none"}]},
            {"name": "short", "op": "substring", "args": ["channel"], "start": 0, "length": 2},
            {"name": "tag", "op": "constant", "value": "T"},
            {"name": "dollars", "op": "round", "args": ["price"], "digits": 0},
        ],
        "columns": [{"name": "label"}, {"name": "half", "type": "real"}, {"name": "area"},
                    {"name": "month", "type": "integer"}, {"name": "first"},
                    {"name": "short"}, {"name": "tag"}, {"name": "dollars", "type": "real"}],
    })
    out = apply_rules(_frame(), rules, "K")
    frame = out.frame
    assert frame["label"].tolist() == ["EU-x", "US-x", "APAC-x", "EU-x"]
    assert frame["half"].isna().all()  # division by zero is NULL, never infinity
    assert frame["area"].tolist() == ["Europe", "Americas", "Other", "Europe"]
    assert frame["month"].tolist()[:2] == [1, 2] and pd.isna(frame["month"][2])
    assert frame["short"].tolist() == ["we", "st", "we", "pa"]
    assert set(frame["tag"]) == {"T"}
    assert frame["dollars"].tolist() == [2.0, 2.0, 3.0, 5.0]


@pytest.mark.parametrize("raw, message", [
    (None, "must be an object"),
    ({"columns": []}, "rules.columns is required"),
    ({"columns": [{"name": "a"}], "extra": 1}, "unknown field"),
    ({"filters": [{"column": "a", "op": "like"}], "columns": [{"name": "a"}]}, "op must be"),
    ({"filters": [{"column": "a", "op": "eq"}], "columns": [{"name": "a"}]}, "needs a value"),
    ({"filters": [{"column": "a", "op": "in", "value": "x"}], "columns": [{"name": "a"}]},
     "needs a list"),
    ({"filters": [{"column": "a", "op": "matches", "value": "("}], "columns": [{"name": "a"}]},
     "bad regular expression"),
    ({"derive": [{"name": "x; DROP TABLE t", "op": "upper", "args": ["a"]}],
      "columns": [{"name": "a"}]}, "not a valid"),
    ({"derive": [{"name": "b", "op": "date_part", "args": ["a"], "part": "hour"}],
      "columns": [{"name": "a"}]}, "part must be"),
    ({"columns": [{"name": "a", "type": "money"}]}, "type must be"),
    ({"columns": [{"name": "a"}, {"name": "a"}]}, "unique"),
    ({"columns": [{"name": "campaign_key"}]}, "not campaign_key"),
])
def test_invalid_rules_are_refused(raw, message) -> None:
    with pytest.raises(RuleError, match=message):
        parse_rules(raw)


def test_missing_source_column_is_a_rule_error() -> None:
    rules = parse_rules({"columns": [{"name": "nope"}]})
    with pytest.raises(RuleError, match="no column 'nope'"):
        apply_rules(_frame(), rules, "K")
