"""Pressure-advance K calibration: a pattern of rows, one per K, each a slow line, a fast
line and a slow line (the shape of Marlin's K-factor pattern and of Klipper's tuning
tower, stepped by row instead of by layer), printed through the normal slicer path.

Where the bead can be measured (a virtual board: its bench samples the deposited volume
and its gantry records every move), each row's extrusion error along its lines is
measured (host_tools/slicer/bead.py) and the K with the least median error is picked, a
parabola through the best row and its neighbours placing it between the steps. On a
real board the technician reads the printed rows instead (READ_HOW).

Why slow-fast-slow: the lag shows where the speed changes. Without enough K the fast
line starts thin and the slow line after it starts fat (the paste still pushing at
the fast rate); with too much K the starts blob and the ends starve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_tools.slicer import bead, job
from host_tools.slicer.job import Plan, Step

# Row geometry (mm, mm/s) and extrusion (mm of E per mm of path: a paste bead of about
# 1.5 mm x 1 mm at the 1.75 mm-filament E unit the host plans in)
SLOW_MM, FAST_MM = 10.0, 20.0
SLOW_MM_S, FAST_MM_S = 5.0, 25.0
E_PER_MM = 0.08
ROW_PITCH_MM = 8.0
SETTLE_MS = 1500          # dwell before each row: the last row's bead has landed
Z_MM = 1.0
ORIGIN = (20.0, 20.0)
TRAVEL_MM_S = 50.0

READ_HOW = ("Read the rows from the front (row 1, K = {k0:g}) to the back (row {n}, K = {k1:g}): each row is a slow "
            "line, a fast line, a slow line. Too little K: the fast line starts thin and the slow line after it "
            "starts fat. Too much K: blobs where the fast line starts, gaps where it ends. Pick the row whose "
            "three lines are the same width end to end; its K is K0 + (row - 1) x {step:g} s. Then: "
            "`hearth config set -p PORT printer.pressure_advance_s=K`.")


def ks_of(k_min: float, k_max: float, k_step: float) -> list[float]:
    """The K of each row (s). ValueError for a range the toolhead cannot take (0..1 s)."""
    if not 0.0 <= k_min < k_max <= 1.0:
        raise ValueError(f"K range {k_min:g}..{k_max:g} s: need 0 <= min < max <= 1 (the toolhead's M900 range)")
    if not 0.0 < k_step <= k_max - k_min:
        raise ValueError(f"K step {k_step:g} s: need 0 < step <= {k_max - k_min:g}")
    n = int(math.floor((k_max - k_min) / k_step + 1e-6)) + 1
    if n < 3:
        raise ValueError(f"K range {k_min:g}..{k_max:g} in steps of {k_step:g} gives {n} rows: at least 3 are needed")
    if n > 25:
        raise ValueError(f"{n} rows of K: at most 25 (a larger step or a narrower range)")
    return [round(k_min + i * k_step, 4) for i in range(n)]


def pattern(ks: list[float]) -> str:
    """The pattern as a slicer file (relative E, Marlin flavour). Each row starts with a
    `; row N K=...` comment; the host inserts the M900 before each row (slicer M900
    lines are ignored by policy)."""
    x0, y0 = ORIGIN
    out = ["; hearth pressure-advance calibration pattern", f"; rows: {len(ks)}, K {ks[0]:g}..{ks[-1]:g} s",
           ";FLAVOR:Marlin", "G21", "G90", "M83", "G28", f"G1 Z{Z_MM:g} F600"]
    for i, k in enumerate(ks):
        y = y0 + i * ROW_PITCH_MM
        x = x0
        out.append(f"; row {i + 1} K={k:g}")
        out.append(f"G0 X{x:g} Y{y:g} F{TRAVEL_MM_S * 60:g}")
        out.append(f"G4 P{SETTLE_MS}")
        for length, v in ((SLOW_MM, SLOW_MM_S), (FAST_MM, FAST_MM_S), (SLOW_MM, SLOW_MM_S)):
            x += length
            out.append(f"G1 X{x:g} Y{y:g} E{length * E_PER_MM:.4f} F{v * 60:g}")
    out.append(f"G4 P{SETTLE_MS}")
    out.append(f"G0 Z{Z_MM + 10:g} F600")
    return "\n".join(out) + "\n"


def row_lines(text: str) -> list[int]:
    """The file line of each row's comment."""
    return [n for n, ln in enumerate(text.splitlines(), 1) if ln.startswith("; row ")]


def build(path: str | Path, ks: list[float], material: job.Material, profile: Any = None) -> Plan:
    """Plan the pattern file with an M900 K before each row (and K0 after the last)."""
    text = Path(path).read_text()
    rows = row_lines(text)
    if len(rows) != len(ks):
        raise ValueError(f"{path}: {len(rows)} rows, {len(ks)} K values: not this pattern")
    plan = job.build(path, material, profile=profile)
    steps: list[Step] = []
    r = 0
    for st in plan.steps:
        while r < len(rows) and st.n >= rows[r]:
            steps.append(Step(rows[r], "tool", tool=f"M900 K{ks[r]:g}"))
            r += 1
        steps.append(st)
    plan.steps = steps
    return plan


@dataclass
class Result:
    ks: list[float]
    errors: list[float]                  # median |error| of each row's bins
    within: list[float]                  # share of each row's bins within 5 %
    best: float                          # picked K (s)
    bins_per_row: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"k_s": self.best, "rows": [
            {"k": k, "median_abs_err_pct": round(100 * e, 2), "within_5pct": round(100 * w, 1), "bins": n}
            for k, e, w, n in zip(self.ks, self.errors, self.within, self.bins_per_row, strict=True)]}


def analyse(plan: Plan, ks: list[float], history: list[dict[str, Any]],
            samples: list[tuple[float, float]]) -> Result:
    """Each row's extrusion error, and the K with the least (ValueError when a row has
    no measured bins)."""
    bs = bead.bins(plan, history, samples)
    # the row of each step: the M900 steps mark where each row begins
    row_of: dict[int, int] = {}
    r = -1
    for i, st in enumerate(plan.steps):
        if st.tool and st.tool.startswith("M900"):
            r += 1
        row_of[i] = r
    errs: list[list[float]] = [[] for _ in ks]
    for b in bs:
        r = row_of[b.step]
        if 0 <= r < len(ks):
            errs[r].append(abs(b.error))
    if any(not e for e in errs):
        raise ValueError("a row of the pattern has no measured bins: the bead samples do not cover the print")
    # the median: the ends of each line (where the toolhead cannot pull the piston back,
    # planner.py) weigh on a mean far more with too much K than with too little, and
    # pull it low (an offline model of this pattern: mean 0.25 s, median 0.28 s for a
    # 0.3 s lag)
    mean = [sorted(e)[len(e) // 2] for e in errs]
    within = [sum(1 for x in e if x <= 0.05) / len(e) for e in errs]
    i = min(range(len(ks)), key=lambda j: mean[j])
    best = ks[i]
    if 0 < i < len(ks) - 1:
        # a parabola through the best row and its neighbours: its vertex
        y0, y1, y2 = mean[i - 1], mean[i], mean[i + 1]
        den = y0 - 2 * y1 + y2
        if den > 0:
            h = ks[i + 1] - ks[i]
            best = ks[i] + 0.5 * h * (y0 - y2) / den
    return Result(ks, mean, within, round(best, 3), [len(e) for e in errs])
