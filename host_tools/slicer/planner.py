"""Move timing for the gantry and the toolhead: one symmetric trapezoid per move.

Every move starts and ends at rest (exact stop at each junction). That is slower than a
look-ahead planner on corners, but it is the one shape both sides can reproduce from
three numbers: the gantry from (length, feed, acceleration), the toolhead from the
synced line `G1 E<mm> F<mm/min> D<ms>` (E over exactly D ms, symmetric trapezoid,
cruise rate F). With the same accelerate/cruise/decelerate times on both sides, E is
laid in proportion to the path at every instant of the move, not only at its ends.

Trapezoid (length L, cruise speed v, acceleration a, from rest to rest):
  L >= v^2/a  ->  t = L/v + v/a           (accelerate v/a, cruise, decelerate v/a)
  otherwise   ->  t = 2 sqrt(L/a), peak sqrt(L a)   (a triangle: v is never reached)

The toolhead's limits bind the gantry: a move extruding E over path L has E speed
v*E/L and E acceleration a*E/L, so v <= e_max_rate*L/E and a <= e_accel*L/E. The
planner lowers the move's feed and acceleration until both hold and reports it as
slowed for the extruder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# The toolhead firmware's extruder defaults (firmware/hearth/control/extruder.py DEFAULTS);
# a board's own config overrides them (Profile.from_board_config).
E_MAX_RATE_MM_S = 5.0
E_ACCEL_MM_S2 = 50.0
E_RAMP_MM_S2 = 10.0  # what the host plans E ramps with (Profile.e_accel_mm_s2)


@dataclass(frozen=True)
class Profile:
    """What the host plans with: the gantry's limits and the toolhead's extruder limits."""

    name: str = "default"
    accel_mm_s2: float = 500.0        # X/Y (and combined) acceleration
    z_accel_mm_s2: float = 100.0
    max_xy_mm_s: float = 150.0
    max_z_mm_s: float = 10.0
    default_feed_mm_s: float = 20.0   # until the file sets F
    e_max_rate_mm_s: float = E_MAX_RATE_MM_S
    # E is ramped gently, well under the toolhead's own limit (E_ACCEL_MM_S2): pressure
    # advance adds K dv/dt, and on a ramp-down the toolhead cannot pull the piston back
    # (v - K a < 0 is cut), so what stays in the nozzle to drool into the next move grows
    # with K^2 a (bench/print_quality.py: 75 -> 98 % of the path within 5 % at 10 vs 50)
    e_accel_mm_s2: float = E_RAMP_MM_S2
    e_mm3_per_mm: float = 2.405       # volume per mm of E: the 1.75 mm filament slicers assume
    e_max_move_mm: float = 50.0       # the toolhead's longest single E move (extruder max_len_mm): split above
    # The longest retract the toolhead makes (mm of E). A slicer's retract is sized for
    # plastic filament (PrusaSlicer's 6.5 mm Bowden default is 15.6 mm3 of paste): on a
    # paste piston it sucks air into the nozzle, which the prime must push out before
    # paste flows again, so the next line starts late by however much air is left. A
    # short pull only breaks the bead (pressure advance has already relieved the
    # pressure at the end of the line); each prime gives back what was retracted.
    retract_max_mm: float = 0.5
    homing_s: float = 10.0            # planned time for G28 (the gantry's own homing)
    probing_s: float = 30.0           # planned time for G29

    @classmethod
    def from_dict(cls, d: dict[str, Any], name: str = "profile") -> Profile:
        fields = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - fields)
        if unknown:
            raise ValueError(f"unknown profile key(s) {', '.join(unknown)} (known: {', '.join(sorted(fields))})")
        out: dict[str, Any] = {"name": d.get("name", name)}
        for k, v in d.items():
            if k == "name":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"profile {k}={v!r}: must be a number > 0")
            out[k] = float(v)
        return cls(**out)

    def with_extruder(self, max_rate_mm_s: float | None, accel_mm_s2: float | None) -> Profile:
        """The toolhead's own limits: its maximum E rate is planned with as it is; its
        acceleration only caps the profile's gentler ramp."""
        d = dict(self.__dict__)
        if max_rate_mm_s:
            d["e_max_rate_mm_s"] = float(max_rate_mm_s)
        if accel_mm_s2:
            d["e_accel_mm_s2"] = min(self.e_accel_mm_s2, float(accel_mm_s2))
        return Profile(**d)


