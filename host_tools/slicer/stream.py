"""Stream a planned slicer job: motion lines to a Marlin/Klipper-style `ok` port, toolhead
lines to the toolhead, in lock-step.

How the lock-step is held. The motion controller answers `ok` when it takes a line for
execution; with its planner full (one move ahead, as the virtual gantry and a Marlin
with a full buffer do) that is the moment the move before it ends, i.e. the moment the
new move starts. The host sends the step's motion line, waits for its `ok`, and only
then sends the same step's toolhead line (a synced `G1 E F D` of the same duration). So
each toolhead move starts when its gantry move starts, late by the toolhead link's
latency plus the host's turnaround; the toolhead runs each move for exactly its planned
duration, so that lateness does not add up from move to move.

The bound. The toolhead may be late on the gantry by at most LAG_BOUND_S (the host
checks it at every step from the queue length in the board's answer to the line: a
toolhead more than MAX_TOOL_AHEAD lines behind the gantry holds the next motion line,
polling `job`, until it catches up),
and never by more than one move: the host does not send the motion line of step i+1
before the toolhead has taken step i.

A motion port that stops answering: the `ok` for step i does not come within the time
the move before it needs plus MOTION_MARGIN_S. The host then sends nothing more to the
toolhead, which finishes the move it has (at most one: the toolhead line of step i is
never sent without its `ok`), and the job pauses with the reason (MotionStalled).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from host_tools.printer import JobError, LineRefused, file_id, resume_recovered
from host_tools.protocol import BoardClient, BoardError
from host_tools.slicer.job import Plan

SYNCED_RE = re.compile(r"G1 E\S+ F\S+ D\d+$")  # a synced toolhead move, as planner.py writes it

MOTION_MARGIN_S = 2.0      # on top of the move the gantry is finishing
CHAINED_OK_S = 0.003       # an `ok` later than this after its line: the gantry was busy
MAX_TOOL_AHEAD = 2         # toolhead lines sent but not finished: the move running and the next
LAG_BOUND_S = 0.05         # documented lag of a toolhead move behind its gantry move (virtual boards)
RESUME_HEAT_S = 600.0      # how long a resumed job waits for its nozzle to be back at its setpoint


class MotionError(JobError):
    """The motion controller refused a line (`Error:` or `Unknown command`)."""


class MotionStalled(JobError):
    """The motion port stopped answering; the toolhead got no line past `tool_line`."""

    def __init__(self, step: int, file_line: int, tool_line: int, waited_s: float, motion: str) -> None:
        super().__init__(f"the motion port stopped answering: no ok for {motion!r} (file line {file_line}) in "
                         f"{waited_s:.1f} s; the toolhead got nothing past its line {tool_line}")
        self.step, self.file_line, self.tool_line, self.waited_s = step, file_line, tool_line, waited_s


class MotionPort:
    """A Marlin/Klipper-style port: one line out, `ok` back."""

    def __init__(self, ser: Any) -> None:
        self.ser = ser
        self.buf = b""
        self.sent = 0

    def drain(self, quiet_s: float = 0.2) -> None:
        """Drop a greeting (`start`, `echo:...`) until the port is quiet."""
        end = time.monotonic() + quiet_s
        while time.monotonic() < end:
            if self.ser.read(256):
                end = time.monotonic() + quiet_s

    def send(self, line: str) -> None:
        self.ser.write(line.encode("ascii") + b"\n")
        self.ser.flush()
        self.sent += 1

    def wait_ok(self, timeout: float, idle: Callable[[], Any] | None = None, every: float = 0.25) -> bool:
        """True at `ok`, False after `timeout` s; `idle` runs every `every` s meanwhile
        (the toolhead's job poll: it is also the toolhead's dead-man)."""
        deadline = time.monotonic() + timeout
        next_idle = time.monotonic() + every
        problem = ""
        while True:
            if idle is not None and time.monotonic() >= next_idle:
                idle()
                next_idle = time.monotonic() + every
            while b"\n" in self.buf:
                raw, self.buf = self.buf.split(b"\n", 1)
                text = raw.decode("ascii", "replace").strip()
                if text.startswith("ok"):
                    if problem:
                        raise MotionError(f"the motion controller answered {problem!r}")
                    return True
                if text.startswith(("Error", "!!")) or "Unknown command" in text:
                    problem = text
            if time.monotonic() > deadline:
                return False
            # what is there, or wait for one byte: read(256) would sit out the port's timeout
            chunk = self.ser.read(max(1, self.ser.in_waiting))
            if chunk:
                self.buf += chunk


Progress = Callable[[dict[str, Any]], None]


def _send_tool(c: BoardClient, n: int, line: str, poll: Callable[[], dict[str, Any]]) -> int:
    """Queue toolhead line n; returns the lines the board holds queued behind its
    current one (its answer says so: no `job` round trip per line)."""
    while True:
        try:
            return int(c.request("gcode", {"n": n, "line": line}).get("queued") or 0)
        except BoardError as e:
            if e.code == "STATE":
                poll()  # the job ended on the board (a fault, an estop): say why
            if e.code != "BUSY":
                raise LineRefused(n, line, e.code, e.message) from e
        poll()
        time.sleep(0.02)


def resume_point(plan: Plan, next_line: int) -> int:
    """The index of the first step to run again when the toolhead's next line is
    next_line: the step after the one that carries toolhead line next_line - 1 (so the
    motion-only steps between the two run too)."""
    if next_line <= 1:
        return 0
    k = 0
    for i, st in enumerate(plan.steps):
        if st.tool:
            k += 1
            if k == next_line - 1:
                return i + 1
    raise JobError(f"the board's next line {next_line} is past this file's {k} toolhead lines")


def body_setpoint(plan: Plan, upto: int) -> float | None:
    """The body heater's (T1) setpoint in force before step `upto` (None: never set)."""
    t1: float | None = None
    for st in plan.steps[:upto]:
        if st.kind == "temp" and st.tool and st.tool.endswith(" T1"):
            v = float(st.tool.split()[1][1:])
            t1 = v or None
    return t1


