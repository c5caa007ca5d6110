# Thermal protection, pure: `step(now_ms, setpoint, temp, duty, sensor_fault)`
# returns None while all is well, or (code, ctx) once a fault is found. The result
# latches: every later step returns the same tuple until reset().
#
#   setpoint      target C; None or <= 0 means the heater is meant to be off
#   temp          filtered sensor temperature (C), None if no valid reading
#   duty          the heater output in force since the previous step (0..1)
#   sensor_fault  None, or the thermistor's fault code ("sensor_open"/"sensor_short")
#
# Checks (all thresholds in the config, defaults below; tune per plant):
#   sensor     the thermistor's fault code passes through at once (it debounces
#              ~0.3 s itself); no valid reading for `no_reading_s` is "sensor_lost".
#   min/max    temp < min_c or temp > max_c.
#   heating    "heating_failed": while the temperature is more than watch_band_c
#              below the setpoint and the duty is at least watch_duty, the heater's
#              work is counted in full-power seconds (duty x time); if watch_s of it
#              pass without a gain of watch_gain_c, the heater is not heating (open
#              element, broken wire, heater fallen off the block). Each gain restarts
#              the count; reaching the band around the setpoint clears it. Like
#              Marlin's WATCH_TEMP, but counted in delivered heat, so a controller
#              that heats gently is never mistaken for a dead heater.
#   runaway    "runaway": once the temperature has reached the setpoint, the error
#              beyond hyst_c is integrated (C.s, as Klipper's verify_heater); over
#              max_error_cs trips. Back inside hyst_c clears the integral.
#   stuck on   "stuck_on": with the duty at most stuck_duty for stuck_grace_s (the
#              heat stored in the cartridge and the sensor lag have played out), a
#              rise of stuck_rise_c above the lowest temperature since then trips.
#   model      (on when power_w > 0: the heater model, as given to core.pid.ModelPid)
#              Two observers (core.heatmodel.HeaterObserver) run on the measurement:
#              one on the duty in force, one as if the heater gave nothing. Their
#              disturbance estimates give, with the same lag, the commanded heater
#              power P (their difference) and the heat that actually arrived, net of
#              any unexplained loss, D (minus the zero-power one's). In words, D says
#              how the temperature moves: D ~ the model's holding power while it is
#              held (whatever the draught), D ~ 0 while it falls as if unheated, D < 0
#              while it falls faster (a draught the controller has not answered yet).
#              "heating_failed" on the way up: P >= resid_hold_x x the holding power
#                and >= resid_up_power x power_w while D <= resid_up_frac x P, for
#                resid_up_s (at most of full power a draught the heater can hold
#                still lets a good part arrive, an open heater none).
#              "heating_failed" while holding (within resid_band_c of the setpoint):
#                P >= resid_hold_x x the holding power (and >= resid_min_frac x
#                power_w), D smoothed (resid_tau_s) between -resid_low and
#                resid_frac x the holding power (the temperature falls as if
#                unheated) and steady (within resid_margin x the holding power above,
#                twice that below, its slower average: not recovering). A draught
#                looks like an open heater until the controller answers it; then the
#                extra heat arrives and D climbs back to the holding power, while an
#                open heater's D stays put however hard it is driven. The evidence is
#                counted over resid_s with a leak (a second that fails takes a second
#                away; D above resid_frac x hold, the heat arriving, clears it), since
#                D is noisy (~0.5 W on a nozzle, a few W on a heavy block). A draught
#                the heater cannot hold ends as "runaway" (or this) once it sags.
#              "stuck_on" when heat arrives that was not commanded, D - P >=
#                resid_stuck_frac x power_w while P is below that, for resid_stuck_s,
#                and the temperature has risen resid_rise_c since (an estimate's
#                overshoot after a cold charge does not warm anything).
#              All only once the observers have run model_warmup_s. A reading that
#              jumps more than jump_c off the model in one step (a glitch, a bead
#              knocked, a cold charge) is no heat flow: the observers are pinned to
#              the reading (their disturbance estimates kept) for jump_hold_x sensor
#              lags, then warm up again; the plain stuck-on check restarts its low
#              from there too.
#
# Allocation: floats only on the step path; the ctx dict is built once, on the trip.
from hearth.control.heatmodel import HeaterObserver, pick
from hearth.ticks import ticks_diff

SENSOR_LOST = "sensor_lost"
MIN_TEMP = "min_temp"
MAX_TEMP = "max_temp"
HEATING_FAILED = "heating_failed"
RUNAWAY = "runaway"
STUCK_ON = "stuck_on"


