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
#
# Allocation: floats only on the step path; the ctx dict is built once, on the trip.
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
}


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
        if on and temp < sp - self.watch_band:
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