def trapezoid(length: float, v: float, a: float) -> tuple[float, float, float]:
    """(duration s, peak speed, accelerating time s) of a rest-to-rest move."""
    if length <= 0:
        return 0.0, 0.0, 0.0
    if v <= 0 or a <= 0:
        raise ValueError("speed and acceleration must be > 0")
    if length >= v * v / a:
        return length / v + v / a, v, v / a
    peak = math.sqrt(length * a)
    return 2 * math.sqrt(length / a), peak, peak / a


@dataclass(frozen=True)
class Timed:
    duration_s: float
    feed_mm_s: float      # cruise speed the gantry is told (F/60)
    accel_mm_s2: float    # acceleration the move is planned with
    peak_mm_s: float
    accel_s: float        # time spent accelerating (= decelerating)
    slowed: bool          # the toolhead's limits lowered feed or acceleration
    accel_cmd: float = 0.0  # the acceleration the motion controller must be set to (M204 S)


def plan_move(dxyz: tuple[float, float, float], e: float, feed_mm_s: float, p: Profile) -> Timed:
    """Time one gantry move (with or without extrusion E, mm; negative E is a retract
    during the move)."""
    dx, dy, dz = dxyz
    length = math.sqrt(dx * dx + dy * dy + dz * dz)
    v = feed_mm_s
    a = p.accel_mm_s2
    slowed = False
    if length > 0 and e:
        # the toolhead's limits first: they set what the motion controller is told
        ratio = abs(e) / length
        if a * ratio > p.e_accel_mm_s2:
            a, slowed = p.e_accel_mm_s2 / ratio, True
    a_cmd = a
    if length > 0:
        # axis limits (the motion controller applies the same): scale the whole move
        xy = math.hypot(dx, dy)
        if xy > 0 and v * xy / length > p.max_xy_mm_s:
            v = p.max_xy_mm_s * length / xy
        if dz and v * abs(dz) / length > p.max_z_mm_s:
            v = p.max_z_mm_s * length / abs(dz)
        if dz and a * abs(dz) / length > p.z_accel_mm_s2:
            a = p.z_accel_mm_s2 * length / abs(dz)
    if length > 0 and e:
        ratio = abs(e) / length
        if v * ratio > p.e_max_rate_mm_s:
            v, slowed = p.e_max_rate_mm_s / ratio, True
    t, peak, ta = trapezoid(length, v, a)
    return Timed(t, v, a, peak, ta, slowed, a_cmd)


def plan_e_only(e: float, feed_mm_s: float, p: Profile) -> Timed:
    """An extruder-only move (retract, prime): the toolhead's own trapezoid."""
    v = min(feed_mm_s, p.e_max_rate_mm_s)
    t, peak, ta = trapezoid(abs(e), v, p.e_accel_mm_s2)
    return Timed(t, v, p.e_accel_mm_s2, peak, ta, feed_mm_s > p.e_max_rate_mm_s, p.accel_mm_s2)


def synced_line(e: float, t: Timed, d_ms: int | None = None, max_rate_mm_s: float | None = None) -> tuple[str, int]:
    """The toolhead line for a move that extrudes e over the gantry's trapezoid t, and
    its duration in ms (d_ms: the caller's, e.g. with rounding carried over from the
    moves before; default: t's, rounded up). Cruise E rate = e / (duration - accelerating
    time): the same profile scaled by E/L (a triangle: cruise = peak); never above
    max_rate_mm_s, never rounded up (the toolhead refuses a rate above its limit)."""
    if d_ms is None:
        d_ms = math.ceil(t.duration_s * 1000 - 1e-6)
    d_ms = max(1, d_ms)
    cruise_s = d_ms / 1000 - t.accel_s
    rate = abs(e) / cruise_s if cruise_s > 0 else abs(e) / (d_ms / 1000)
    if max_rate_mm_s is not None:
        rate = min(rate, max_rate_mm_s)
    f = math.floor(rate * 60 * 1000) / 1000
    return f"G1 E{_num(e, 5)} F{_num(f, 3)} D{d_ms}", d_ms


def _num(v: float, places: int) -> str:
    s = f"{v:.{places}f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s