def approach(plan: Plan, r: int, lift_mm: float = 1.0) -> list[str]:
    """Motion lines that take the gantry from wherever it stopped back to where step r
    starts: up by lift_mm, across, down, then the file's G90/G91 and acceleration.
    The motion controller is assumed to have kept its position (the toolhead lost power,
    not it); after a cut of its own it must be homed first."""
    prev = plan.steps[r - 1]
    x, y, z = prev.pos
    pf = plan.profile
    out = ["G91", f"G1 Z{lift_mm:g} F{pf.max_z_mm_s * 60:g}", "G90",
           f"G1 X{x:.3f} Y{y:.3f} F{min(pf.max_xy_mm_s, 50.0) * 60:g}", f"G1 Z{z:.3f} F{pf.max_z_mm_s * 60:g}",
           f"M204 S{prev.accel or pf.accel_mm_s2:g}"]
    if not prev.absolute:
        out.append("G91")
    return out


def _resume(c: BoardClient, plan: Plan, fhash: str, nlines: int, h: dict[str, Any]) -> tuple[int, int]:
    """Take up the job the board holds in RECOVERY: (job id, index of the first step
    to run). The board checks its food-safety record and the file; the host then puts
    the body heater's setpoint back (the board's record keeps the nozzle's) and waits
    for the nozzle to be within 1 C of its setpoint before anything extrudes."""
    j = resume_recovered(c, h, fhash, nlines)
    r = resume_point(plan, int(j["next"]))
    t1 = body_setpoint(plan, r)
    if t1 is not None:
        c.request("heat", {"c": t1, "tool": 1})
    end = time.monotonic() + RESUME_HEAT_S
    while True:
        j = c.request("job")
        temp, target = j.get("temp"), j.get("target")
        if target is None or (temp is not None and temp >= target - 1.0):
            break
        if time.monotonic() > end:
            raise JobError(f"the nozzle is at {temp} C, not back at {target} C after {RESUME_HEAT_S:g} s: the job is "
                           "held on the board; check the heater, then resume again")
        time.sleep(0.2)
    return int(j["job"]), r


