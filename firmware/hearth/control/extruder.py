# Extruder planner, pure (no I/O): turns E moves into a step frequency per tick.
#
# How the steps are made. On the ESP32 a Python call per step is far too slow (a
# paste extruder wants 500..5000 steps/s), so the step pin is a PWM output at the
# step frequency (50 % duty: one pulse per period), and the planner decides, once per
# superloop tick, which frequency to run during the next tick.
#
# Every move is a profile in time: a symmetric trapezoid of S steps over T seconds
# with ramps of tr seconds (cruise v = S / (T - tr)). A synced move (G1 E F D) gets
# T from the host (the gantry's duration for that XYZ move) and tr = T - S/v; a move
# without D gets them from the extruder's own acceleration. Each tick the planner
# aims at where the profile will be at the end of the next tick, plus pressure
# advance K x velocity (Klipper's pressure advance, Marlin's linear advance: the
# piston leads the flow by K x rate so a paste whose nozzle flow lags its pressure
# with time constant K comes out on the commanded rate), and runs the frequency that
# gets there from the steps made so far. Aiming at a position, not a rate, makes
# the count self-correcting: tick jitter, the frequency rounding and pulses the PWM
# gained or lost (told by a pulse counter when the board has one: `step(dt, made)`)
# are made up on the next tick. With pressure advance the aim runs past S in the
# ramp-down and comes back to S at T (K x velocity falls faster than the profile
# rises): the piston pulls back for those ticks (a negative frequency: the role flips
# DIR between ticks, with no pulses). Cutting that pull-back left the lead's paste in
# the nozzle at every stop, and it landed at the start of the next move.
# A move that ends inside a tick hands the rest of the tick to the next move
# (`carry_us`), so back-to-back synced moves keep the host's timeline.
#
# Units: positions in mm (float) for the G-code side, steps for the motor.
# Floats allocate in MicroPython; the step path uses a handful per tick, bounded.
import math

from hearth.control import ControlError

DEFAULTS = {
    "steps_per_mm": 400.0,     # motor steps (incl. microstepping) per mm of filament/plunger
    "max_rate_mm_s": 5.0,      # maximum E speed: faster is refused
    "accel_mm_s2": 50.0,       # E acceleration (moves without D)
    "max_len_mm": 50.0,        # longest single extrude-only move
    "min_hz": 20,              # slowest step frequency used while moving
    "max_hz": 20000,           # hardware ceiling on the step frequency
    "tick_ms": 10,             # superloop tick
    "pa_s": 0.0,               # pressure advance K, s (0: off)
}

PA_MAX_S = 1.0       # pressure advance bound (config and M900)
MAX_D_MS = 600000    # longest synced move


PlanError = ControlError  # a move the planner refuses (code RANGE)


