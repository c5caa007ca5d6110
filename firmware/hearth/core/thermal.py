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
#              Two observers (core.pid.HeaterObserver) run on the measurement: one
#              on the duty in force, one as if the heater gave nothing. Their
#              disturbance estimates give, with the same lag, the commanded heater
#              power P (their difference) and the heat that actually arrived, net of
#              any unexplained loss, D (minus the zero-power one's). A healthy heater,
#              draught or not, settles at D ~ the model's holding power; an open
#              heater at D ~ 0 however hard it is driven. A draught and an open
#              heater look the same until the controller asks for more than a
#              draught could take, so:
#              "heating_failed" when P >= resid_hold_x x the holding power (and
#                >= resid_min_frac x power_w) while D <= resid_frac x P, for resid_s;
#              "stuck_on" when heat arrives that was not commanded, D - P >=
#                resid_stuck_frac x power_w while P is below that, for resid_s.
#              Both only once the observers have run model_warmup_s (again after a
#              reading jumps by more than the observer's jump_c in one step); the heating one
#              on the way up, and once the setpoint is reached while the temperature
#              stays within resid_band_c of it (further off is the runaway check's).
#
# Allocation: floats only on the step path; the ctx dict is built once, on the trip.
from hearth.core.heatmodel import HeaterObserver
from hearth.options import merge

SENSOR_LOST = "sensor_lost"
MIN_TEMP = "min_temp"
MAX_TEMP = "max_temp"
HEATING_FAILED = "heating_failed"
RUNAWAY = "runaway"
STUCK_ON = "stuck_on"

_HALF = 0x20000000
_MASK = 0x3FFFFFFF

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
    "resid_hold_x": 3.0,
    "resid_min_frac": 0.1,
    "resid_frac": 0.3,
    "resid_stuck_frac": 0.3,
    "resid_s": 1.0,
    "resid_band_c": 3.0,
    "model_warmup_s": 3.0,
}

_MODEL_KEYS = ("power_w", "mass_j_k", "core_j_k", "core_w_k", "loss_w_k", "sensor_s", "ambient_c")


def _diff(a, b):
    return ((a - b + _HALF) & _MASK) - _HALF


class ThermalProtection:
    def __init__(self, config=None):
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
            oc = {"dist_rate": c["resid_rate"]}
            for k in _MODEL_KEYS:
                oc[k] = c[k]
            self.obs_on = HeaterObserver(oc)
            self.obs_off = HeaterObserver(oc)
            self.power = self.obs_on.power
        self.r_hold_x = float(c["resid_hold_x"])
        self.r_min = float(c["resid_min_frac"])
        self.r_frac = float(c["resid_frac"])
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
        dms = 0 if self.last_ms is None else _diff(now_ms, self.last_ms)
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
            if self.off_s >= self.stuck_grace:
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
        if a.update(dt, duty, temp) and b.update(dt, 0.0, temp):
            self.m_s += dt
        else:
            # a jump no heat flow explains: both models start again at the reading
            a.start(temp)
            b.start(temp)
            self.m_s = 0.0
        p = a.dist - b.dist        # commanded heater power, seen through the observer
        got = -b.dist              # heat that arrived, net of unexplained loss
        self.cmd_w = p
        self.got_w = got
        if self.m_s < self.warmup:
            return None
        # heat from nowhere: the heater is on without being asked
        if got - p >= self.r_stuck * self.power and p <= self.r_stuck * self.power:
            self.r_stuck_s += dt
            if self.r_stuck_s >= self.r_s:
                return self._trip(STUCK_ON, now_ms, sp if on else None, temp, duty, "unasked_w", got - p)
        else:
            self.r_stuck_s = 0.0
        # asked for far more than holding takes, and it does not arrive
        if (on and (not self.reached or temp > sp - self.r_band)
                and p >= self.r_hold_x * a.hold_w(sp) and p >= self.r_min * self.power
                and got <= self.r_frac * p):
            self.r_open_s += dt
            if self.r_open_s >= self.r_s:
                return self._trip(HEATING_FAILED, now_ms, sp, temp, duty, "delivered_w", got)
        else:
            self.r_open_s = 0.0
        return None