def stream_plan(c: BoardClient, plan: Plan, motion: MotionPort | None = None, job_id: int | None = None,
                progress: Progress | None = None, every: float = 0.5,
                on_pause: Callable[[dict[str, Any]], bool] | None = None, end: bool = True,
                timeout: float = 3600.0, cont: bool = False, resume: bool = False) -> dict[str, Any]:
    """Run the plan; returns {"job", "lines", "done", "planned_s", "elapsed_s", "e_mm",
    "danger_zone_s", "haccp", "max_lag_lines", "resumed_at"}. resume: take up the job
    the board holds in RECOVERY (after a power cut) from the board's next line, the
    gantry brought back to where that line's move starts (approach()). Raises
    MotionStalled, MotionError, LineRefused, JobError, BoardError."""
    if not plan.ok:
        r = plan.refused[0]
        raise JobError(f"{plan.file}: line {r['line']}: {r['reason']}")
    tool = plan.tool_lines()
    fhash, nlines = file_id(tool)
    h = c.hello()
    if h.get("state") == "RECOVERY" and not resume:
        raise JobError("the board holds a recovery: resume it (--resume) or drop it (`hearth recovery discard`)")
    if resume and h.get("state") != "RECOVERY":
        raise JobError(f"nothing to resume: the board is {h.get('state')}")
    skip = -1  # cont: the steps up to this one were done before the pause
    resumed_at: int | None = None
    back: list[str] = []
    if resume:
        job_id, r = _resume(c, plan, fhash, nlines, h)
        skip = r - 1
        resumed_at = sum(1 for st in plan.steps[:r] if st.tool) + 1
        if r > 0:
            back = approach(plan, r)
    elif cont:
        # --continue: the board's job paused at one of this file's pause lines; go on after it
        j = c.request("job")
        if not j.get("paused"):
            raise JobError(f"nothing to continue: the board's job is not paused (state {j.get('state')}, "
                           f"job {j.get('job')})")
        if j.get("file") and (j["file"] != fhash or j.get("lines") != nlines):
            raise JobError(f"the paused job prints file {j['file']} ({j.get('lines')} lines), not this file "
                           f"({fhash}, {nlines} lines): continue with the job's own file")
        at = int(j.get("done") or 0) + 1  # the pause line
        k = 0
        for idx, st in enumerate(plan.steps):
            if st.tool:
                k += 1
                if k == at:
                    skip = idx
                    break
        if skip < 0 or plan.steps[skip].kind != "pause":
            raise JobError(f"the board paused at toolhead line {at}, which is no pause line of this file")
        job_id = j["job"]
        c.request("job_resume")
    else:
        if job_id is None:
            job_id = int(time.time()) % (1 << 30) or 1
        c.request("job_start", {"id": job_id, "material": plan.material.name, "unix": int(time.time()),
                                "file": fhash, "lines": nlines})
    if motion is not None:
        motion.drain()
        for line in back:
            motion.send(line)
            if not motion.wait_ok(MOTION_MARGIN_S + 10.0, idle=lambda: c.request("job")):
                raise MotionStalled(skip + 1, 0, 0, MOTION_MARGIN_S + 10.0, line)
    total_s = plan.duration_s or 1.0
    t_start = time.monotonic()
    last = [0.0]
    state: dict[str, Any] = {"j": {}, "done": 0}
    max_lag = 0

    def poll() -> dict[str, Any]:
        j = c.request("job")
        state["j"], state["done"] = j, int(j.get("done") or 0)
        if j.get("error"):
            raise JobError(f"job {job_id} stopped: {j['error']}")
        if j.get("state") not in (None, "ACTIVE"):
            raise JobError(f"job {job_id} ended by the board: state {j.get('state')}")
        return j

    planned_done = 0.0
    tool_n = 0
    last_dur = 0.0
    synced_before = False  # the step before was a gantry move with its synced toolhead move
    layer = 0

    def report(force: bool = False) -> None:
        if progress is None:
            return
        now = time.monotonic()
        if not force and now - last[0] < every:
            return
        last[0] = now
        j = state["j"] or poll()
        progress({**j, "layer": layer, "layers": plan.layers, "planned_done_s": planned_done,
                  "planned_s": total_s, "percent": min(100.0, 100.0 * planned_done / total_s),
                  "eta_s": max(0.0, total_s - planned_done), "tool_line": tool_n, "tool_lines": nlines})

    for i, st in enumerate(plan.steps):
        if i <= skip:
            tool_n += 1 if st.tool else 0
            planned_done += st.duration_s
            layer = max(layer, st.layer)
            continue
        chained = False
        if st.motion and motion is not None:
            motion.send(st.motion)
            wait = last_dur + MOTION_MARGIN_S + 0.25 * last_dur
            t0 = time.monotonic()
            if not motion.wait_ok(wait, idle=poll):
                raise MotionStalled(i, st.n, tool_n, time.monotonic() - t0, st.motion)
            # a late `ok`: the gantry took this move the moment the one before ended
            chained = synced_before and time.monotonic() - t0 > CHAINED_OK_S
            last_dur = st.duration_s
        synced = bool(st.motion and st.tool and SYNCED_RE.match(st.tool))
        if st.tool:
            tool_n += 1
            # C1 (chained): the toolhead starts it where its own move before ended, as the
            # gantry did, even if this line reaches it after that end (docs/protocol.md)
            queued = _send_tool(c, tool_n, st.tool + (" C1" if chained and synced else ""), poll)
            if motion is not None:
                # the toolhead may be at most MAX_TOOL_AHEAD lines behind: else hold the
                # gantry. Its answer's queue (lines behind the one it runs) tells; only
                # a queue that long costs a `job` round trip per check (~300 bytes: 26
                # ms at 115200, longer than many of a slicer file's moves)
                lag = queued + 1
                if lag > MAX_TOOL_AHEAD:
                    poll()
                    while tool_n - state["done"] > MAX_TOOL_AHEAD:
                        time.sleep(0.01)
                        poll()
                    lag = tool_n - state["done"]
                max_lag = max(max_lag, lag)
        synced_before = synced and motion is not None
        if st.wait:
            while True:
                j = poll()
                if state["done"] >= tool_n:
                    break
                if st.kind == "pause" and (j.get("paused") or j.get("pause")):
                    go = on_pause({**j, "file_line": st.n, "why": st.tool}) if on_pause else False
                    if not go:
                        return {"job": job_id, "paused": True, "file_line": st.n, "done": state["done"],
                                "lines": nlines}
                    c.request("job_resume")
                report()
                time.sleep(0.05)
        planned_done += st.duration_s
        layer = max(layer, st.layer)
        report()
    deadline = time.monotonic() + timeout
    while True:
        j = poll()
        report()
        if state["done"] >= nlines:
            break
        if time.monotonic() > deadline:
            raise JobError(f"job {job_id} did not finish in {timeout:g} s (done {state['done']}/{nlines})")
        time.sleep(0.05)
    report(force=True)
    haccp = c.request("haccp")
    res: dict[str, Any] = {"job": job_id, "lines": nlines, "done": state["done"], "planned_s": round(total_s, 1),
                           "elapsed_s": round(time.monotonic() - t_start, 1), "e_mm": round(plan.e_mm, 2),
                           "volume_mm3": round(plan.e_mm * plan.profile.e_mm3_per_mm, 1),
                           "danger_zone_s": j.get("danger_zone_s"), "haccp": haccp, "max_lag_lines": max_lag,
                           "motion_lines": motion.sent if motion else 0, "resumed_at": resumed_at}
    if end:
        e = c.request("job_end")
        for k in ("steps", "steps_made"):  # E steps commanded and made (a board that reports them)
            if k in e:
                res[k] = e[k]
    return res
