"""The bead laid along the path: extrusion error per bin of path, from the gantry's record
of its moves and samples of the deposited volume (a virtual board's bead model,
World.extrusion()). Used by bench/print_quality.py and `hearth calibrate pa`.

For each extruding move, cut into bins of about BIN_MM: asked = the move's E volume
times the bin's share of the move; deposited = what the bead laid while the nozzle was
over the bin (the samples interpolated at the times the nozzle entered and left it,
from the move's trapezoid). Error = deposited / asked - 1. Retracts, primes and travel
ask for nothing on the path: what lands during them counts only as off the path.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

from host_tools.slicer.job import Plan

BIN_MM = 1.0


@dataclass(frozen=True)
class Bin:
    step: int          # index of the move in plan.steps
    asked: float       # mm3
    deposited: float   # mm3

    @property
    def error(self) -> float:
        return self.deposited / self.asked - 1


def deposited_at(samples: list[tuple[float, float]], t: float) -> float:
    """Cumulative deposited volume at world time t (samples: (t, mm3), ascending)."""
    ts = [s[0] for s in samples]
    i = bisect.bisect_left(ts, t)
    if i <= 0:
        return samples[0][1]
    if i >= len(samples):
        return samples[-1][1]
    (t0, v0), (t1, v1) = samples[i - 1], samples[i]
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0) if t1 > t0 else v1


def time_at_fraction(seg: dict[str, Any], f: float) -> float:
    """World time at which the gantry segment has covered fraction f of its length."""
    d, ta = seg["duration"], seg["accel_s"]
    area = d - ta
    s = f * area
    if ta <= 0:
        return seg["t0"] + s
    if s < 0.5 * ta:
        tau = math.sqrt(2 * s * ta)
    elif s <= area - 0.5 * ta:
        tau = s - 0.5 * ta + ta
    else:
        r = math.sqrt(max(0.0, 2 * (area - s) * ta))
        tau = d - r
    return seg["t0"] + tau


def bins(plan: Plan, history: list[dict[str, Any]], samples: list[tuple[float, float]],
         bin_mm: float = BIN_MM) -> list[Bin]:
    """The bins of every extruding move. history: the gantry's segments, one per G0/G1
    motion line of the plan, in order (ValueError when they do not pair up)."""
    segs = [s for s in history if s["line"].startswith(("G0", "G1"))]
    idx = [i for i, s in enumerate(plan.steps) if s.kind in ("move", "travel")]
    if len(segs) != len(idx):
        raise ValueError(f"the gantry made {len(segs)} moves, the plan has {len(idx)}: not the same job")
    mm3 = plan.profile.e_mm3_per_mm
    out: list[Bin] = []
    for i, seg in zip(idx, segs, strict=True):
        st = plan.steps[i]
        if st.kind != "move" or st.e <= 0:
            continue
        n = max(1, round(st.path_mm / bin_mm))
        for b in range(n):
            ta = time_at_fraction(seg, b / n)
            tb = time_at_fraction(seg, (b + 1) / n)
            out.append(Bin(i, st.e * mm3 / n, deposited_at(samples, tb) - deposited_at(samples, ta)))
    return out
