from __future__ import annotations

import csv
import io
import re

import pytest


def test_generator_counts_equal_an_independent_recount(dq_demo) -> None:
    data, expected = dq_demo.sample_csv(2000, seed=9)
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert len(rows) == expected.rows == 2000
    assert list(rows[0]) == dq_demo.COLUMNS and len(dq_demo.COLUMNS) == 14
    recount = {
        "organization": sum(r["organization"] == "" for r in rows),
        "job_type": sum(not re.search(".*Full.*Time|.*Part.*Time|.*Contract.*", r["job_type"])
                        for r in rows),
        "uniq_id": sum(" " in r["uniq_id"] for r in rows),
        "location": sum(r["location"] != "" and not 3 <= len(r["location"]) <= 50
                        for r in rows),
    }
    assert recount == expected.per_rule and all(v > 20 for v in recount.values())
    assert sum(r["location"] == "" for r in rows) > 10  # missing, not a defect
    assert data == dq_demo.sample_csv(2000, seed=9)[0]


def test_check_report_catches_a_wrong_count(dq_demo) -> None:
    _, expected = dq_demo.sample_csv(50)
    report = {"status": "JUDGED", "rows": 50, "accepted_rows": expected.accepted,
              "rejected_rows": expected.rejected,
              "rules": [{"column": c, "unexpected_count": n}
                        for c, n in expected.per_rule.items()]}
    dq_demo.check_report(report, expected)
    report["rules"][0]["unexpected_count"] += 1
    with pytest.raises(AssertionError, match="rejections per rule"):
        dq_demo.check_report(report, expected)
    with pytest.raises(AssertionError, match="status QUARANTINED"):
        dq_demo.check_report({"status": "QUARANTINED", "error": "x"}, expected)
