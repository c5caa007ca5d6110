# A print job on the toolhead, pure (no I/O): numbered job lines checked on arrival,
# a bounded queue run in order, progress for the power-fail snapshot, the resume.
#
# Lines are checked when they arrive (number, checksum, subset, limits, cold
# extrusion: ControlError and nothing changes) and queued (at most QUEUE_MAX: a full
# queue is BUSY, resend); step() runs them in order. `done` is the last line that
# finished. The shell (roles/printer.py) feeds step() the nozzle temperature and the
# heater target and applies what it asks for: the frequency it returns goes to the
# step PWM, `want_target` (when not KEEP) to the heater, `want_dir` (when not 0) to
# the stepper's direction pin before the move starts.
#
# Snapshot (the role's part of the supervisor's power-fail payload, written in place):
#   0  u8   layout version (1)
#   1  u8   flags: 1 relative E (M83), 2 wall time known, 4 in the danger zone,
#                  8 retracted (G10 in force), 16 job file known
#   2  u8   material index (MATERIALS), 255 none
#   3  u8   0
#   4  u32  last finished line
#   8  i32  logical E position after that line, um
#   12 u16  setpoint in force, 0.1 C (0: off)
#   14 u16  cold-extrusion limit, 0.1 C
#   16 u32  danger-zone time so far, ms
#   20 u32  wall clock, s since 2000-01-01 (valid with flag 2)
#   24 i16  nozzle temperature, 0.1 C
#   26 4B   the job file's hash (first 4 bytes of the host's sha256 of its lines)
#   30 u32  the job file's line count (0: not given)
# A resume with another file is refused (the shell compares the host's with these).
import binascii

from hearth.control import ControlError
from hearth.control.extruder import Extruder
from hearth.control.foodsafety import DangerZone, Haccp
from hearth.control.gcode import parse
from hearth.ticks import ticks_diff
from micropython import const

MATERIALS = ("dark", "milk", "white", "dough", "puree")
QUEUE_MAX = 8
CHAIN_MAX_US = 100000  # how far back a chained move (G1 ... C1) may start
SNAP_VERSION = 1
SNAP_LEN = 34
KEEP = -1.0   # want_target: no change

# queue entry kinds
_NOP = const(0)
_M104 = const(1)
_M109 = const(2)
_DWELL = const(3)
_MOVE = const(4)
_TUNE = const(5)
_PA = const(6)
_FAN = const(7)
_PAUSE = const(8)


def put(buf, off, v, n):
    # little-endian store of a small int (negative: two's complement), no allocation
    for i in range(n):
        buf[off + i] = (v >> (8 * i)) & 0xFF


def get(buf, off, n, signed=False):
    v = 0
    for i in range(n):
        v |= buf[off + i] << (8 * i)
    if signed and v >= 1 << (8 * n - 1):
        v -= 1 << (8 * n)
    return v


def _c10(v):
    if v is None:
        return 0
    x = int(v * 10 + 0.5)
    return 0 if x < 0 else (65535 if x > 65535 else x)


