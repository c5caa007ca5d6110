"""Print quality: extrusion error along the path, with and without pressure advance.

A real slicer file (tests/data/slicer/prusaslicer_4x4x2.gcode, PrusaSlicer) is printed
twice on a virtual printer toolhead (frozen firmware, stock heap) with a virtual gantry,
in the same run: once without pressure advance (M900 K0), once with K equal to the
plant's bead lag (M900 K<bead_tau_s>). While it prints, the bench samples the bead's
cumulative deposited volume (World.extrusion(), the plant's first-order paste lag) every
few ms of world time; the gantry records every move it made (segments with their
trapezoids), so the nozzle's position along the path is known at every sample.

The extruding path is cut into 1 mm bins. For each bin: asked = the move's E volume
times the bin's share of the move; deposited = what the bead laid while the nozzle was
over the bin (the samples interpolated at the times the nozzle entered and left it).
Error = deposited / asked - 1. Goal (issue 14): |error| <= 5 % along >= 95 % of the
path with pressure advance, and better than without on the same file in the same run,
on a real slicer file: exit 0 when one file meets it and pressure advance is better on
every file (each file's verdict is printed). Deposits while the gantry travels (no E
asked) are drool, reported apart.

Also reported: the lag of each toolhead move behind its gantry move (host turnaround
and link latency; the lock-step bound in host_tools/slicer/stream.py).

Prints its markdown section; writes bench/results/print_quality.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import help_if_asked
from host_tools.protocol import BoardClient, ProtocolTimeout
from host_tools.sim.install import install
from host_tools.sim.relay import VirtualBoard
from host_tools.slicer import bead, job
from host_tools.slicer.stream import MotionPort, stream_plan
from host_tools.transport.serialport import open_port

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "slicer"
# (file, world speed factor): the paste-like Cura file (3 mm lines, slow) at 2x, the
# PrusaSlicer plastic file (60 mm/s, 6.5 mm retracts) at 1x so 1 mm bins stay sampled
FILES = [(n, float(sp)) for n, sp in (x.split(":") for x in os.environ.get(
    "PQ_FILES", "cura_hex2.gcode:2,prusaslicer_4x4x2.gcode:1").split(","))]
SAMPLE_S = 0.002
BIN_MM = 1.0
TOL = 0.05


def _hello(c: BoardClient) -> dict[str, Any] | None:
    try:
        return c.request("hello", timeout=0.5, retries=0)
    except ProtocolTimeout:
        return None


def _run(file: Path, speed: float, pa: float, tmp: Path) -> dict[str, Any]:
    vb = VirtualBoard("printer-s3", tmp / f"state-{file.stem}-{pa}", speed=speed, frozen=True, gantry=True)
    vb.start()
    try:
        install(vb)
        c = BoardClient(vb.console_path)
        end = time.monotonic() + 30
        while _hello(c) is None:
            if time.monotonic() > end:
                raise RuntimeError("the virtual board did not answer")
        with vb.world.lock:
            for p in vb.world.plants:
                if hasattr(p, "nozzle_c"):
                    p.nozzle_c = 32.0
        tau = next(p.bead_tau_s for p in vb.world.plants if hasattr(p, "bead_tau_s"))
        k = tau if pa else 0.0
        plan = job.build(file, job.Material.preset("dark"), pressure_advance=k)
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        extrusion = getattr(vb.world, "extrusion", None)
        if extrusion is None:
            raise RuntimeError("the virtual board's world has no bead (World.extrusion): this bench needs the "
                               "printer plant's bead model")

        def sample() -> None:
            while not stop.is_set():
                d = extrusion()  # its own world time: a now_s() after it can be late (GIL, load)
                samples.append((float(d["t_s"]), float(d.get("deposited_mm3", 0.0))))
                time.sleep(SAMPLE_S / speed)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        port = MotionPort(open_port(vb.gantry.path, timeout=0.02))
        c.request("stats_reset")  # the toolhead's own tick figures over the print (late ticks spoil bins)
        res = stream_plan(c, plan, port, every=60)
        loop = c.request("status", timeout=2.0, retries=3)["loop"]
        hist = loop.get("hist") or []
        res["ticks"] = {"ticks": loop["ticks"], "overruns": loop["overruns"],
                        "worst_ms": round(loop["worst_tick_us"] / 1000, 1), "over_20ms": sum(hist[5:])}
        time.sleep(1.0 / speed)  # the bead's tail
        stop.set()
        th.join()
        port.ser.close()
        c.close()
        return {"k": k, "tau": tau, "plan": plan, "samples": samples, "history": vb.gantry.history(), "res": res}
    finally:
        vb.stop()


def _analyse(run: dict[str, Any]) -> dict[str, Any]:
    plan: job.Plan = run["plan"]
    samples = run["samples"]
    bs = bead.bins(plan, run["history"], samples, BIN_MM)
    on_path = sum(b.deposited for b in bs)
    total = samples[-1][1] - samples[0][1]
    errs = sorted(abs(b.error) for b in bs if b.asked > 0)
    within = sum(1 for e in errs if e <= TOL) / len(errs)
    asked = plan.e_mm * plan.profile.e_mm3_per_mm
    return {"k": run["k"], "bins": len(bs), "within_5pct": round(100 * within, 1),
            "median_abs_err_pct": round(100 * errs[len(errs) // 2], 1),
            "p95_abs_err_pct": round(100 * errs[int(0.95 * (len(errs) - 1))], 1),
            "asked_mm3": round(asked, 2), "deposited_mm3": round(total, 2),
            "off_path_mm3": round(total - on_path, 2), "elapsed_s": run["res"]["elapsed_s"],
            "planned_s": run["res"]["planned_s"], "toolhead_ticks": run["res"].get("ticks"),
            "max_lag_lines": run["res"].get("max_lag_lines")}


def main() -> int:
    out: dict[str, Any] = {"bin_mm": BIN_MM, "files": []}
    print("| file | pressure advance K (s) | 1 mm bins | within ±5 % | median abs. error | p95 abs. error "
          "| asked mm3 | deposited mm3 | off the path mm3 | time (planned) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    notes = []
    for name, speed in FILES:
        f = DATA / name
        with tempfile.TemporaryDirectory() as d:
            runs = [_run(f, speed, 0.0, Path(d)), _run(f, speed, 1.0, Path(d))]
        rows = [_analyse(r) for r in runs]
        tau = runs[0]["tau"]
        no_pa, pa = rows
        met = pa["within_5pct"] >= 95.0 and pa["within_5pct"] > no_pa["within_5pct"]
        out["files"].append({"file": name, "speed": speed, "bead_tau_s": tau, "rows": rows, "goal_met": met})
        for r in rows:
            print(f"| {name} | {r['k']:g}{' (baseline)' if not r['k'] else ''} | {r['bins']} | {r['within_5pct']} % | "
                  f"{r['median_abs_err_pct']} % | {r['p95_abs_err_pct']} % | {r['asked_mm3']} | {r['deposited_mm3']} "
                  f"| {r['off_path_mm3']} | {r['elapsed_s']} s ({r['planned_s']} s) |")
        notes.append(f"{name} (bead lag {tau:g} s, world at {speed:g}x): goal "
                     f"{'met' if met else 'not met'} ({pa['within_5pct']} % within ±5 % with pressure advance, "
                     f"{no_pa['within_5pct']} % without)")
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "print_quality.json").write_text(json.dumps(out, indent=1))
    print()
    print("Each file printed twice on the same virtual toolhead (frozen firmware, stock heap) and gantry, dark "
          "chocolate preset: M900 K0, then K = the plant's bead lag. Goal: ±5 % along >= 95 % of the extruding "
          "path with pressure advance, better than without. " + "; ".join(notes) + ".")
    # Issue 14's goal is on a real slicer file: met on one, and pressure advance better
    # than none on every file (each file's own verdict is in the notes above)
    better = all(f["rows"][1]["within_5pct"] > f["rows"][0]["within_5pct"] for f in out["files"])
    return 0 if better and any(f["goal_met"] for f in out["files"]) else 1


if __name__ == "__main__":
    help_if_asked(__doc__)
    sys.exit(main())
