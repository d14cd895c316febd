from __future__ import annotations

import pytest


def test_generated_rows_are_deterministic_and_dirty(etl_demo) -> None:
    campaigns = {"A": ("2026-01-01", "2026-01-31"), "B": ("2026-02-01", "2026-02-28")}
    rows = etl_demo.generate_rows(campaigns, 1000, width=20)
    assert rows == etl_demo.generate_rows(campaigns, 1000, width=20)
    assert len(rows) == 2000 and len(rows[0]) == 20
    assert all("2026-01-01" <= r["sale_date"] <= "2026-01-31" for r in rows[:1000])
    bad_units = sum(r["units"] == "n/a" for r in rows)
    blank_regions = sum(r["region"] == "" for r in rows)
    assert 10 < bad_units < 80 and 10 < blank_regions < 100


def test_check_summary_catches_wrong_runs(etl_demo) -> None:
    good = {"rows_per_key": {"SPRING": 3}, "failures": [{"campaign_key": "BROKEN"}],
            "status": "PARTIAL"}
    etl_demo.check_summary(good, {"SPRING": 3})
    with pytest.raises(AssertionError, match="rows per key"):
        etl_demo.check_summary(good, {"SPRING": 4})
    with pytest.raises(AssertionError, match="failures"):
        etl_demo.check_summary({**good, "failures": []}, {"SPRING": 3})
    with pytest.raises(AssertionError, match="status"):
        etl_demo.check_summary({**good, "status": "SUCCEEDED"}, {"SPRING": 3})


def test_missing_outputs_fail_the_scenario(etl_demo) -> None:
    class Ctx:
        outputs: dict = {}

    with pytest.raises(AssertionError, match="EtlStateMachineArn is missing"):
        etl_demo.run(Ctx())
