# Relay autotune (Astrom-Hagglund; the method behind Marlin's M303 and Klipper's
# PID_CALIBRATE), pure: `step(now_ms, temp) -> duty 0..1`.
#
# The output switches between bias+d and bias-d when the temperature crosses
# setpoint +/- hysteresis_c; after each full cycle the bias is re-centred so that
# the high and low half-periods match (Marlin). From the last `cycles` cycles:
#   Ku = 4 d / (pi a)      (a: half the peak-to-peak temperature swing)
#   Tu = the oscillation period (s)
# and classic Ziegler-Nichols PID gains in this firmware's units (duty per C,
# per C.s, per C/s): kp = 0.6 Ku, ki = kp / (Tu/2), kd = kp Tu / 8.
#
# Aborts (done, error set, output 0) when the temperature passes setpoint +
# abort_over_c or when timeout_s passes. Until `done` the caller applies the duty.
from hearth.ticks import ticks_diff


DEFAULTS = {
    "setpoint": 45.0,
    "hysteresis_c": 0.5,
    "out_max": 1.0,
    "cycles": 4,          # cycles averaged for the result
    "settle_cycles": 2,   # first cycles ignored (bias still moving)
    "abort_over_c": 15.0,
    "timeout_s": 3600.0,
    "min_bias": 0.02,
}


class RelayAutotune:
    def __init__(self, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        c = merge(DEFAULTS, config, "autotune")
        self.cfg = c
        self.sp = float(c["setpoint"])
        self.hyst = float(c["hysteresis_c"])
        self.out_max = float(c["out_max"])
        self.ncyc = int(c["cycles"])
        self.skip = int(c["settle_cycles"])
        self.abort_over = float(c["abort_over_c"])
        self.timeout_ms = int(float(c["timeout_s"]) * 1000)
        self.min_bias = float(c["min_bias"])
        self.bias = self.d = self.out_max / 2.0
        self.heating = True
        self.t_start = None
        self.t_on = self.t_off = None
        self.t_high = self.t_low = 0
        self.t_max = -1e9
        self.t_min = 1e9
        self.cycle = 0
        self.sum_ku = self.sum_tu = 0.0
        self.n = 0
        self.done = False
        self.error = None
        self.result = None
        self.out = self.out_max

    def step(self, now_ms, temp):
        if self.done:
            return 0.0
        if self.t_start is None:
            self.t_start = now_ms
            self.t_on = now_ms
        if temp > self.sp + self.abort_over:
            return self._finish("overshoot")
        if ticks_diff(now_ms, self.t_start) > self.timeout_ms:
            return self._finish("timeout")
        if temp > self.t_max:
            self.t_max = temp
        if temp < self.t_min:
            self.t_min = temp
        if self.heating and temp > self.sp + self.hyst:
            self.heating = False
            self.t_off = now_ms
            self.t_high = ticks_diff(now_ms, self.t_on)
            self.t_min = temp
        elif not self.heating and temp < self.sp - self.hyst:
            self.heating = True
            t_on = now_ms
            self.t_low = ticks_diff(t_on, self.t_off)
            self.t_on = t_on
            self._cycle_done()
            self.t_max = temp
        if self.done:
            return 0.0
        self.out = self.bias + self.d if self.heating else self.bias - self.d
        return self.out

    def _cycle_done(self):
        self.cycle += 1
        th = self.t_high
        tl = self.t_low
        if self.cycle > 1 and th + tl > 0:
            amp = (self.t_max - self.t_min) / 2.0
            if self.cycle > self.skip + 1 and amp > 0:
                # Ku from the relay amplitude in force during this cycle
                ku = 4.0 * self.d / (3.14159265 * amp)
                tu = (th + tl) / 1000.0
                self.sum_ku += ku
                self.sum_tu += tu
                self.n += 1
                if self.n >= self.ncyc:
                    self._result()
                    return
            # re-centre (Marlin): make the on and off half-periods equal
            b = self.bias + self.d * (th - tl) / (th + tl)
            lo = self.min_bias
            hi = self.out_max - self.min_bias
            self.bias = lo if b < lo else (hi if b > hi else b)
            half = self.out_max / 2.0
            self.d = self.out_max - self.bias if self.bias > half else self.bias

    def _result(self):
        ku = self.sum_ku / self.n
        tu = self.sum_tu / self.n
        kp = 0.6 * ku
        self.result = {
            "ku": ku, "tu": tu,
            "kp": kp, "ki": kp / (tu / 2.0), "kd": kp * tu / 8.0,
            "bias": self.bias, "d": self.d,
        }
        self.done = True
        self.out = 0.0

    def _finish(self, err):
        self.error = err
        self.done = True
        self.out = 0.0
        return 0.0


def model_from_relay(result, power_w, setpoint, ambient_c, hyst_c=0.0):
    # Heater model estimates from a relay result, for core.pid.ModelPid / the thermal
    # protection's model checks (a first-order-plus-dead-time fit; approximate, good
    # enough to start from, within a few tens of per cent on the bench plants):
    #   holding power = the re-centred relay bias x power_w  ->  loss_w_k
    #   static gain K = (setpoint - ambient) / bias   (C per unit duty)
    #   at the oscillation frequency w = 2 pi / Tu the plant's gain is 1/Ku:
    #     K / sqrt(1 + (w T)^2) = 1/Ku  ->  time constant T  ->  mass_j_k = loss x T
    #   and its phase is -pi + asin(h/a) (the hysteresis h of the relay leads by that;
#   a = 4 d / (pi Ku) is the oscillation's half swing): w L + atan(w T) = pi - asin(h/a)
#   ->  lumped lag L (lag_s: sensor, dead time AND the cartridge's own lag; the
#   three-node model's sensor_s is about lag_s - core_j_k / core_w_k)
    # Returns None when the numbers do not fit the model (bias 0, setpoint at ambient).
    import math
    b = result["bias"]
    rise = setpoint - ambient_c
    if b <= 0.0 or rise <= 0.0 or result["tu"] <= 0.0 or result["ku"] <= 0.0:
        return None
    hold_w = b * power_w
    loss = hold_w / rise
    k = rise / b
    w = 2.0 * math.pi / result["tu"]
    x = k * result["ku"]
    if x <= 1.0:
        return None
    t = math.sqrt(x * x - 1.0) / w
    a = 4.0 * result["d"] / (math.pi * result["ku"])
    lead = math.asin(hyst_c / a) if 0.0 < hyst_c < a else 0.0
    lag = (math.pi - lead - math.atan(w * t)) / w
    if lag < 0.0:
        lag = 0.0
    return {"power_w": power_w, "loss_w_k": loss, "mass_j_k": loss * t, "lag_s": lag,
            "ambient_c": ambient_c, "hold_w": hold_w}
