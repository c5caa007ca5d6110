"""A virtual gantry on the bench: a Marlin/Klipper-style motion port on a pty.

It reads one G-code line at a time and answers `ok` when the line is taken for
execution: a planner buffer of one move, so a line's `ok` comes when the move before it
has ended (Marlin with a full buffer answers the same way: `ok` only when there is room).
Each move then runs for the time the host's planner gives it (host_tools/slicer/planner:
rest-to-rest trapezoid from the move's length, its F and the profile's acceleration), in
world time: with the virtual board's World, at its speed factor. It records every
segment, so position_at(t) gives where the nozzle was at any moment.

Understood: G0/G1 X Y Z F (E ignored: the toolhead extrudes), G4 P/S, G28 [X Y Z], G29,
G90/G91, G92 X Y Z, G21, M17/M18/M84, M400, M420, M112 (stops answering, as a halted
Marlin). Anything else: `echo:Unknown command` and `ok`, as Marlin does.

Bench fault: stop_answering() makes it silent (no `ok`, no motion): a motion controller
that hung or lost its link.
"""

from __future__ import annotations

import math
import os
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from host_tools.slicer import gcodefile
from host_tools.slicer.planner import Profile, plan_move

Vec = tuple[float, float, float]


def _v(seq: Any) -> Vec:
    return (float(seq[0]), float(seq[1]), float(seq[2]))


@dataclass(frozen=True)
class Segment:
    t0: float            # world seconds
    duration: float
    start: tuple[float, float, float]
    end: tuple[float, float, float]
    accel_s: float       # time accelerating (= decelerating)
    line: str

    def position(self, t: float) -> tuple[float, float, float]:
        """Where the nozzle is at world time t within this segment (trapezoid)."""
        if self.duration <= 0 or t >= self.t0 + self.duration:
            return self.end
        if t <= self.t0:
            return self.start
        tau = t - self.t0
        d, ta = self.duration, self.accel_s
        # fraction of the path covered: area under a trapezoid velocity of height 1
        area = d - ta
        if area <= 0:
            return self.end
        if tau < ta:
            s = 0.5 * tau * tau / ta
        elif tau <= d - ta:
            s = 0.5 * ta + (tau - ta)
        else:
            r = d - tau
            s = area - 0.5 * r * r / ta
        f = max(0.0, min(1.0, s / area))
        return _v([a + (b - a) * f for a, b in zip(self.start, self.end, strict=True)])