DEFAULTS = {
    "min_c": 0.0,
    "max_c": 100.0,
    "no_reading_s": 1.0,
    "watch_band_c": 0.3,
    "watch_duty": 0.3,
    "watch_s": 6.0,
    "watch_gain_c": 0.5,
    "hyst_c": 3.0,
    "max_error_cs": 60.0,
    "stuck_duty": 0.02,
    "stuck_grace_s": 4.0,
    "stuck_rise_c": 1.0,
    # model checks (off while power_w is 0)
    "power_w": 0.0,
    "mass_j_k": 40.0,
    "core_j_k": 3.0,
    "core_w_k": 3.0,
    "loss_w_k": 0.12,
    "sensor_s": 1.5,
    "ambient_c": 22.0,
    "resid_rate": 1.0,        # the observers' disturbance rate (HeaterObserver dist_rate)
    "resid_hold_x": 2.0,
    "resid_min_frac": 0.05,
    "resid_frac": 0.2,
    "resid_low": 1.0,
    "resid_up_frac": 0.1,
    "resid_up_s": 1.0,
    "resid_up_power": 0.5,
    "resid_margin": 0.3,
    "resid_stuck_frac": 0.3,
    "resid_rise_c": 0.2,
    "resid_stuck_s": 1.0,
    "resid_s": 2.0,
    "resid_tau_s": 1.0,
    "resid_band_c": 3.0,
    "model_warmup_s": 3.0,
    "jump_c": 1.0,            # a reading this far off the model in one step is no heat flow
    "jump_hold_x": 3.0,       # ... and the checks wait this many sensor lags
}