class PrintJob:
    def __init__(self, cfg, hw_max):
        self.cfg = cfg
        self.hw_max = hw_max
        self.ext = Extruder({
            "steps_per_mm": cfg["steps_per_mm"], "max_rate_mm_s": cfg["max_feed_mm_s"],
            "accel_mm_s2": cfg["accel_mm_s2"], "max_len_mm": cfg["max_extrude_mm"],
            "max_hz": cfg["max_step_hz"], "pa_s": cfg.get("pressure_advance_s", 0.0),
        })
        self.has_fan = False     # the shell sets it from the board file
        self.heaters = 1         # ... and this (T1 / M104 T1 need 2)
        self.dz = DangerZone(cfg["danger_lo_c"], cfg["danger_hi_c"])
        self.haccp = Haccp(every_s=cfg["haccp_every_s"])
        self.want_target = KEEP
        self.want_dir = 0
        self.want_tune = None   # (setpoint, cycles): the shell starts an autotune
        self.want_fan = -1      # fan duty 0..255 for the shell to apply (-1: no change)
        self.want_target2 = KEEP  # the body heater's (T1), as want_target
        self.temp2 = None       # the body temperature, from the shell each tick
        self.want_pause = None  # the pausing code (M0, M600...) for the shell
        self.tune_busy = False  # until the shell's tune_finished()
        self.reset()

    def reset(self):
        if self.ext.moving():
            self.ext.abort()
        self.id = 0
        self.material = -1
        self.min_extrude = 0.0
        self.queue = []
        self.cur = None
        self.running = False    # the current move has started
        self.done = 0
        self.next = 1
        self.e_done_um = 0
        self.rel_done = True
        self.error = None
        self._hold = None
        self._until = 0
        self.ext.relative = True
        self.ext.set_position(0.0)
        self.retracted = False   # G10 in force (planning side)
        self.retr_done = False   # ... as of the last finished line
        self.want_tune = None
        self.tune_busy = False
        self.file = bytearray(4)  # the job file's hash (see the snapshot), valid with has_file
        self.has_file = False
        self.lines = 0           # the job file's line count, 0: not given
        self.pause = False       # start no new line (the shell wants a still extruder)
        self.paused = None       # the code of the pause line in force (M0, M600, ...)
        self.tool = 0            # T0 / T1: the heater a plain M104 sets
        self.ext.pa = self.cfg.get("pressure_advance_s", 0.0)
        self.ext.carry_us = 0
        self.gap_ms = None       # the tick the extruder went idle after a move (None: not idle)
        self.gap_us = 0          # ... and how far past that move's end that tick was
        self._dt_us = 0          # the tick that just ran (step())
        self.ext.steps_total = 0
        self.ext.made_total = 0
        self.want_fan = -1
        self.want_pause = None
        self.want_target2 = KEEP

    def mat(self, key, idx=-2):
        return self.cfg[MATERIALS[self.material if idx == -2 else idx] + key]

    def ceiling(self):
        if self.material >= 0:
            return min(self.hw_max, self.mat("_max_c"))
        return self.hw_max

    def check_setpoint(self, s):
        if s == 0:
            return None
        hi = self.ceiling()
        if s > hi:
            what = ("material " + MATERIALS[self.material]) if self.material >= 0 else "hardware"
            raise ControlError("RANGE", "%.1f C is above the %s maximum %.1f C" % (s, what, hi))
        lo = self.cfg["min_setpoint_c"]
        if s < lo:
            raise ControlError("RANGE", "%.1f C is below the minimum setpoint %.1f C (0 turns off)" % (s, lo))
        return float(s)

    def start(self, jid, material, now_ms, file=None, lines=0):
        # file: 4 bytes identifying the job file (or None), lines: its line count (or 0)
        self.reset()
        self.id = jid
        self.material = material
        if file is not None:
            self.file[:] = file
            self.has_file = True
        self.lines = lines
        self.min_extrude = float(self.mat("_min_c"))
        self.dz.reset()
        self.haccp.reset(jid, now_ms)
        self.haccp.event(now_ms, "start", MATERIALS[material])

    def busy(self):
        return len(self.queue) + (1 if self.cur is not None else 0)

    # ---- accepting lines ----------------------------------------------------------------
    def accept(self, n, line, temp, target):
        """Check and queue one job line. temp: nozzle C (None: no valid reading).
        Returns the answer dict; {"estop": True} for M112 (the shell stops the board)."""
        code, p = parse(n, line)  # GcodeError is a ControlError: the runtime answers it
        if code == "M112":
            return {"n": n, "estop": True}
        if not self.id:
            raise ControlError("STATE", "no job running: send job_start first")
        if self.error:
            raise ControlError("JOB_ERROR", self.error)
        if n < self.next:
            return {"n": n, "dup": True, "done": self.done}
        if n != self.next:
            raise ControlError("BAD_LINE", "expected line %d, got %d" % (self.next, n))
        if len(self.queue) >= QUEUE_MAX:
            raise ControlError("BUSY", "queue full (%d lines): resend this line" % QUEUE_MAX)
        out = {"n": n}
        kind, a, b = _NOP, 0, 0
        if code == "M105":
            out["temp"] = temp
            out["target"] = target
        elif code == "M82" or code == "M83":
            self.ext.relative = code == "M83"
        elif code == "G92":
            if "E" in p:
                self.ext.set_position(p["E"])
        elif code == "M302":
            self._m302(p)
            out["min_extrude_c"] = self.min_extrude
        elif code == "M104" or code == "M109":
            if "S" not in p:
                raise ControlError("BAD_ARGS", "%s needs S<temp>" % code)
            b = self._heater(p.get("T", self.tool))
            kind, a = (_M104 if code == "M104" else _M109), self.check_setpoint(p["S"])
        elif code == "T0" or code == "T1":
            self.tool = self._heater(1.0 if code == "T1" else 0.0)
            out["tool"] = self.tool
        elif code == "M900":
            if "K" not in p:
                out["pa_s"] = self.ext.pa
            else:
                k = p["K"]
                if not 0.0 <= k <= 1.0:
                    raise ControlError("BAD_ARGS", "M900 K%g: pressure advance K must be 0..1 s" % k)
                kind, a = _PA, k
        elif code == "M106" or code == "M107":
            if p.get("P", 0.0) != 0.0:
                raise ControlError("BAD_ARGS", "%s P%g: this toolhead has one fan, P0" % (code, p["P"]))
            s = p.get("S", 255.0) if code == "M106" else 0.0
            if not 0.0 <= s <= 255.0:
                raise ControlError("BAD_ARGS", "M106 S%g: fan speed must be 0..255" % s)
            if self.has_fan:
                kind, a = _FAN, int(s + 0.5)
            else:
                out["note"] = "no fan on this board: %s ignored" % code
        elif code == "M0" or code == "M1" or code == "M25" or code == "M600":
            kind, a = _PAUSE, code
        elif code == "G4":
            ms = int(p["P"]) if "P" in p else int(p.get("S", 0.0) * 1000)
            if ms < 0 or ms > 3600000:
                raise ControlError("RANGE", "G4 dwell must be 0..3600 s")
            kind, a = _DWELL, ms
        elif code == "G10" or code == "G11":
            want = code == "G10"
            if want != self.retracted:
                self._check_extrude(temp)
                c = self.cfg
                d = -float(c["retract_mm"]) if want else float(c["retract_mm"]) + float(c["unretract_extra_mm"])
                a, r, d = self.ext.plan_raw(d, float(c["retract_feed_mm_s"]))
                kind, b = _MOVE, (r, d, False)
                self.retracted = want
            out["retracted"] = want
        elif code == "M303":
            if p.get("E", 0.0) != 0.0:
                raise ControlError("BAD_ARGS", "M303: this toolhead has one heater, E0")
            if "S" not in p:
                raise ControlError("BAD_ARGS", "M303 needs S<temp>")
            s = self.check_setpoint(p["S"])
            if s is None:
                raise ControlError("RANGE", "M303 S must be above 0 C")
            cyc = int(p.get("C", 4.0))
            if not 2 <= cyc <= 20:
                raise ControlError("RANGE", "M303 C (cycles) must be 2..20")
            kind, a, b = _TUNE, s, cyc
        elif code == "G1":
            if p.get("E"):
                self._check_extrude(temp)
            a, r, d = self.ext.plan(p.get("E"), p.get("F"), p.get("D"))  # PlanError: a ControlError
            ch = p.get("C", 0.0)
            if ch and (ch != 1.0 or not d):
                raise ControlError("BAD_ARGS", "C1 (chained) goes with a synced move (D) only")
            kind, b = _MOVE, (r, d, ch == 1.0)
        elif code:
            raise ControlError("UNSUPPORTED", "%s is not available during a job" % code)
        # the entry carries the planner's E position and mode after it, for the snapshot
        self.queue.append((n, kind, a, b, int(self.ext.pos_mm * 1000), self.ext.relative, self.retracted))
        self.next = n + 1
        out["queued"] = len(self.queue)
        return out

    def _heater(self, t):
        # T word -> heater index, refused when the board has no such heater
        if t != 0.0 and t != 1.0:
            raise ControlError("BAD_ARGS", "T%g: heaters are T0 (nozzle) and T1 (body)" % t)
        if t == 1.0 and self.heaters < 2:
            raise ControlError("REFUSED", "T1: this board declares no second (body) heater")
        return int(t)

    def _m302(self, p):
        if p.get("P"):
            raise ControlError("REFUSED", "cold extrusion stays guarded on this toolhead")
        if "S" in p:
            s = p["S"]
            floor = float(self.mat("_min_c"))
            if s < floor or s > self.ceiling():
                raise ControlError("RANGE", "M302 S must be %.1f..%.1f C for %s" % (
                    floor, self.ceiling(), MATERIALS[self.material]))
            self.min_extrude = float(s)

    def _check_extrude(self, temp):
        lim = self.mat("_dz_min")
        if lim and self.dz.ms > lim * 60000:
            raise ControlError("FOOD_SAFETY", "food has been %d min in the danger zone (limit %d): discard it" % (
                self.dz.ms // 60000, lim))
        if temp is not None and temp >= self.min_extrude:
            return
        # a queued M109 that brings the nozzle above the limit first
        for q in self.queue:
            if q[1] == _M109 and not q[3] and q[2] is not None and q[2] >= self.min_extrude:
                return
        c = self.cur
        if c is not None and c[1] == _M109 and not c[3] and c[2] is not None and c[2] >= self.min_extrude:
            return
        raise ControlError("COLD", "nozzle at %s C, below the %.1f C minimum for %s: heat first" % (
            "?" if temp is None else "%.1f" % temp, self.min_extrude, MATERIALS[self.material]))

    # ---- running lines --------------------------------------------------------------------
    def _finish(self):
        c = self.cur
        if c is not None:
            self.done = c[0]
            self.e_done_um = c[4]
            self.rel_done = c[5]
            self.retr_done = c[6]
        self.cur = None
        self.running = False

    def _begin(self, c, now_ms, temp, target):
        # -> True when the line is already complete
        kind = c[1]
        if kind != _MOVE and kind != _M104 and kind != _PA and kind != _FAN and kind != _NOP:
            self.ext.carry_us = 0   # a line that takes its own time: the timeline restarts
            self.gap_ms = None
        if kind == _M104 or kind == _M109:
            if c[3]:
                self.want_target2 = c[2] if c[2] is not None else 0.0
                self._hold = None
                return kind == _M104
            self.want_target = c[2] if c[2] is not None else 0.0
            self._hold = None
            return kind == _M104
        if kind == _DWELL:
            self._until = now_ms + c[2]
            return c[2] == 0
        if kind == _TUNE:
            self.want_tune = (c[2], c[3])
            self.tune_busy = True
            return False
        if kind == _PA:
            self.ext.pa = c[2]
            return True
        if kind == _FAN:
            self.want_fan = c[2]
            return True
        if kind == _PAUSE:
            self.paused = c[2]
            self.want_pause = c[2]
            return False
        if kind == _MOVE:
            g = self.gap_ms
            self.gap_ms = None
            if g is not None and c[3][2] and ticks_diff(now_ms, g) > 0:
                # Idle since a tick before this one. A chained move (C1: the gantry
                # started it the moment its move before ended) starts where the
                # extruder's move before ended, not at the tick its line came in: else
                # each junction whose line came late would add its lateness to the
                # toolhead's lag on the gantry for the rest of the job. The tick that
                # just ran is counted by the move's first step(), hence its length off.
                since = ticks_diff(now_ms, g) * 1000 + self.gap_us - self._dt_us
                if 0 < since <= CHAIN_MAX_US:
                    self.ext.carry_us = since
            if c[2] == 0:
                if not c[3][1]:
                    return True
                # G1 E0 D: a timed wait on the motion timeline
                self.ext.start(0, 0.0, c[3][1], self.ext.carry_us)
                self.running = True
                return False
            if temp is None or temp < self.min_extrude:
                if target is None or target < self.min_extrude:
                    self.error = "line %d: nozzle cold and not heating (target %s, minimum %.1f C)" % (
                        c[0], target, self.min_extrude)
                return False
            self.want_dir = 1 if c[2] > 0 else -1
            self.ext.start(c[2], c[3][0], c[3][1], self.ext.carry_us)
            self.running = True
            return False
        return True

    # ---- the shell's autotune for an M303 ----------------------------------------------
    def tune_started(self, sp, now_ms):
        if self.id:
            self.haccp.event(now_ms, "autotune", sp)

    def tune_finished(self, err, now_ms):
        # The autotune ended: err None (a result) or why not. The M303 line finishes,
        # or the job stops with the error.
        if self.id and self.tune_busy:
            self.tune_busy = False
            if err is not None:
                self.error = "line %d: autotune failed (%s)" % (self.cur[0] if self.cur else 0, err)
            self.haccp.event(now_ms, "autotune_end", err or "ok")

    def stop_motion(self):
        if self.ext.moving():
            self.ext.abort()
        self.running = False

    def resume(self):
        # job_resume: the pause line is done, the queue goes on
        if self.paused is None:
            return False
        self.paused = None
        self.want_pause = None
        if self.cur is not None and self.cur[1] == _PAUSE:
            self._finish()
        return True

    def step(self, now_ms, dt_us, temp, target, hold_ms, made=None):
        """Run the queue; returns the step frequency for the coming tick (0: none).
        made: the pulses a counter saw since the current move started (None: none)."""
        self._dt_us = dt_us
        for _ in range(QUEUE_MAX + 1):  # finish lines and start the next in the same tick
            c = self.cur
            if c is None:
                if not self.queue or self.error or self.pause:
                    self.ext.carry_us = 0  # a gap: the next move starts on its own clock
                    return 0
                c = self.queue.pop(0)
                self.cur = c
                if self._begin(c, now_ms, temp, target):
                    self._finish()
                    continue
                if self.error:
                    return 0
            kind = c[1]
            if kind == _MOVE:
                if not self.running:
                    if self._begin(c, now_ms, temp, target):
                        self._finish()
                        continue
                    return 0
                hz = self.ext.step(dt_us, made)
                if self.ext.moving():
                    return hz
                d = self.ext.dir
                self._finish()
                self.gap_ms = now_ms  # where a chained move takes up (see _begin)
                self.gap_us = self.ext.carry_us
                # the next move in the same direction runs on from this tick (a
                # direction change waits a tick: DIR only changes with no pulses)
                q = self.queue
                if q and q[0][1] == _MOVE and q[0][2] and (q[0][2] > 0) != (d > 0):
                    # its slot began now: one tick of it is gone by the time it starts
                    self.ext.carry_us += self.ext.tick_us
                    return 0
                dt_us = 0
                made = None
                continue
            if kind == _PAUSE:
                return 0
            if kind == _M109:
                tol = self.mat("_tol_c")
                t = self.temp2 if c[3] else temp
                if c[2] is None:
                    self._finish()   # M109 S0: off, nothing to wait for
                    continue
                if t is not None and c[2] - tol <= t <= c[2] + tol:
                    if self._hold is None:
                        self._hold = now_ms
                    if ticks_diff(now_ms, self._hold) >= hold_ms:
                        self._finish()
                        continue
                else:
                    self._hold = None
                return 0
            if kind == _TUNE:
                if self.tune_busy or self.want_tune is not None:
                    return 0
                self._finish()
                continue
            if kind == _DWELL:
                if ticks_diff(now_ms, self._until) >= 0:
                    self._finish()
                    continue
                return 0
            self._finish()
        return 0

    # ---- snapshot and resume ----------------------------------------------------------------
    def write(self, b, wall, target, temp):
        flags = 1 if self.rel_done else 0
        if wall is not None:
            flags |= 2
        if self.dz.inside:
            flags |= 4
        if self.retr_done:
            flags |= 8
        if self.has_file:
            flags |= 16
        b[0] = SNAP_VERSION
        b[1] = flags
        b[2] = self.material if self.material >= 0 else 255
        b[3] = 0
        put(b, 4, self.done, 4)
        put(b, 8, self.e_done_um, 4)
        put(b, 12, _c10(target), 2)
        put(b, 14, _c10(self.min_extrude), 2)
        put(b, 16, self.dz.ms, 4)
        put(b, 20, wall if wall is not None else 0, 4)
        put(b, 24, int(temp * 10) if temp is not None else -32768, 2)
        f = self.file
        for i in range(4):
            b[26 + i] = f[i]
        put(b, 30, self.lines, 4)

    @staticmethod
    def read(b):
        if len(b) < SNAP_LEN or b[0] != SNAP_VERSION:
            return None
        mi = b[2]
        t = get(b, 24, 2, True)
        return {
            "material": MATERIALS[mi] if mi < len(MATERIALS) else None,
            "done": get(b, 4, 4), "e_um": get(b, 8, 4, True),
            "relative": bool(b[1] & 1), "retracted": bool(b[1] & 8), "setpoint": get(b, 12, 2) / 10 or None,
            "min_extrude_c": get(b, 14, 2) / 10, "danger_zone_ms": get(b, 16, 4),
            "wall_s": get(b, 20, 4) if b[1] & 2 else None,
            "temp": None if t == -32768 else t / 10,
            "file": binascii.hexlify(bytes(b[26:30])).decode() if b[1] & 16 else None,
            "lines": get(b, 30, 4) or None,
        }

    def restore(self, jid, snap, outage_s, now_ms):
        """Take up an interrupted job from its snapshot (the checks are the shell's)."""
        self.reset()
        self.id = jid
        self.material = MATERIALS.index(snap["material"])
        self.min_extrude = max(snap["min_extrude_c"], float(self.mat("_min_c")))
        self.done = snap["done"]
        self.next = self.done + 1
        self.e_done_um = snap["e_um"]
        self.rel_done = snap["relative"]
        self.ext.relative = snap["relative"]
        self.ext.set_position(snap["e_um"] / 1000)
        self.retracted = self.retr_done = bool(snap.get("retracted"))
        if snap.get("file"):
            self.file[:] = binascii.unhexlify(snap["file"])
            self.has_file = True
        self.lines = snap.get("lines") or 0
        self.dz.reset(snap["danger_zone_ms"] + max(0, outage_s or 0) * 1000)  # never less than recorded
        self.haccp.reset(jid, now_ms)
        self.haccp.event(now_ms, "resume", {"line": self.next, "outage_s": outage_s})

    def info(self):
        return {
            "job": self.id, "material": MATERIALS[self.material] if self.material >= 0 else None,
            "done": self.done, "next": self.next, "queued": self.busy(),
            "e_mm": self.e_done_um / 1000, "error": self.error,
            "danger_zone_s": self.dz.ms // 1000, "min_extrude_c": self.min_extrude,
            "file": binascii.hexlify(bytes(self.file)).decode() if self.has_file else None,
            "lines": self.lines or None,
            "paused": self.paused, "pa_s": self.ext.pa, "tool": self.tool,
            "steps": self.ext.steps_total, "steps_made": self.ext.made_total,
        }
