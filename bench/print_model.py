"""Print quality, offline: where the extrusion error along the path comes from.

bench/print_quality.py measures the bead on a virtual board, host link and all. This
bench replays the same plan without a board, to take the error apart: the toolhead's
own extruder planner (firmware/hearth/control/extruder.py, run in CPython) drives the
printer plant's bead model (host_tools/sim/plants/printer.py, the same first-order lag
and air pocket), each toolhead move starting at its gantry move's planned start, at the
first toolhead tick after it; the gantry runs the plan's timeline exactly. No link
latency, no host turnaround: what is left is the toolhead's design.

Four toolheads, each with pressure advance off (K 0) and at the bead lag (K = tau):
  as built      10 ms tick; the piston pulls back where p + K v falls (one frequency
                per tick, a DIR flip between ticks)
  1 ms tick     as built, with a tenth of the tick (moves start within 1 ms)
  exact         10 ms tick, and the piston follows p + K v exactly, backwards too
                (what Klipper's pressure advance does between junctions)
  exact, 1 ms   1 ms tick and the exact piston
Same bins and metric as bench/print_quality.py (host_tools/slicer/bead.py).

Run: python -m bench.print_model [FILE ...] (default: the PrusaSlicer and Cura files).
Prints a markdown table; writes bench/results/print_model.json.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from bench import help_if_asked
from host_tools.sim.plants.printer import PrinterPlant
from host_tools.slicer import bead, job
from host_tools.slicer.planner import trapezoid

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "firmware"))  # the toolhead's planner, as the firmware has it
Extruder = importlib.import_module("hearth.control.extruder").Extruder

DATA = ROOT / "tests" / "data" / "slicer"
FILES = ["prusaslicer_4x4x2.gcode", "cura_hex2.gcode"]
PINS = {"stepper_step": 1, "stepper_dir": 2, "stepper_enable": 3, "heater": 4, "thermistor_adc": 5}
SYNCED = re.compile(r"G1 E(\S+) F(\S+) D(\d+)")


class PullBack:
    """A toolhead whose piston follows p(t) + K v(t) of each synced move exactly,
    backwards where that falls (the steps it would make, per tick)."""

    def __init__(self, k: float, spm: float) -> None:
        self.pa, self.spm, self.move, self.t = k, spm, None, 0.0

    def set_pa(self, k: float) -> None:
        self.pa = k

    def start(self, e: float, f: float, d_ms: int) -> None:
        t = d_ms / 1000
        tr = max(0.0, min(t / 2, t - abs(e) / (f / 60)))
        v = e / (t - tr)
        self.move, self.t = (e, t, tr, v, v / tr if tr else 0.0), 0.0

    def _x(self, t: float) -> float:
        assert self.move is not None
        e, d, tr, v, a = self.move
        if t >= d:
            return e
        if a and t < tr:
            p, vel = 0.5 * a * t * t, a * t
        elif a and t > d - tr:
            td = d - t
            p, vel = e - 0.5 * a * td * td, a * td
        else:
            p, vel = 0.5 * v * tr + v * (t - tr), v
        return p + self.pa * vel

    def moving(self) -> bool:
        return self.move is not None

    def tick(self, dt: float) -> float:
        """E (mm, signed) moved over the next dt."""
        x0 = self._x(self.t)
        self.t += dt
        x1 = self._x(self.t)
        assert self.move is not None
        if self.t >= self.move[1]:
            self.move = None
        return x1 - x0


def timeline(plan: job.Plan) -> tuple[list[tuple[float, str]], list[dict[str, Any]], float]:
    """(toolhead events (planned start, line), gantry segments, end time)."""
    t, acc = 0.0, plan.profile.accel_mm_s2
    events: list[tuple[float, str]] = []
    hist: list[dict[str, Any]] = []
    for st in plan.steps:
        if st.motion and st.motion.startswith("M204"):
            acc = float(st.motion.split("S")[1])
        if st.tool and st.tool.startswith(("G1 E", "M900")):
            events.append((t, st.tool))
        if st.kind in ("move", "travel") and st.motion:
            feed = float(st.motion.split("F")[-1]) / 60
            hist.append({"t0": t, "duration": st.duration_s, "accel_s": trapezoid(st.path_mm, feed, acc)[2],
                         "line": st.motion})
        t += st.duration_s
    return events, hist, t


def replay(plan: job.Plan, k: float, tick_s: float, pull_back: bool) -> dict[str, Any]:
    plant = PrinterPlant(PINS)
    mm3 = plan.profile.e_mm3_per_mm
    events, hist, end = timeline(plan)
    ext = Extruder({"pa_s": k, "tick_ms": max(1, round(tick_s * 1000))})
    pb = PullBack(k, ext.spm)
    now, i = 0.0, 0
    queue: list[str] = []
    samples = [(0.0, 0.0)]
    while now < end + 2.0:
        while i < len(events) and events[i][0] <= now + 1e-9:
            queue.append(events[i][1])
            i += 1
        head = pb if pull_back else ext
        while queue and not head.moving():
            line = queue.pop(0)
            if line.startswith("M900"):
                ext.set_pa(float(line[6:]))
                pb.set_pa(float(line[6:]))
                continue
            m = SYNCED.match(line)
            assert m, line
            e, f, d = float(m[1]), float(m[2]), int(m[3])
            if pull_back:
                pb.start(e, f, d)
            else:
                ext.start(*ext.plan(e, f, d))
            break
        if pull_back:
            q_in = (pb.tick(tick_s) if pb.moving() else 0.0) * mm3 / tick_s
        else:
            hz = ext.step(round(tick_s * 1e6)) if ext.moving() else 0
            q_in = ext.dir * hz / ext.spm * mm3
        plant._bead(q_in, tick_s)
        now += tick_s
        samples.append((now, plant.deposited_mm3))
    bs = bead.bins(plan, hist, samples)
    errs = sorted(abs(b.error) for b in bs)
    on_path = sum(b.deposited for b in bs)
    return {"k": k, "within_5pct": round(100 * sum(1 for e in errs if e <= 0.05) / len(errs), 1),
            "median_abs_err_pct": round(100 * errs[len(errs) // 2], 1), "bins": len(bs),
            "deposited_mm3": round(plant.deposited_mm3, 2), "off_path_mm3": round(plant.deposited_mm3 - on_path, 2)}


VARIANTS = [("as built", 0.01, False), ("1 ms tick", 0.001, False), ("exact", 0.01, True),
            ("exact, 1 ms", 0.001, True)]


def main(argv: list[str]) -> int:
    files = argv or FILES
    tau = PrinterPlant(PINS).bead_tau_s
    out: dict[str, Any] = {"bead_tau_s": tau, "files": []}
    print("| file | toolhead | within ±5 % (K 0) | within ±5 % (K = tau) | median abs. error (K = tau) "
          "| off the path mm3 (K = tau) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in files:
        rows = []
        for label, tick, pb in VARIANTS:
            r0, r1 = (replay(job.build(DATA / name, job.Material.preset("dark"), pressure_advance=k), k, tick, pb)
                      for k in (0.0, tau))
            rows.append({"toolhead": label, "tick_s": tick, "pull_back": pb, "k0": r0, "k_tau": r1})
            print(f"| {name} | {label} | {r0['within_5pct']} % | {r1['within_5pct']} % | "
                  f"{r1['median_abs_err_pct']} % | {r1['off_path_mm3']} |")
        out["files"].append({"file": name, "rows": rows})
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "print_model.json").write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    help_if_asked(__doc__)
    sys.exit(main(sys.argv[1:]))
