"""Turn a slicer file into a job plan: the line pairs the host sends (motion port,
toolhead), their planned durations, and what --check reports. Pure: no board, no ports.

Each Step pairs what one file line becomes on each side; the streamer (stream.py) sends
a step's motion line and its toolhead line together and keeps the two in lock-step.
Toolhead lines always carry relative E (the host keeps M82/M83/G92 E itself).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_tools.slicer import gcodefile, planner
from host_tools.slicer.gcodefile import FileRefused, Line
from host_tools.slicer.planner import Profile, Timed
from host_tools.slicer.policy import ACT, HOST, IGNORE, MOTION, REFUSE, classify

# setpoint, tolerance, lowest and highest temperature (C), danger-zone limit (min, 0 exempt):
# the toolhead's presets (firmware/hearth/roles/printer.py _PRESETS; a test keeps them equal).
# A board's config may differ: with a port, the host reads the board's own (material_limits).
MATERIALS: dict[str, tuple[float, float, float, float, int]] = {
    "dark": (32.0, 0.5, 30.0, 34.0, 0),
    "milk": (30.0, 0.5, 28.5, 32.0, 0),
    "white": (28.5, 0.5, 27.0, 30.0, 0),
    "dough": (30.0, 1.0, 20.0, 38.0, 240),
    "puree": (65.0, 1.0, 60.0, 70.0, 120),
}
SLICER_TEMPS = ("refuse", "preset")
PAUSES = {"M0": "M0", "M1": "M1", "M25": "M25", "M226": "M25", "M600": "M600", "M601": "M25"}


@dataclass(frozen=True)
class Material:
    name: str
    setpoint_c: float
    min_c: float
    max_c: float

    @classmethod
    def preset(cls, name: str) -> Material:
        if name not in MATERIALS:
            raise ValueError(f"unknown material {name!r} (known: {', '.join(MATERIALS)})")
        sp, _tol, lo, hi, _dz = MATERIALS[name]
        return cls(name, sp, lo, hi)


@dataclass
class Step:
    n: int                    # file line (0: inserted by the host)
    kind: str                 # move, travel, e, temp, fan, dwell, pause, motion, tool, stop
    motion: str | None = None
    tool: str | None = None
    duration_s: float = 0.0
    layer: int = 0
    e: float = 0.0            # mm of E (signed)
    path_mm: float = 0.0      # XYZ length of the move
    wait: bool = False        # the toolhead line must finish before the next motion line
    slowed: bool = False
    # the gantry after this step (file coordinates), its G90/G91 and acceleration: where
    # a resumed job takes up the path (stream.py)
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    absolute: bool = True
    accel: float = 0.0


@dataclass
class Plan:
    file: str
    size: int
    slicer: str
    flavour: str
    material: Material
    slicer_temps: str
    profile: Profile
    heaters: int = 1
    steps: list[Step] = field(default_factory=list)
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    comments: int = 0
    notes: dict[str, list[int]] = field(default_factory=dict)
    changed: list[dict[str, Any]] = field(default_factory=list)
    inserted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    retract_capped: list[int] = field(default_factory=list)  # file lines whose retract was shortened
    lines: int = 0

    @property
    def ok(self) -> bool:
        return not self.refused

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.steps)

    @property
    def layers(self) -> int:
        return max((s.layer for s in self.steps), default=0)

    @property
    def e_mm(self) -> float:
        return max(0.0, sum(s.e for s in self.steps))

    def tool_lines(self) -> list[str]:
        return [s.tool for s in self.steps if s.tool]

    def summary(self) -> dict[str, Any]:
        moves = [s for s in self.steps if s.kind in ("move", "travel")]
        ext = [s for s in moves if s.e > 0]
        return {
            "file": self.file, "bytes": self.size, "lines": self.lines, "slicer": self.slicer or None,
            "flavour": self.flavour or None,
            "material": {"name": self.material.name, "setpoint_c": self.material.setpoint_c,
                         "min_c": self.material.min_c, "max_c": self.material.max_c},
            "slicer_temps": self.slicer_temps,
            "profile": dict(self.profile.__dict__),
            "classes": {k: dict(sorted(v.items())) for k, v in self.counts.items()},
            "comment_or_blank_lines": self.comments,
            "ignored": {k: v for k, v in sorted(self.notes.items())},
            "changed_temperature_lines": self.changed,
            "inserted": self.inserted,
            "retracts_shortened": self.retract_capped,
            "refused": self.refused,
            "moves": len(moves), "extruding_moves": len(ext),
            "slowed_for_extruder": sum(1 for s in moves if s.slowed),
            "path_mm": round(sum(s.path_mm for s in moves), 1),
            "extruding_path_mm": round(sum(s.path_mm for s in ext), 1),
            "layers": self.layers,
            "toolhead_lines": len(self.tool_lines()),
            "motion_lines": sum(1 for s in self.steps if s.motion),
            "planned_s": round(self.duration_s, 1),
            "e_mm": round(self.e_mm, 2),
            "volume_mm3": round(self.e_mm * self.profile.e_mm3_per_mm, 1),
            "printable": self.ok,
        }


def _fmt(v: float, places: int = 3) -> str:
    return planner._num(v, places)


def _hms(s: float) -> str:
    s = int(round(s))
    h, r = divmod(s, 3600)
    m, sec = divmod(r, 60)
    return f"{h} h {m:02d} min {sec:02d} s" if h else (f"{m} min {sec:02d} s" if m else f"{sec} s")


class _Builder:
    def __init__(self, plan: Plan) -> None:
        self.p = plan
        self.pos = [0.0, 0.0, 0.0]
        self.abs_xyz = True
        self.abs_e = True
        self.e_pos = 0.0
        self.feed = plan.profile.default_feed_mm_s
        self.feed_factor = 1.0
        self.flow = 1.0
        self.layer = 0
        self.last_ext_z: float | None = None
        self.heated = False       # a temperature line came before the first extrusion
        self.extruded = False
        self.tool = 0
        # planned time so far (s), and the toolhead time sent so far (ms): each synced
        # line's D is rounded against the running total, so rounding never adds up
        self.t_plan = 0.0
        self.t_sent_ms = 0
        self.accel = plan.profile.accel_mm_s2  # what the motion controller was last told (M204)
        # retracts: what the slicer has retracted and not primed back yet, and how much of
        # it the toolhead really pulled (at most profile.retract_max_mm)
        self.slicer_retracted = 0.0
        self.tool_retracted = 0.0

    # -- helpers ---------------------------------------------------------------------------
    def refuse(self, ln: Line, reason: str) -> None:
        self.p.refused.append({"line": ln.n, "text": ln.raw.strip(), "reason": reason})

    def add(self, st: Step) -> None:
        st.layer = self.layer
        st.pos = (self.pos[0], self.pos[1], self.pos[2])
        st.absolute = self.abs_xyz
        st.accel = self.accel
        self.p.steps.append(st)

    def timed(self, duration_s: float) -> int:
        """D in ms for a toolhead move of duration_s that starts now in the plan."""
        self.t_plan += duration_s
        d = round(self.t_plan * 1000) - self.t_sent_ms
        self.t_sent_ms += d
        return d

    def untimed(self, duration_s: float) -> None:
        """A step the toolhead does not time (travel, homing): both sides re-align at the
        next motion `ok`, so the running totals start again from here."""
        self.t_plan += duration_s
        self.t_sent_ms = round(self.t_plan * 1000)

    def first_heat(self) -> None:
        if not self.heated:
            m = self.p.material
            self.heated = True
            self.add(Step(0, "temp", tool=f"M109 S{_fmt(m.setpoint_c, 1)}", wait=True))
            self.p.inserted.append({"before_line": None, "line": f"M109 S{_fmt(m.setpoint_c, 1)}",
                                    "why": f"no temperature line before the first extrusion: {m.name}'s setpoint"})

    # -- temperatures ----------------------------------------------------------------------
    def temp(self, ln: Line, code: str, t: float, tool: int) -> None:
        m = self.p.material
        if tool == 1 and self.p.heaters < 2:
            self.refuse(ln, f"{code} T1: this board declares no second heater")
            return
        tsuffix = f" T{tool}" if tool else ""
        out = t
        if t > 0 and not m.min_c <= t <= m.max_c:
            where = "above" if t > m.max_c else "below"
            lim = m.max_c if t > m.max_c else m.min_c
            why = f"{_fmt(t, 1)} C is {where} {m.name}'s {'maximum' if t > m.max_c else 'minimum'} {_fmt(lim, 1)} C"
            if self.p.slicer_temps == "refuse":
                self.refuse(ln, why + " (--slicer-temps preset replaces such lines with the material's setpoint)")
                return
            out = m.setpoint_c
            self.p.changed.append({"line": ln.n, "was": ln.raw.strip(), "now": f"{code} S{_fmt(out, 1)}{tsuffix}",
                                   "why": why + "; replaced by the setpoint (--slicer-temps preset)"})
        wait = code == "M109" and out > 0
        if not self.extruded and out > 0:
            self.heated = True
        self.add(Step(ln.n, "temp", tool=f"{code} S{_fmt(out, 1)}{tsuffix}", wait=wait))

    # -- moves -----------------------------------------------------------------------------
    def move(self, ln: Line) -> None:
        pr = ln.params
        prof = self.p.profile
        if pr.get("F"):
            self.feed = float(pr["F"] or 0) / 60.0
        target = list(self.pos)
        for i, ax in enumerate("XYZ"):
            v = pr.get(ax)
            if v is not None:
                target[i] = v if self.abs_xyz else self.pos[i] + v
        de = 0.0
        if pr.get("E") is not None:
            ev = float(pr["E"] or 0)
            de = ev - self.e_pos if self.abs_e else ev
            self.e_pos = ev if self.abs_e else self.e_pos + ev
        if de > 0:
            de *= self.flow
        de = self.retract_policy(ln, de)
        d = (target[0] - self.pos[0], target[1] - self.pos[1], target[2] - self.pos[2])
        length = math.sqrt(sum(c * c for c in d))
        feed = self.feed * self.feed_factor
        if length < 1e-9 and abs(de) < 1e-9:
            return  # F only, or a move to where the head is
        if de > 0:
            if self.last_ext_z is None or target[2] > self.last_ext_z + 1e-6:
                self.layer += 1
                self.last_ext_z = target[2]
            self.first_heat()
            self.extruded = True
        parts = max(1, math.ceil(abs(de) / prof.e_max_move_mm - 1e-9))
        if parts > 1:
            # the toolhead takes at most e_max_move_mm in one move: equal parts, each its own move
            start = list(self.pos)
            for k in range(1, parts + 1):
                sub = [start[i] + (target[i] - start[i]) * k / parts for i in range(3)]
                self._move(ln, sub, de / parts, feed)
            return
        self._move(ln, target, de, feed)

    def retract_policy(self, ln: Line, de: float) -> float:
        """The toolhead's E for a slicer E of de: a retract pulls at most
        retract_max_mm in all; a prime first gives back what the toolhead pulled (in
        proportion to the slicer's retract it undoes), the rest is extrusion as asked."""
        cap = self.p.profile.retract_max_mm
        if de < 0:
            self.slicer_retracted += -de
            pull = min(cap, self.slicer_retracted) - self.tool_retracted
            self.tool_retracted += pull
            if pull < -de - 1e-9:
                self.p.retract_capped.append(ln.n)
            return -pull
        if de > 0 and self.slicer_retracted > 0:
            undo = min(de, self.slicer_retracted)
            give = self.tool_retracted * undo / self.slicer_retracted
            self.slicer_retracted -= undo
            self.tool_retracted -= give
            if self.slicer_retracted < 1e-9:
                self.slicer_retracted = self.tool_retracted = 0.0
            return give + (de - undo)
        return de

    def _move(self, ln: Line, target: list[float], de: float, feed: float) -> None:
        pr = ln.params
        prof = self.p.profile
        d = (target[0] - self.pos[0], target[1] - self.pos[1], target[2] - self.pos[2])
        length = math.sqrt(sum(c * c for c in d))
        if length < 1e-9:
            t = planner.plan_e_only(de, feed, prof)
            d_ms = self.timed(t.duration_s)
            tl, d_ms = planner.synced_line(de, t, d_ms, prof.e_max_rate_mm_s)
            self.add(Step(ln.n, "e", motion=f"G4 P{d_ms}", tool=tl, duration_s=d_ms / 1000, e=de, slowed=t.slowed))
            return
        t: Timed = planner.plan_move(d, de, feed, prof)
        if abs(t.accel_cmd - self.accel) > 1e-3 * self.accel:
            # the gantry must accelerate as planned (slowed for the extruder, or back to normal)
            self.accel = t.accel_cmd
            self.add(Step(ln.n, "motion", motion=f"M204 S{_fmt(t.accel_cmd)}"))
        words = []
        for i, ax in enumerate("XYZ"):
            if abs(d[i]) > 1e-9 or pr.get(ax) is not None:
                words.append(f"{ax}{_fmt(target[i] if self.abs_xyz else d[i])}")
        motion = f"G1 {' '.join(words)} F{_fmt(t.feed_mm_s * 60, 3)}"
        self.pos = target
        if abs(de) > 1e-9:
            d_ms = self.timed(t.duration_s)
            tl, d_ms = planner.synced_line(de, t, d_ms, prof.e_max_rate_mm_s)
            self.add(Step(ln.n, "move", motion=motion, tool=tl, duration_s=d_ms / 1000, e=de, path_mm=length,
                          slowed=t.slowed))
        else:
            self.untimed(t.duration_s)
            self.add(Step(ln.n, "travel", motion=motion, duration_s=t.duration_s, path_mm=length))

    # -- one line --------------------------------------------------------------------------
    def line(self, ln: Line) -> None:
        code = ln.code
        if not code:
            self.p.comments += 1
            return
        cls, why = classify(code)
        self.p.counts.setdefault(cls, Counter())[code] += 1
        pr = ln.params
        if cls == REFUSE:
            self.refuse(ln, f"{code}: {why}")
            return
        if cls == IGNORE:
            self.p.notes.setdefault(f"{code}: {why}", []).append(ln.n)
            return
        if cls == HOST:
            if code == "M82":
                self.abs_e = True
            elif code == "M83":
                self.abs_e = False
            elif code in ("M220", "M221"):
                s = pr.get("S")
                if s is None or not 0 < s <= 500:
                    self.refuse(ln, f"{code} needs S between 1 and 500 (%)")
                elif code == "M220":
                    self.feed_factor = s / 100
                else:
                    self.flow = s / 100
            return
        if code in ("G0", "G1"):
            self.move(ln)
        elif code in ("G90", "G91"):
            self.abs_xyz = self.abs_e = code == "G90"
            self.add(Step(ln.n, "motion", motion=code))
        elif code == "G92":
            if pr.get("E") is not None:
                self.e_pos = float(pr["E"] or 0)
            axes = [f"{ax}{_fmt(float(pr[ax] or 0))}" for ax in "XYZ" if ax in pr]
            for ax in "XYZ":
                if ax in pr:
                    self.pos["XYZ".index(ax)] = float(pr[ax] or 0)
            if axes:
                self.add(Step(ln.n, "motion", motion="G92 " + " ".join(axes)))
        elif code == "G28":
            axes = [ax for ax in "XYZ" if ax in pr] or list("XYZ")
            for ax in axes:
                self.pos["XYZ".index(ax)] = 0.0
            self.untimed(self.p.profile.homing_s)
            self.add(Step(ln.n, "motion", motion="G28" + "".join(f" {a}" for a in axes if a in pr),
                          duration_s=self.p.profile.homing_s))
        elif code == "G29":
            self.untimed(self.p.profile.probing_s)
            self.add(Step(ln.n, "motion", motion="G29", duration_s=self.p.profile.probing_s))
        elif code == "G21":
            pass  # already millimetres; nothing to send
        elif cls == MOTION:
            self.add(Step(ln.n, "motion", motion=code + "".join(
                f" {k}{'' if v is None else _fmt(v)}" for k, v in pr.items())))
        elif cls == ACT:
            self.act(ln)

    def act(self, ln: Line) -> None:
        code, pr = ln.code, ln.params
        if code in ("M104", "M109"):
            t = pr.get("S")
            if t is None:
                t = pr.get("R")  # Marlin M109 R: wait for heating or cooling
            if t is None:
                self.refuse(ln, f"{code} without S: no temperature given")
                return
            self.temp(ln, code, float(t), int(pr.get("T") or 0) if "T" in pr else self.tool)
        elif code == "G10":
            if "S" in pr or "R" in pr:  # RepRapFirmware tool temperatures
                t = pr.get("S") if pr.get("S") is not None else pr.get("R")
                self.temp(ln, "M104", float(t or 0), int(pr.get("P") or 0))
            else:
                self.add(Step(ln.n, "tool", tool="G10"))
        elif code == "G11":
            self.add(Step(ln.n, "tool", tool="G11"))
        elif code == "M106":
            s = pr.get("S")
            s = 255.0 if s is None else max(0.0, min(255.0, s))
            self.add(Step(ln.n, "fan", tool=f"M106 S{_fmt(s, 1)}"))
        elif code == "M107":
            self.add(Step(ln.n, "fan", tool="M107"))
        elif code == "G4":
            ms = pr.get("P") or 0.0
            if pr.get("S"):
                ms += (pr.get("S") or 0.0) * 1000
            ms = int(round(ms))
            self.untimed(ms / 1000)
            self.add(Step(ln.n, "dwell", motion=f"G4 P{ms}", tool=f"G4 P{ms}", duration_s=ms / 1000))
        elif code in PAUSES:
            self.add(Step(ln.n, "pause", tool=PAUSES[code], wait=True))
        elif code == "M112":
            self.add(Step(ln.n, "stop", motion="M112", tool="M112"))
        elif code in ("T0", "T1"):
            n = int(code[1:])
            if n >= self.p.heaters:
                self.refuse(ln, f"{code}: this board declares no second heater")
                return
            self.tool = n
            if self.p.heaters > 1:
                self.add(Step(ln.n, "tool", tool=code))


def build(path: str | Path, material: Material, slicer_temps: str = "preset", profile: Profile | None = None,
          heaters: int = 1, max_bytes: int = gcodefile.MAX_FILE_BYTES, pressure_advance: float | None = None) -> Plan:
    """Read and plan FILE. FileRefused when the file is not printable text at all; a file
    that reads but holds refused lines gives a Plan with .refused filled (all of them,
    so --check lists every one)."""
    if slicer_temps not in SLICER_TEMPS:
        raise ValueError(f"--slicer-temps must be one of {', '.join(SLICER_TEMPS)}")
    lines = gcodefile.read(path, max_bytes)
    plan = Plan(str(path), Path(path).stat().st_size, gcodefile.slicer_of(lines), gcodefile.flavour_of(lines),
                material, slicer_temps, profile or Profile(), heaters=heaters, lines=len(lines))
    b = _Builder(plan)
    b.add(Step(0, "tool", tool="M83"))  # the toolhead gets per-move E
    if pressure_advance is not None:  # else the toolhead's own printer.pressure_advance_s
        b.add(Step(0, "tool", tool=f"M900 K{_fmt(pressure_advance, 4)}"))
        plan.inserted.append({"before_line": None, "line": f"M900 K{_fmt(pressure_advance, 4)}",
                              "why": "pressure advance asked by the host"})
    for ln in lines:
        b.line(ln)
    if b.extruded is False and not any(s.kind == "temp" for s in plan.steps):
        b.first_heat()  # nothing extruded (a pump file): still at the material's temperature
    return plan


def render(plan: Plan) -> str:
    """The --check plan as text (also the .plan.txt files beside the test files)."""
    s = plan.summary()
    m = plan.material
    out = [f"file: {Path(plan.file).name} ({plan.size} bytes, {plan.lines} lines)"
           + (f"; {plan.slicer}" if plan.slicer else "") + (f", flavour {plan.flavour}" if plan.flavour else "")]
    out.append(f"material: {m.name} (setpoint {_fmt(m.setpoint_c, 1)} C, limits {_fmt(m.min_c, 1)}..{_fmt(m.max_c, 1)} C);"
               f" slicer temperatures: {plan.slicer_temps}")
    pf = plan.profile
    out.append(f"profile: {pf.name} (XY accel {_fmt(pf.accel_mm_s2)} mm/s2, Z accel {_fmt(pf.z_accel_mm_s2)} mm/s2; "
               f"extruder max {_fmt(pf.e_max_rate_mm_s)} mm/s, accel {_fmt(pf.e_accel_mm_s2)} mm/s2)")
    out.append("lines by class:")
    for cls in (ACT, MOTION, HOST, IGNORE, REFUSE):
        c = plan.counts.get(cls)
        if not c:
            continue
        from host_tools.slicer.policy import CLASS_TITLE

        detail = ", ".join(f"{k} x{v}" for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(f"  {CLASS_TITLE[cls]:<42} {sum(c.values()):>5}  {detail}")
    out.append(f"  {'comments and blank lines':<42} {plan.comments:>5}")
    if plan.notes:
        out.append("ignored, with a note:")
        for note, lns in sorted(plan.notes.items()):
            where = ", ".join(map(str, lns[:5])) + (f" and {len(lns) - 5} more" if len(lns) > 5 else "")
            out.append(f"  {note} (line{'s' if len(lns) > 1 else ''} {where})")
    out.append("temperature lines changed:" if plan.changed else "temperature lines changed: none")
    for c in plan.changed:
        out.append(f"  line {c['line']}: {c['was']} -> {c['now']} ({c['why']})")
    for i in plan.inserted:
        out.append(f"inserted: {i['line']} ({i['why']})")
    if plan.retract_capped:
        lns = plan.retract_capped
        where = ", ".join(map(str, lns[:5])) + (f" and {len(lns) - 5} more" if len(lns) > 5 else "")
        out.append(f"retracts shortened to {_fmt(pf.retract_max_mm)} mm of E, primes to match (profile "
                   f"retract_max_mm): line{'s' if len(lns) > 1 else ''} {where}")
    out.append(f"moves: {s['moves']} ({s['extruding_moves']} extruding), path {s['path_mm']} mm "
               f"(extruding {s['extruding_path_mm']} mm), layers {s['layers']}, "
               f"slowed for the extruder: {s['slowed_for_extruder']}")
    out.append(f"lines sent: {s['motion_lines']} to the motion port, {s['toolhead_lines']} to the toolhead")
    out.append(f"planned duration: {_hms(plan.duration_s)} ({s['planned_s']} s, plus heating and pauses)")
    out.append(f"material: E {s['e_mm']} mm, {s['volume_mm3']} mm3 (at {_fmt(pf.e_mm3_per_mm)} mm3 per mm of E)")
    if plan.refused:
        out.append(f"refused: {len(plan.refused)} line(s); nothing will heat or move:")
        for r in plan.refused[:20]:
            out.append(f"  line {r['line']}: {r['text']!r}: {r['reason']}")
        if len(plan.refused) > 20:
            out.append(f"  ... and {len(plan.refused) - 20} more")
    else:
        out.append("result: printable")
    return "\n".join(out) + "\n"


__all__ = ["FileRefused", "Material", "Plan", "Step", "build", "render", "MATERIALS"]
