# Extruder planner, pure (no I/O): turns E moves into a step frequency per tick.
#
# How the steps are made. On the ESP32 a Python call per step is far too slow (a
# paste extruder wants 500..5000 steps/s), so the step pin is a PWM output at the
# step frequency (50 % duty: one pulse per period), and the planner decides, once per
# superloop tick, which frequency to run during the next tick and when to stop. The
# number of steps is the frequency integrated over time; the planner keeps that count
# itself (`step(dt_us)` adds freq x dt of the tick that just ran, in milli-steps, all
# small ints) and:
#   * ramps the frequency with the configured acceleration (trapezoid: speed limited
#     by accel x time on the way up and by sqrt(2 a remaining) on the way down);
#   * when what is left fits in one tick, runs the last tick at remaining / tick, so
#     the move ends on a tick boundary with the count exact to the tick's jitter;
#   * a move's duration is therefore about steps / rate + rate / accel, counted in
#     ticks.
# The count is open-loop: on an ESP32 the pulses actually emitted differ from the
# estimate by the jitter of the tick (a fraction of a step per ms late). Exact counts
# need a pulse counter on the step pin (esp32.PCNT / machine.Counter, not in the hal
# yet) or RMT with a loop count: see docs and the role's notes.
#
# Units: positions in mm (float) for the G-code side, steps (int) for the motor.
# Floats allocate in MicroPython; the step path uses a handful per tick, bounded.
import math

from hearth.control import ControlError
from hearth.options import merge

DEFAULTS = {
    "steps_per_mm": 400.0,     # motor steps (incl. microstepping) per mm of filament/plunger
    "max_rate_mm_s": 5.0,      # maximum E speed
    "accel_mm_s2": 50.0,       # E acceleration
    "max_len_mm": 50.0,        # longest single extrude-only move
    "min_hz": 20,              # slowest step frequency used while moving
    "max_hz": 20000,           # hardware ceiling on the step frequency
    "tick_ms": 10,             # superloop tick
}


PlanError = ControlError  # a move the planner refuses (code RANGE)


class Extruder:
    def __init__(self, config=None):
        c = merge(DEFAULTS, config, "extruder")
        self.spm = float(c["steps_per_mm"])
        self.max_rate = float(c["max_rate_mm_s"])
        self.accel = float(c["accel_mm_s2"]) * self.spm     # steps/s^2
        self.max_len = float(c["max_len_mm"])
        self.min_hz = int(c["min_hz"])
        self.max_hz = int(c["max_hz"])
        self.tick_us = int(c["tick_ms"]) * 1000
        if self.spm <= 0 or self.max_rate <= 0 or self.accel <= 0:
            raise ValueError("extruder needs steps_per_mm, max_rate_mm_s, accel_mm_s2 > 0")
        self.relative = True     # M83 (paste printers slice relative E); M82 -> False
        self.pos_mm = 0.0        # logical E position (G92 sets it)
        self.feed_mm_s = self.max_rate / 2
        self.steps_total = 0     # signed steps of all finished moves since reset
        self._clear()

    def _clear(self):
        self.target = 0          # steps of the move in progress (absolute value)
        self.dir = 1
        self.done_m = 0          # milli-steps emitted in this move
        self.hz = 0              # frequency in force for the coming tick
        self.v_max = 0.0

    # ---- planning -------------------------------------------------------------------
    def plan(self, e=None, f=None):
        """G1 E<e> F<f>: returns the move as (signed steps, rate steps/s, clamped) and
        updates the logical position; no move (0 steps) for F alone. Raises PlanError."""
        clamped = False
        if f is not None:
            if f <= 0:
                raise PlanError("RANGE", "F must be > 0 mm/min")
            fs = f / 60.0
            if fs > self.max_rate:
                fs = self.max_rate
                clamped = True
            self.feed_mm_s = fs
        if e is None:
            return 0, 0, clamped
        d = e if self.relative else e - self.pos_mm
        if d > self.max_len or -d > self.max_len:
            raise PlanError("RANGE", "extrude-only move of %.1f mm is over the %.1f mm limit" % (d, self.max_len))
        steps = int(d * self.spm + (0.5 if d >= 0 else -0.5))
        rate = self.feed_mm_s * self.spm
        if rate > self.max_hz:
            rate = float(self.max_hz)
            clamped = True
        self.pos_mm += d
        return steps, rate, clamped

    def plan_raw(self, d, feed_mm_s):
        """A move of d mm at feed_mm_s that leaves the logical E position alone (firmware
        retract / unretract): (signed steps, rate steps/s, clamped)."""
        clamped = False
        fs = feed_mm_s
        if fs > self.max_rate:
            fs = self.max_rate
            clamped = True
        rate = fs * self.spm
        if rate > self.max_hz:
            rate = float(self.max_hz)
            clamped = True
        return int(d * self.spm + (0.5 if d >= 0 else -0.5)), rate, clamped

    def set_position(self, e):
        self.pos_mm = float(e)

    # ---- execution ------------------------------------------------------------------
    def start(self, steps, rate):
        self._clear()
        if steps == 0:
            return False
        self.dir = 1 if steps > 0 else -1
        self.target = steps if steps > 0 else -steps
        self.v_max = rate if rate > self.min_hz else float(self.min_hz)
        return True

    def moving(self):
        return self.target > 0

    def emitted(self):
        return self.done_m // 1000

    def abort(self):
        """Stop now; returns the steps that were emitted (signed)."""
        n = self.dir * (self.done_m // 1000)
        self.steps_total += n
        self._clear()
        return n

    def step(self, dt_us):
        """Account for the tick that just ran at self.hz, then choose the frequency
        for the next tick. Returns the frequency (Hz, int); 0 when the move is done."""
        if self.target <= 0:
            return 0
        if dt_us > 0 and self.hz:
            if dt_us > 100000:
                dt_us = 100000  # keeps freq x dt under 2**30; a longer tick is a stall
            self.done_m += self.hz * dt_us // 1000
        target_m = self.target * 1000
        if self.done_m + 500 > target_m:  # within half a step: done
            self.steps_total += self.dir * self.target
            self._clear()
            return 0
        rem = (target_m - self.done_m) / 1000.0             # steps left
        tick_s = self.tick_us / 1000000.0
        v_up = self.hz + self.accel * tick_s
        v_down = math.sqrt(2.0 * self.accel * rem)
        v = self.v_max
        if v_up < v:
            v = v_up
        if v_down < v:
            v = v_down
        if v * tick_s >= rem:
            v = rem / tick_s    # the rest fits in one tick: finish on its boundary
        hz = int(v + 0.5)
        if hz < self.min_hz:
            hz = self.min_hz
        if hz > self.max_hz:
            hz = self.max_hz
        self.hz = hz
        return hz
