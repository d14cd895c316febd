"""The synthetic telemetry the demo, the integration tests and the benchmark share."""

from __future__ import annotations

import math

import pytest
from crash_telemetry import Thresholds, assess, sample_from

T = Thresholds()


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/collision_alerts/demo.py", "collision_alerts_demo")


def test_only_the_crash_scenarios_hold_a_crash_by_the_rule(demo) -> None:
    f = demo.scenario_fleet("v-", per_kind=3, seed=11)
    by_vehicle: dict[str, dict[int, object]] = {}
    for raw in f.samples:
        sample = sample_from(raw)
        by_vehicle.setdefault(sample.vehicle_id, {})[sample.seq] = sample
    found = set()
    for vehicle, samples in by_vehicle.items():
        for seq, x in samples.items():
            if assess(samples.get(seq - 1), x, samples.get(seq + 1), T).crash:
                found.add((vehicle, seq))
    assert found == {(v, f.crash_seq[v]) for v in f.crashed}
    assert len(f.crashed) == 6 and len(f.kinds) == 3 * len(demo.KINDS)


def test_the_scenarios_look_as_they_say(demo) -> None:
    f = demo.scenario_fleet("v-", per_kind=1, seed=2)
    times = [s["ts_ms"] for s in f.samples]
    assert times == sorted(times)
    silent = [s for s in f.samples if s["vehicle_id"] == "v-crash_then_silence-0"]
    assert silent[-1]["seq"] == f.crash_seq["v-crash_then_silence-0"]
    nan = [s for s in f.samples if s["vehicle_id"] == "v-nan_glitch-0"]
    assert sum(math.isnan(s["accel_x_g"]) for s in nan) == 1
    spike = max((s for s in f.samples if s["vehicle_id"] == "v-spike-0"),
                key=lambda s: abs(s["accel_x_g"]))
    assert abs(spike["accel_x_g"]) >= 5