class VirtualGantry:
    def __init__(self, profile: Profile | None = None, clock: Callable[[], float] | None = None,
                 speed: float = 1.0) -> None:
        """`clock`: world seconds (World.now_s); `speed`: world seconds per real second
        (the World's speed factor: to sleep the right real time)."""
        self.profile = profile or Profile()
        self.speed = speed
        t0 = time.monotonic()
        self.clock = clock or (lambda: (time.monotonic() - t0) * speed)
        self.pos: Vec = (0.0, 0.0, 0.0)
        self.absolute = True
        self.feed = self.profile.default_feed_mm_s
        self.accel = self.profile.accel_mm_s2  # M204 S changes it
        self.busy_until = 0.0
        self.segments: list[Segment] = []
        self.lines = 0
        self.answering = True
        self.halted = False
        self.path = ""
        self._master = self._slave = -1
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None

    # ---- life cycle -----------------------------------------------------------------------
    def start(self) -> str:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self._master)
        self.path = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self.path

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = -1

    def stop_answering(self) -> None:
        self.answering = False

    # ---- what the bench reads ----------------------------------------------------------------
    def position_at(self, t: float) -> tuple[float, float, float]:
        with self._lock:
            segs = list(self.segments)
        pos = (0.0, 0.0, 0.0)
        for s in segs:
            if s.t0 > t:
                break
            pos = s.position(t)
        return pos

    def state(self) -> dict[str, Any]:
        now = self.clock()
        with self._lock:
            return {"path": self.path, "lines": self.lines, "segments": len(self.segments),
                    "answering": self.answering and not self.halted, "moving": now < self.busy_until,
                    "position": list(self.position_at(now)), "busy_s": max(0.0, self.busy_until - now)}

    def history(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"t0": s.t0, "duration": s.duration, "start": list(s.start), "end": list(s.end),
                     "accel_s": s.accel_s, "line": s.line} for s in self.segments]

    # ---- the port -----------------------------------------------------------------------------
    def _serve(self) -> None:
        buf = b""
        os.set_blocking(self._master, False)
        while not self._stop.is_set():
            try:
                chunk = os.read(self._master, 4096)
            except BlockingIOError:
                time.sleep(0.002)
                continue
            except OSError:
                return
            if not chunk:
                time.sleep(0.002)
                continue
            buf += chunk
            while b"\n" in buf and not self._stop.is_set():
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("ascii", "replace").strip()
                if line:
                    self._line(line)

    def _wait_until(self, t: float) -> None:
        while not self._stop.is_set():
            left = t - self.clock()
            if left <= 0:
                return
            time.sleep(min(0.05, left / self.speed))

    def _say(self, text: str) -> None:
        try:
            os.write(self._master, text.encode() + b"\n")
        except OSError:
            pass

    def _line(self, line: str) -> None:
        if not self.answering or self.halted:
            return  # silent: no ok, no motion
        try:
            ln = gcodefile.parse_line(0, line)
        except gcodefile.FileRefused:
            self._say(f"echo:Unknown command: \"{line}\"")
            self._say("ok")
            return
        # one move in the buffer: take this line only when the one before has ended. A
        # line that was already here starts exactly then (a controller's planner runs
        # buffered moves back to back): this thread waking late must not open a gap
        # that no real gantry has, and that a toolhead chaining its moves would not see
        arrived = self.clock()
        self._wait_until(self.busy_until)
        if not self.answering:
            return
        start = max(arrived, self.busy_until)
        dur, end, ta = self._execute(ln)
        with self._lock:
            self.lines += 1
            if dur > 0 or end != self.pos:
                self.segments.append(Segment(start, dur, self.pos, end, ta, line))
            self.pos = end
            self.busy_until = start + dur
        if ln.code == "M112":
            self.halted = True
            return
        if ln.code == "" or ln.code in KNOWN:
            self._say("ok")
        else:
            self._say(f"echo:Unknown command: \"{line}\"")
            self._say("ok")

    def _execute(self, ln: gcodefile.Line) -> tuple[float, tuple[float, float, float], float]:
        p, code = ln.params, ln.code
        pos = self.pos
        if code in ("G0", "G1"):
            if p.get("F"):
                self.feed = float(p["F"] or 0) / 60
            tgt = list(pos)
            for i, ax in enumerate("XYZ"):
                v = p.get(ax)
                if v is not None:
                    tgt[i] = v if self.absolute else pos[i] + v
            end = _v(tgt)
            d = (end[0] - pos[0], end[1] - pos[1], end[2] - pos[2])
            if math.sqrt(sum(c * c for c in d)) < 1e-12:
                return 0.0, pos, 0.0
            t = plan_move(d, 0.0, self.feed, replace(self.profile, accel_mm_s2=self.accel))
            return t.duration_s, end, t.accel_s
        if code == "G4":
            ms = (p.get("P") or 0.0) + (p.get("S") or 0.0) * 1000
            return ms / 1000, pos, 0.0
        if code == "G28":
            axes = [ax for ax in "XYZ" if ax in p] or list("XYZ")
            end = _v([0.0 if ax in axes else pos[i] for i, ax in enumerate("XYZ")])
            return self.profile.homing_s, end, 0.0
        if code == "G29":
            return self.profile.probing_s, pos, 0.0
        if code == "M204":
            a = p.get("S") or p.get("P")
            if a and a > 0:
                self.accel = float(a)
        elif code in ("G90", "G91"):
            self.absolute = code == "G90"
        elif code == "G92":
            end = _v([float(p[ax] or 0) if ax in p else pos[i] for i, ax in enumerate("XYZ")])
            with self._lock:
                self.pos = end
            return 0.0, end, 0.0
        return 0.0, pos, 0.0


KNOWN = {"M204", "G0", "G1", "G4", "G21", "G28", "G29", "G90", "G91", "G92", "M17", "M18", "M84", "M400", "M420", "M112"}
