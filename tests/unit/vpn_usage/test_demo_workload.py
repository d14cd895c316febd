"""The workload generator the demo, the integration tests and the benchmark share."""

from __future__ import annotations

from collections import defaultdict

import pytest


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/vpn_usage/demo.py", "vpn_usage_demo")


def test_totals_are_the_sums_of_the_reports(demo):
    start = 1_778_403_600  # 2026-05-10T09:00:00Z
    w = demo.generate_workload(start_minute=start, minutes=90, servers=3, accounts=4, seed=3)
    per_device: dict[str, int] = defaultdict(int)
    per_minute_device: set[tuple[str, str]] = set()
    for report in w.reports:
        assert report["reported_at"] > report["minute"]
        for entry in report["usage"]:
            per_device[entry["device_id"]] += entry["bytes_in"] + entry["bytes_out"]
            key = (report["minute"], entry["device_id"])
            assert key not in per_minute_device  # one server per device and minute
            per_minute_device.add(key)
    assert dict(per_device) == {d: w.device_total(d) for d in w.devices}
    assert w.entries == len(per_minute_device)
    assert {h for _, h in w.device_hours} == {"2026-05-10T09", "2026-05-10T10"}
    assert sum(sum(v) for v in w.account_cycles.values()) == sum(per_device.values())


def test_the_same_seed_gives_the_same_workload_and_idle_zero_fills_every_minute(demo):
    a = demo.generate_workload(start_minute=0, minutes=5, servers=2, accounts=2, seed=9)
    b = demo.generate_workload(start_minute=0, minutes=5, servers=2, accounts=2, seed=9)
    assert a.reports == b.reports
    full = demo.generate_workload(start_minute=0, minutes=5, servers=2, accounts=2, idle=0.0)
    assert full.entries == 5 * 4