class Extruder:
    def __init__(self, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
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
        self.pa = 0.0
        self.set_pa(float(c["pa_s"]))
        self.relative = True     # M83 (paste printers slice relative E); M82 -> False
        self.pos_mm = 0.0        # logical E position (G92 sets it)
        self.feed_mm_s = self.max_rate / 2
        self.steps_total = 0     # signed steps of all finished moves since reset (commanded)
        self.made_total = 0      # signed steps the pulse counter saw in them (counted boards)
        self.carry_us = 0        # the part of the last tick past the end of the last move
        self.next_us = self.tick_us
        self.moves = 0           # moves started (the shell's pulse counter follows it)
        self.counter_bad = False # a counter disagreed with the estimate: not trusted since
        self._clear()

    def _clear(self):
        self.target = 0          # steps of the move in progress (absolute value)
        self.dir = 1
        self.done_m = 0          # milli-steps emitted in this move (counted when told)
        self.est_m = 0           # ... as the frequency x time estimate has them
        self.hz = 0              # frequency in force for the coming tick
        self.v = 0.0             # cruise, steps/s
        self.a = 0.0             # ramp acceleration, steps/s^2 (0: no ramps)
        self.t_us = 0            # time into the move (int: float sums drift a tick)
        self.dur_us = 0          # its duration
        self.dur_s = 0.0
        self.tr_s = 0.0          # ramp time, each side
        self.timed = False       # a move with a duration and no steps (G1 E0 D)

    def set_pa(self, k):
        if not 0.0 <= k <= PA_MAX_S:
            raise PlanError("BAD_ARGS", "pressure advance K %.3f s is outside 0..%.1f s" % (k, PA_MAX_S))
        self.pa = float(k)

    # ---- planning -------------------------------------------------------------------
    def _rate(self, f):
        # F (mm/min) -> mm/s, refused above what the extruder does: the host slows the
        # move instead (a capped rate would no longer match the gantry's time)
        if f <= 0:
            raise PlanError("RANGE", "F must be > 0 mm/min")
        fs = f / 60.0
        if fs > self.max_rate * 1.0001:
            raise PlanError("BAD_ARGS", "F%g is %.3f mm/s, above the extruder's max_rate_mm_s %.3f mm/s "
                            "(F%d): slow the move" % (f, fs, self.max_rate, int(self.max_rate * 60)))
        if fs * self.spm > self.max_hz:
            raise PlanError("BAD_ARGS", "F%g is %d steps/s, above max_step_hz %d" % (
                f, int(fs * self.spm), self.max_hz))
        return fs

    def plan(self, e=None, f=None, d=None):
        """G1 E<e> F<f> [D<ms>]: returns the move as (signed steps, rate steps/s,
        duration us: 0 = the extruder's own acceleration) and updates the logical
        position; no move (0 steps) for F alone. Raises PlanError, changing nothing."""
        fs = self.feed_mm_s if f is None else self._rate(f)
        if e is None:
            if d is not None:
                raise PlanError("BAD_ARGS", "D (duration) needs E")
            self.feed_mm_s = fs
            return 0, 0, 0
        dist = e if self.relative else e - self.pos_mm
        if dist > self.max_len or -dist > self.max_len:
            raise PlanError("RANGE", "extrude-only move of %.1f mm is over the %.1f mm limit" % (dist, self.max_len))
        steps = int(dist * self.spm + (0.5 if dist >= 0 else -0.5))
        dur = 0
        if d is not None:
            if not 0 < d <= MAX_D_MS:
                raise PlanError("BAD_ARGS", "D must be 0..%d ms" % MAX_D_MS)
            # E over D at cruise F on a symmetric trapezoid: |E|/F <= D <= 2|E|/F
            # (all cruise .. all ramps), within 1 ms + 0.5 % for the host's rounding
            t_min = abs(dist) / fs * 1000.0
            tol = 1.0 + d * 0.005
            if d + tol < t_min:
                raise PlanError("BAD_ARGS", "E%g at F%g takes %.1f ms at least, more than D%g" % (
                    e, fs * 60, t_min, d))
            if d > 2 * t_min + tol and steps:
                raise PlanError("BAD_ARGS", "E%g over D%g never reaches F%g (it needs D <= %.1f ms): "
                                "send the move's peak E rate as F" % (e, d, fs * 60, 2 * t_min))
            dur = int(d * 1000 + 0.5)
        self.feed_mm_s = fs
        self.pos_mm += dist
        return steps, fs * self.spm, dur

    def plan_raw(self, d, feed_mm_s):
        """A move of d mm at feed_mm_s that leaves the logical E position alone (firmware
        retract / unretract): (signed steps, rate steps/s, 0)."""
        return int(d * self.spm + (0.5 if d >= 0 else -0.5)), self._rate(feed_mm_s * 60.0) * self.spm, 0

    def set_position(self, e):
        self.pos_mm = float(e)

    # ---- execution ------------------------------------------------------------------
    def start(self, steps, rate, dur_us=0, carry_us=0):
        """Begin a move: steps signed, rate its cruise (steps/s), dur_us its duration
        (0: from the acceleration), carry_us the time already past its start (the end
        of the tick in which the previous move finished). False: nothing to run."""
        self._clear()
        self.moves += 1
        s = steps if steps > 0 else -steps
        if s == 0 and dur_us <= 0:
            return False
        self.dir = 1 if steps >= 0 else -1
        self.target = s
        self.t_us = carry_us
        if s == 0:
            self.timed = True
            self.dur_us = dur_us
            return True
        if dur_us > 0:
            t = dur_us / 1000000.0
            tr = t - s / rate
            if tr < 0.0:
                tr = 0.0
            if tr > t / 2:
                tr = t / 2
            self.v = s / (t - tr)           # the exact area S over T
            self.a = self.v / tr if tr > 0 else 0.0
            self.dur_s = t
            self.dur_us = dur_us
            self.tr_s = tr
        else:
            v = rate if rate > self.min_hz else float(self.min_hz)
            a = self.accel
            if s < v * v / a:
                v = math.sqrt(s * a)        # a triangle: cruise never reached
            self.v = v
            self.a = a
            self.tr_s = v / a
            self.dur_s = s / v + self.tr_s
            self.dur_us = int(self.dur_s * 1000000)
        return True

    def _aim(self, t):
        # steps the profile has made at t, plus pressure advance x its velocity
        if t >= self.dur_s:
            return float(self.target)
        tr = self.tr_s
        a = self.a
        if a and t < tr:
            p = 0.5 * a * t * t
            vel = a * t
        elif a and t > self.dur_s - tr:
            td = self.dur_s - t
            p = self.target - 0.5 * a * td * td
            vel = a * td
        else:
            p = 0.5 * self.v * tr + self.v * (t - tr)
            vel = self.v
        return p + self.pa * vel

    def moving(self):
        return self.target > 0 or self.timed

    def emitted(self):
        return self.done_m // 1000

    def abort(self):
        """Stop now; returns the steps that were emitted (signed)."""
        n = self.dir * (self.done_m // 1000)
        self.steps_total += n
        self.made_total += n
        self.carry_us = 0
        self._clear()
        return n

    def step(self, dt_us, made=None):
        """Account for the tick that just ran at self.hz (or take `made`, the pulses a
        counter saw in this move), then choose the frequency for the next tick.
        Returns the frequency (Hz, int; negative: back against the move's direction,
        pressure advance's pull-back); 0 for a still tick. The move is over when
        moving() turns False (carry_us then holds the time past its end)."""
        if not self.moving():
            return 0
        if dt_us > 0:
            if dt_us > 100000:
                dt_us = 100000  # keeps freq x dt under 2**30; a longer tick is a stall
            if self.hz:
                n = self.hz * dt_us // 1000
                self.done_m += n
                self.est_m += n
            self.t_us += dt_us
            # the next tick will likely be as long as this one (a slow loop, a flash
            # erase): aim over that, not the nominal tick
            self.next_us = dt_us if dt_us > self.tick_us else self.tick_us
        if made is not None and not self.counter_bad:
            # A counter that sees less than half the estimate (- 5 steps) does not see
            # the pin (a pad that does not loop back reads 0): trusting it would drive
            # the motor on and on. More than the estimate is what an S3 does (an edge
            # per timer restart): that is what the counter is for.
            if made * 1000 < self.est_m // 2 - 5000:
                self.counter_bad = True
            else:
                self.done_m = made * 1000
        done = self.done_m / 1000.0
        # on time, the move ends within 2 steps of S (the pull-back's last tick lands
        # within a counted step or two either side): a tick more for one step would
        # make each move 10 ms late, and the toolhead would drift off its gantry
        if self.t_us >= self.dur_us and done + 2.0 > self.target:
            # the time past its end (a late tick: all of it, or the toolhead would slip
            # behind its gantry by each late tick's excess; dt_us is capped at 100 ms)
            self.carry_us = self.t_us - self.dur_us
            n = self.dir * self.target
            self.steps_total += n
            self.made_total += self.dir * ((self.done_m + 500) // 1000)
            self._clear()
            return 0
        tick_s = self.next_us / 1000000.0
        want = self._aim((self.t_us + self.next_us) / 1000000.0) - done
        if want >= 0:
            hz = int(want / tick_s + 0.5)
            if 0 < hz < self.min_hz:
                hz = self.min_hz
        elif self.pa and want <= -1.0:
            # pressure advance's pull-back (less than a step is not worth a DIR flip)
            hz = -int(-want / tick_s + 0.5)
            if hz > -self.min_hz:
                hz = -self.min_hz
        else:
            hz = 0
        if hz > self.max_hz:
            hz = self.max_hz
        elif hz < -self.max_hz:
            hz = -self.max_hz
        h0 = self.hz
        if h0 and hz and (h0 > 0) == (hz > 0):
            d = hz - h0 if hz > h0 else h0 - hz
            if d * 64 <= (h0 if h0 > 0 else -h0):
                # within 1.5 %: keep the frequency (on an S3 each change restarts the
                # PWM timer, a step gained or lost; the position aim takes it up)
                hz = h0
        self.hz = hz
        return hz