class ThermalProtection:
    @staticmethod
    def from_section(section, limits):
        # From the printer section (its own copy of the heater model, model_*; the
        # checks watch_s, max_error_cs, stuck_rise_c) and the board file's limits
        # (min_c/max_c: the hardware's). model_checks false: no model, its checks off.
        c = pick(section, prefix="model_")
        if not section["model_checks"]:
            c["power_w"] = 0.0
        c["min_c"] = float(limits.get("min_c", 0))
        c["max_c"] = float(limits.get("max_c", 80))
        for k in ("watch_s", "max_error_cs", "stuck_rise_c"):
            c[k] = section[k]
        return ThermalProtection(c)

    def __init__(self, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        c = merge(DEFAULTS, config, "thermal")
        self.cfg = c
        self.min_c = float(c["min_c"])
        self.max_c = float(c["max_c"])
        self.no_reading_ms = int(float(c["no_reading_s"]) * 1000)
        self.watch_band = float(c["watch_band_c"])
        self.watch_duty = float(c["watch_duty"])
        self.watch_s = float(c["watch_s"])
        self.watch_gain = float(c["watch_gain_c"])
        self.hyst = float(c["hyst_c"])
        self.max_error = float(c["max_error_cs"])
        self.stuck_duty = float(c["stuck_duty"])
        self.stuck_grace = float(c["stuck_grace_s"])
        self.stuck_rise = float(c["stuck_rise_c"])
        self.obs_on = self.obs_off = None
        if float(c["power_w"]) > 0.0:
            oc = pick(c)
            oc["dist_rate"] = c["resid_rate"]
            oc["jump_c"] = c["jump_c"]
            self.obs_on = HeaterObserver(oc)
            self.obs_off = HeaterObserver(oc)
            self.power = self.obs_on.power
        self.r_hold_x = float(c["resid_hold_x"])
        self.r_min = float(c["resid_min_frac"])
        self.r_frac = float(c["resid_frac"])
        self.r_low = float(c["resid_low"])
        self.r_up = float(c["resid_up_frac"])
        self.r_up_s = float(c["resid_up_s"])
        self.r_up_pw = float(c["resid_up_power"])
        self.r_tau = float(c["resid_tau_s"])
        self.r_margin = float(c["resid_margin"])
        self.r_rise = float(c["resid_rise_c"])
        self.r_stuck_t = float(c["resid_stuck_s"])
        self.jump_hold = float(c["jump_hold_x"]) * float(c["sensor_s"])
        self.r_stuck = float(c["resid_stuck_frac"])
        self.r_s = float(c["resid_s"])
        self.r_band = float(c["resid_band_c"])
        self.warmup = float(c["model_warmup_s"])
        self.reset()

    def reset(self):
        self.fault = None
        self.last_ms = None
        self.no_read_ms = 0
        # heating watch
        self.w_on_s = 0.0
        self.w_ref = 0.0
        self.w_active = False
        # runaway
        self.sp = 0.0
        self.settled = False
        self.err_cs = 0.0
        # stuck on
        self.off_s = 0.0
        self.off_min = 0.0
        self.off_seen = False
        # model checks
        if self.obs_on is not None and self.obs_off is not None:
            self.obs_on.reset()
            self.obs_off.reset()
        self.m_s = 0.0          # observers running (s)
        self.r_open_s = 0.0
        self.r_stuck_s = 0.0
        self.quiet_s = 0.0      # after a jump in the reading: no model verdicts (s left)
        self.d_fast = 0.0       # D smoothed (resid_tau_s) and slower (3x)
        self.d_slow = 0.0
        self.u_on = False       # stuck check: unasked heat seen
        self.u_min = 0.0        # ... the lowest temperature since
        self.reached = False    # the setpoint has been reached since it was set
        self.cmd_w = 0.0        # last P and D (W), for status and the trip context
        self.got_w = 0.0

    def _trip(self, code, now_ms, setpoint, temp, duty, extra=None, value=None):
        ctx = {"t_ms": now_ms, "setpoint": setpoint, "temp": temp, "duty": duty}
        if extra is not None:
            ctx[extra] = value
        self.fault = (code, ctx)
        return self.fault

    def step(self, now_ms, setpoint, temp, duty, sensor_fault):
        if self.fault is not None:
            return self.fault
        dms = 0 if self.last_ms is None else ticks_diff(now_ms, self.last_ms)
        if dms < 0:
            dms = 0
        dt = dms / 1000.0
        self.last_ms = now_ms
        if sensor_fault:
            return self._trip(sensor_fault, now_ms, setpoint, temp, duty)
        if temp is None:
            self.no_read_ms += dms
            if self.no_read_ms >= self.no_reading_ms:
                return self._trip(SENSOR_LOST, now_ms, setpoint, temp, duty, "ms", self.no_read_ms)
            return None
        self.no_read_ms = 0
        if temp > self.max_c:
            return self._trip(MAX_TEMP, now_ms, setpoint, temp, duty, "max_c", self.max_c)
        if temp < self.min_c:
            return self._trip(MIN_TEMP, now_ms, setpoint, temp, duty, "min_c", self.min_c)
        sp = 0.0 if setpoint is None else float(setpoint)
        on = sp > 0.0
        if not on or abs(sp - self.sp) > self.hyst:
            self.reached = False
        if on and temp >= sp - self.watch_band:
            self.reached = True
        if self.obs_on is not None:
            r = self._model(now_ms, dt, sp, on, temp, duty)
            if r is not None:
                return r

        # -- stuck on: rising with the output off -------------------------------------
        if duty <= self.stuck_duty:
            self.off_s += dt
            if self.quiet_s > 0.0:
                self.off_seen = False   # the rise counts from after a jump, not from its bottom
            elif self.off_s >= self.stuck_grace:
                if not self.off_seen or temp < self.off_min:
                    self.off_min = temp
                    self.off_seen = True
                elif temp - self.off_min >= self.stuck_rise:
                    return self._trip(STUCK_ON, now_ms, setpoint, temp, duty, "rise", temp - self.off_min)
        else:
            self.off_s = 0.0
            self.off_seen = False

        # -- heating watch ---------------------------------------------------------------
        # (with the model checks on, only on the way up: holding is theirs, and a
        # draught that sags the temperature past watch_band is not a dead heater)
        if on and temp < sp - self.watch_band and not (self.reached and self.obs_on is not None):
            if not self.w_active or temp >= self.w_ref + self.watch_gain:
                self.w_ref = temp
                self.w_active = True
                self.w_on_s = 0.0
            elif duty >= self.watch_duty:
                self.w_on_s += duty * dt
                if self.w_on_s >= self.watch_s:
                    return self._trip(HEATING_FAILED, now_ms, setpoint, temp, duty, "gain", temp - self.w_ref)
        else:
            self.w_active = False
            self.w_on_s = 0.0

        # -- steady-state runaway --------------------------------------------------------
        if not on:
            self.settled = False
            self.err_cs = 0.0
            self.sp = 0.0
            return None
        if sp - self.sp > self.hyst or self.sp - sp > self.hyst:
            # a real setpoint change: wait until the temperature gets there
            self.settled = False
            self.err_cs = 0.0
        self.sp = sp
        e = temp - sp
        if e < 0.0:
            e = -e
        if not self.settled:
            if e <= self.hyst:
                self.settled = True
            return None
        if e <= self.hyst:
            self.err_cs = 0.0
            return None
        self.err_cs += (e - self.hyst) * dt
        if self.err_cs >= self.max_error:
            return self._trip(RUNAWAY, now_ms, setpoint, temp, duty, "error_cs", self.err_cs)
        return None

    def _model(self, now_ms, dt, sp, on, temp, duty):
        a = self.obs_on
        b = self.obs_off
        if a is None or b is None:
            return None
        jumps = a.jumps + b.jumps
        ok_a = a.update(dt, duty, temp)
        ok_b = b.update(dt, 0.0, temp)
        if a.jumps + b.jumps != jumps:
            # a reading no heat flow explains (a glitch, a bead knocked, a cold charge):
            # no verdict until the sensor has played it out
            self.quiet_s = self.jump_hold
        if self.quiet_s > 0.0:
            self.quiet_s -= dt
            # pinned at the reading, the disturbance estimates (a draught, the holding
            # share) kept; the checks start again from there
            a.start(temp, a.dist)
            b.start(temp, b.dist)
            self.m_s = 0.0
        elif ok_a and ok_b:
            self.m_s += dt
        p = a.dist - b.dist        # commanded heater power, seen through the observer
        got = -b.dist              # heat that arrived, net of unexplained loss
        self.cmd_w = p
        self.got_w = got
        if self.m_s < self.warmup:
            self.r_open_s = self.r_stuck_s = 0.0
            self.u_on = False
            self.d_fast = self.d_slow = got
            return None
        # heat from nowhere: the heater is on without being asked, and the temperature
        # shows it (a glitch's or a cold charge's aftermath in the estimate does not rise)
        lim = self.r_stuck * self.power
        if got - p >= lim and p <= lim:
            if not self.u_on or temp < self.u_min:
                self.u_min = temp
                self.u_on = True
            self.r_stuck_s += dt
            if self.r_stuck_s >= self.r_stuck_t and temp - self.u_min >= self.r_rise:
                return self._trip(STUCK_ON, now_ms, sp if on else None, temp, duty, "unasked_w", got - p)
        else:
            self.u_on = False
            self.r_stuck_s = 0.0
        hold = a.hold_w(sp)
        asked = on and p >= self.r_hold_x * hold and p >= self.r_min * self.power
        if on and not self.reached:
            # on the way up, while the controller asks for most of the heater's power, a
            # draught the heater can hold still lets a good part of it arrive, an open
            # heater none (near the setpoint the controller eases off: the holding
            # check takes over once the setpoint is reached)
            self.d_fast = self.d_slow = got
            if asked and p >= self.r_up_pw * self.power and got <= self.r_up * p:
                self.r_open_s += dt
                if self.r_open_s >= self.r_up_s:
                    return self._trip(HEATING_FAILED, now_ms, sp, temp, duty, "delivered_w", got)
            else:
                self.r_open_s = 0.0
            return None
        # Holding: asked for far more than holding takes, and the temperature falls as
        # if the heater gave nothing: D near 0 (not held: D ~ the holding power; not a
        # fresh draught, which makes it fall faster than unheated: D well below 0) and
        # steady (D, smoothed, neither climbing above its slower average nor diving
        # below it). A draught the controller answers recovers; an open heater's D
        # stays put however hard it is driven. D is noisy (reading noise through the
        # observer: ~0.5 W on a nozzle, a few W on a heavy block), so the evidence is
        # counted with a leak (a second that fails takes a second away) and cleared
        # when D shows the heat arriving.
        k = dt / (self.r_tau + dt)
        self.d_fast += k * (got - self.d_fast)
        k = dt / (3.0 * self.r_tau + dt)
        self.d_slow += k * (got - self.d_slow)
        d = self.d_fast
        if (asked and temp > sp - self.r_band
                and -self.r_low * hold <= d <= self.r_frac * hold
                and -2.0 * self.r_margin * hold <= d - self.d_slow <= self.r_margin * hold):
            self.r_open_s += dt
            if self.r_open_s >= self.r_s:
                return self._trip(HEATING_FAILED, now_ms, sp, temp, duty, "delivered_w", got)
        elif d > self.r_frac * hold or self.r_open_s <= dt:
            self.r_open_s = 0.0      # the heat arrives: the heater works
        else:
            self.r_open_s -= dt
        return None
