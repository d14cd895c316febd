"""Telemetry samples and the crash rule: plain functions, no AWS."""

from __future__ import annotations

import json
import math

import pytest
from crash_telemetry import BadSample, Sample, Thresholds, assess, is_candidate, parse_sample

T = Thresholds()


def s(seq: int, speed: float, ax: float, ay: float = 0.0) -> Sample:
    return Sample("car-1", seq, 1_000_000 + seq * 1000, speed, ax, ay)


def test_parse_sample_round_trips_and_keeps_glitches() -> None:
    sample = Sample("car-1", 3, 1_777_629_900_000, 70.5, -0.2, 0.1, 33.1, -97.2)
    assert parse_sample(json.dumps(sample.to_dict())) == sample
    glitch = parse_sample('{"vehicle_id": "car-1", "seq": 1, "ts_ms": 5, "speed_kph": -1,'
                          ' "accel_x_g": NaN, "accel_y_g": 0}')
    assert math.isnan(glitch.accel_x_g) and glitch.speed_kph == -1
    assert parse_sample(json.dumps({**sample.to_dict(), "lat": None})).lat is None


@pytest.mark.parametrize("data, reason", [
    (b"\x00garbled", "not JSON"),
    ("[]", "not a JSON object"),
    ('{"seq": 1, "ts_ms": 1, "speed_kph": 1, "accel_x_g": 1, "accel_y_g": 1}', "vehicle_id"),
    ('{"vehicle_id": "a b", "seq": 1, "ts_ms": 1, "speed_kph": 1, "accel_x_g": 1,'
     ' "accel_y_g": 1}', "vehicle_id"),
    ('{"vehicle_id": "c", "seq": -1, "ts_ms": 1, "speed_kph": 1, "accel_x_g": 1,'
     ' "accel_y_g": 1}', "seq"),
    ('{"vehicle_id": "c", "seq": 1, "ts_ms": 1.5, "speed_kph": 1, "accel_x_g": 1,'
     ' "accel_y_g": 1}', "ts_ms"),
    ('{"vehicle_id": "c", "seq": 1, "ts_ms": 1, "speed_kph": "fast", "accel_x_g": 1,'
     ' "accel_y_g": 1}', "speed_kph"),
    ('{"vehicle_id": "c", "seq": 1, "ts_ms": 1, "speed_kph": 1, "accel_x_g": true,'
     ' "accel_y_g": 1}', "accel_x_g"),
])
def test_what_is_not_a_sample_is_bad(data: str | bytes, reason: str) -> None:
    with pytest.raises(BadSample, match=reason):
        parse_sample(data)


def test_the_filter_keeps_what_reaches_the_low_threshold_and_every_glitch() -> None:
    assert not is_candidate(s(1, 50, -1.0, 1.0), T)  # 1.41 g
    assert is_candidate(s(1, 50, -1.2, 0.9), T)  # 1.5 g
    assert is_candidate(s(1, 50, math.nan, 0), T)
    assert is_candidate(s(1, 50, math.inf, 0), T)


CRASH = (s(10, 71, -2.6), s(11, 28, -8.9, 1.7), s(12, 0, -0.8))


@pytest.mark.parametrize("window, crash, reason", [
    (CRASH, True, "crash"),
    ((CRASH[0], CRASH[1], None), True, "crash"),  # the unit died with the impact
    ((None, CRASH[1], CRASH[2]), True, "crash"),
    ((None, CRASH[1], None), False, "no plausible neighbour to confirm with"),
    ((s(10, 60, 0.1), s(11, 60, 6.5), s(12, 59, 0.2)), False,
     "spike without a change of speed"),
    ((s(10, 60, 0.1), s(11, 0, 5.0), s(12, 60, 0.1)), False,
     "spike without a change of speed"),  # a one-sample speed glitch
    ((s(10, 60, 0.1), s(11, 60, 1000.0), s(12, 60, 0.1)), False,
     "sensor glitch: implausible reading"),
    ((s(10, 60, 0.1), s(11, 60, math.nan), s(12, 60, 0.1)), False,
     "sensor glitch: implausible reading"),
    ((s(10, 60, 0.1), s(11, -1, 6.0), s(12, 0, 0.1)), False,
     "sensor glitch: implausible reading"),
    ((s(10, 70, -0.95), s(11, 40, -3.9), s(12, 10, -0.9)), False,
     "below the crash threshold"),
    ((s(10, 70, -9.5), s(11, 30, -8.0), s(12, 0, -1.0)), False, "not the peak of its window"),
    ((s(10, 70, -8.0), s(11, 30, -8.0), s(12, 0, -1.0)), False, "not the peak of its window"),
    ((s(10, 70, -2.0), s(11, 30, -8.0), s(12, 0, -8.0)), True, "crash"),  # the earlier peak
    ((s(10, 70, 900.0), s(11, 30, -8.0), s(12, 0, -1.0)), True, "crash"),  # glitchy X-1
])
def test_the_crash_rule(window, crash: bool, reason: str) -> None:
    verdict = assess(*window, T)
    assert (verdict.crash, verdict.reason) == (crash, reason)


def test_the_verdict_reports_the_speed_change() -> None:
    verdict = assess(*CRASH, T)
    assert (verdict.speed_before_kph, verdict.speed_after_kph, verdict.speed_drop_kph) == (
        71, 0, 71)
    silent = assess(CRASH[0], CRASH[1], None, T)
    assert (silent.speed_before_kph, silent.speed_after_kph) == (71, 28)
