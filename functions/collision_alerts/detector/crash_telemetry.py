"""Vehicle telemetry samples and the crash rule (plain functions, no AWS).

A sample is one reading of one vehicle: its message counter `seq` (consecutive per vehicle, so
X-1 and X+1 are the neighbours), time, speed and horizontal acceleration. The filter keeps
samples whose acceleration reaches a low threshold; the confirmation looks at the candidate X
with X-1 and X+1 (the seed's window) and decides.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

VEHICLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


class BadSample(ValueError):
    """A stream record that is not a telemetry sample (a poison record)."""


@dataclass(frozen=True, slots=True)
class Sample:
    vehicle_id: str
    seq: int
    ts_ms: int
    speed_kph: float
    accel_x_g: float  # longitudinal (negative: braking)
    accel_y_g: float  # lateral
    lat: float | None = None
    lon: float | None = None

    @property
    def g(self) -> float:
        """Horizontal acceleration magnitude, in g."""
        return math.hypot(self.accel_x_g, self.accel_y_g)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"vehicle_id": self.vehicle_id, "seq": self.seq,
                               "ts_ms": self.ts_ms, "speed_kph": self.speed_kph,
                               "accel_x_g": self.accel_x_g, "accel_y_g": self.accel_y_g}
        if self.lat is not None and self.lon is not None:
            out.update(lat=self.lat, lon=self.lon)
        return out


def _number(obj: dict[str, Any], name: str) -> float:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadSample(f"{name} must be a number")
    return float(value)


def sample_from(obj: Any) -> Sample:
    """A Sample from a decoded JSON object; BadSample when it is not one. Values a sensor may
    get wrong (1000 g, a negative speed) are kept: judging them is the crash rule's job."""
    if not isinstance(obj, dict):
        raise BadSample("not a JSON object")
    vehicle = obj.get("vehicle_id")
    if not isinstance(vehicle, str) or not VEHICLE_ID.fullmatch(vehicle):
        raise BadSample("vehicle_id is missing or malformed")
    seq, ts = obj.get("seq"), obj.get("ts_ms")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise BadSample("seq must be a non-negative integer")
    if not isinstance(ts, int) or isinstance(ts, bool) or ts <= 0:
        raise BadSample("ts_ms must be a positive integer (epoch milliseconds)")
    lat, lon = obj.get("lat"), obj.get("lon")
    position = (isinstance(lat, (int, float)) and isinstance(lon, (int, float))
                and not isinstance(lat, bool) and not isinstance(lon, bool))
    return Sample(vehicle, seq, ts, _number(obj, "speed_kph"), _number(obj, "accel_x_g"),
                  _number(obj, "accel_y_g"), float(lat) if position else None,
                  float(lon) if position else None)


def parse_sample(data: bytes | str) -> Sample:
    """A Sample from a stream record's data."""
    try:
        # NaN and Infinity are accepted here (a sensor may send them) and judged implausible.
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadSample(f"not JSON: {err}") from err
    return sample_from(obj)


# --- the rule ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    candidate_g: float = 1.5  # the filter's low threshold: below it, obviously no crash
    crash_g: float = 4.0  # the candidate's peak must reach this
    min_speed_drop_kph: float = 10.0  # across X-1 .. X+1: a crash changes the velocity
    max_plausible_g: float = 150.0  # above: a sensor glitch, not physics
    max_plausible_kph: float = 400.0


@dataclass(frozen=True)
class Verdict:
    crash: bool
    reason: str
    speed_before_kph: float = 0.0  # X-1's speed (X's when X-1 is missing or implausible)
    speed_after_kph: float = 0.0  # X+1's speed (X's when X+1 is missing or implausible)

    @property
    def speed_drop_kph(self) -> float:
        return self.speed_before_kph - self.speed_after_kph


def plausible(s: Sample, t: Thresholds) -> bool:
    values = (s.speed_kph, s.accel_x_g, s.accel_y_g)
    return (all(math.isfinite(v) for v in values) and 0 <= s.speed_kph <= t.max_plausible_kph
            and s.g <= t.max_plausible_g)


def is_candidate(s: Sample, t: Thresholds) -> bool:
    """The filter: keep what might be a crash. A non-finite reading is kept as well, so the
    confirmation judges (and counts) it as a glitch instead of the filter losing it."""
    return not math.isfinite(s.g) or s.g >= t.candidate_g


def assess(prev: Sample | None, x: Sample, nxt: Sample | None, t: Thresholds) -> Verdict:
    """Crash or not, from the candidate X and its neighbours X-1 and X+1 (either may be
    missing: the vehicle's first message, or none after X when the telematics unit died)."""
    if not plausible(x, t):
        return Verdict(False, "sensor glitch: implausible reading")
    if x.g < t.crash_g:
        return Verdict(False, "below the crash threshold")
    neighbours = [n for n in (prev, nxt) if n is not None and plausible(n, t)]
    if not neighbours:
        return Verdict(False, "no plausible neighbour to confirm with")
    # One event, one alert: only the peak of its window confirms (the earlier of equal peaks).
    if (prev is not None and plausible(prev, t) and prev.g >= x.g) or (
            nxt is not None and plausible(nxt, t) and nxt.g > x.g):
        return Verdict(False, "not the peak of its window")
    before = prev.speed_kph if prev is not None and plausible(prev, t) else x.speed_kph
    after = nxt.speed_kph if nxt is not None and plausible(nxt, t) else x.speed_kph
    if before - after < t.min_speed_drop_kph:
        return Verdict(False, "spike without a change of speed", before, after)
    return Verdict(True, "crash", before, after)
