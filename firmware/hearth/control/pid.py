# Heater controllers: pure objects, `step(now_ms, setpoint, measured) -> duty 0..1`.
#
# Pid: textbook PID, made safe for a heater:
#   * derivative on the measurement (no kick on setpoint change), low-pass filtered;
#   * anti-windup: "clamp" (conditional integration: the integrator does not move
#     in the direction that pushes a saturated output further) or "backcalc"
#     (back-calculation: the integrator is pulled back by kaw * (u_sat - u)), and
#     the integral term itself limited to [i_min, i_max];
#   * output clamp [out_min, out_max];
#   * optional steady-state feed-forward from a heater model:
#     duty_ff = loss_w_k * (setpoint - ambient_c) / power_w.
#
# ModelPid: model-based control (in the spirit of Marlin's MPC) that beats the PID
# on every plant we model. An observer runs a three-node heater model (heater core,
# block, sensor lag) on the duty it commands and is pulled towards the measurement.
# The command is the heat needed to bring the model's stored energy to the
# setpoint's within `response_s`, plus the holding power for the setpoint, plus a
# slow integral on the measured error for what the model gets wrong (loss, draughts):
#
#   q = C_tot * (Te_sp - Te) / response_s + loss * (sp - ambient)          [W]
#   Te = (C_h*T_core + C_b*T_block) / C_tot   (energy-weighted temperature)
#
# Far from the setpoint this is full power; the switch-off comes when the heat already
# stored in the heater core and the not-yet-seen block temperature will carry the
# block to the setpoint, which is what makes the approach both fast and overshoot-free.
#
# With dist_rate > 0 the observer also estimates the heat leaving the block that the
# model does not explain (a draught, a heater that stopped delivering: see
# HeaterObserver) and, within dist_band_c of the setpoint, the command adds it: the
# holding power follows a draught within seconds instead of waiting for the slow
# integral, and an open heater is driven up quickly, which is what lets the thermal
# protection (core.thermal, model checks) tell the two apart.
#
# Both keep a fixed set of float attributes: no containers grow on the step path.
from hearth.control.heatmodel import MODEL_KEYS, OBSERVER_DEFAULTS, HeaterObserver, pick
from hearth.ticks import ticks_diff


PID_DEFAULTS = {
    "kp": 0.1,           # duty per C
    "ki": 0.004,         # duty per C.s
    "kd": 0.2,           # duty per C/s
    "d_filter_s": 1.0,   # derivative low-pass time constant
    "out_min": 0.0,
    "out_max": 1.0,
    "i_min": None,       # integral term limits (duty); default: the output range
    "i_max": None,
    "aw": "clamp",       # "clamp" (conditional integration) or "backcalc"
    "kaw": 1.0,          # back-calculation gain (1/s)
    # feed-forward (optional): steady-state duty from the heater's loss to ambient
    "ff_loss_w_k": 0.0,
    "ff_power_w": 0.0,
    "ambient_c": 22.0,
}


class Pid:
    def __init__(self, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        c = merge(PID_DEFAULTS, config, "pid")
        self.cfg = c
        self.kp = float(c["kp"])
        self.ki = float(c["ki"])
        self.kd = float(c["kd"])
        self.d_tau = float(c["d_filter_s"])
        self.out_min = float(c["out_min"])
        self.out_max = float(c["out_max"])
        self.i_min = self.out_min - self.out_max if c["i_min"] is None else float(c["i_min"])
        self.i_max = self.out_max if c["i_max"] is None else float(c["i_max"])
        if c["aw"] not in ("clamp", "backcalc"):
            raise ValueError("aw must be clamp or backcalc")
        self.backcalc = c["aw"] == "backcalc"
        self.kaw = float(c["kaw"])
        self.ff_k = 0.0
        if c["ff_power_w"] and c["ff_loss_w_k"]:
            self.ff_k = float(c["ff_loss_w_k"]) / float(c["ff_power_w"])
        self.ambient = float(c["ambient_c"])
        self.reset()

    def reset(self):
        self.i = 0.0
        self.dm = 0.0          # filtered d(measured)/dt, C/s
        self.prev = 0.0
        self.last_ms = None
        self.out = 0.0
        self.p_term = self.d_term = self.ff_term = 0.0

    def ff(self, setpoint):
        if self.ff_k <= 0.0:
            return 0.0
        return self.ff_k * (setpoint - self.ambient)

    def step(self, now_ms, setpoint, measured):
        if self.last_ms is None:
            dt = 0.0
        else:
            dt = ticks_diff(now_ms, self.last_ms) / 1000.0
            if dt < 0.0:
                dt = 0.0
        if dt > 0.0:
            raw = (measured - self.prev) / dt
            a = dt / (self.d_tau + dt) if self.d_tau > 0.0 else 1.0
            self.dm += a * (raw - self.dm)
        self.prev = measured
        self.last_ms = now_ms
        e = setpoint - measured
        p = self.kp * e
        d = -self.kd * self.dm
        f = self.ff(setpoint)
        u = f + p + self.i + d
        lo = self.out_min
        hi = self.out_max
        us = hi if u > hi else (lo if u < lo else u)
        if dt > 0.0:
            di = self.ki * e * dt
            if self.backcalc:
                di += self.kaw * dt * (us - u)
                self.i += di
            elif not ((u >= hi and di > 0.0) or (u <= lo and di < 0.0)):
                self.i += di
            if self.i > self.i_max:
                self.i = self.i_max
            elif self.i < self.i_min:
                self.i = self.i_min
        self.p_term = p
        self.d_term = d
        self.ff_term = f
        self.out = us
        return us


MODEL_DEFAULTS = {}
for _k in MODEL_KEYS:   # the heater model (nominal; the loop corrects modest errors)
    MODEL_DEFAULTS[_k] = OBSERVER_DEFAULTS[_k]
MODEL_DEFAULTS.update({
    "obs_gain": OBSERVER_DEFAULTS["obs_gain"],      # observer correction rate (1/s)
    "model_dt_s": OBSERVER_DEFAULTS["model_dt_s"],  # model integration step
    "dist_rate": 0.3,      # disturbance estimate rate (see HeaterObserver; 0: off)
    # the loop
    "response_s": 1.0,     # energy error time constant (smaller: harder approach)
    "dist_band_c": 2.0,    # use the disturbance estimate within this band of the setpoint
    "ki": 0.002,           # integral on measured error (duty per C.s)
    "i_band_c": 2.0,       # integrate only within this band of the setpoint
    "i_max": 0.3,          # |integral| limit (duty)
    "out_min": 0.0,
    "out_max": 1.0,
})

_OBS_KEYS = MODEL_KEYS + ("obs_gain", "dist_rate", "model_dt_s")


class ModelPid:
    @staticmethod
    def from_section(section):
        # From the printer section: the heater model and this controller's response,
        # all under model_ (model_power_w, ..., model_response_s, model_dist_rate).
        return ModelPid(pick(section, MODEL_KEYS + ("response_s", "dist_rate"), "model_"))

    def __init__(self, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        c = merge(MODEL_DEFAULTS, config, "model")
        self.cfg = c
        self.m = HeaterObserver(pick(c, _OBS_KEYS))
        self.power = self.m.power
        self.ch = self.m.ch
        self.k = self.m.k
        self.loss = self.m.loss
        self.ambient = self.m.ambient
        self.has_core = self.m.has_core
        self.ctot = self.m.ctot
        self.resp = float(c["response_s"])
        self.dist_band = float(c["dist_band_c"])
        self.ki = float(c["ki"])
        self.i_band = float(c["i_band_c"])
        self.i_max = float(c["i_max"])
        self.out_min = float(c["out_min"])
        self.out_max = float(c["out_max"])
        if self.resp <= 0.0:
            raise ValueError("model needs response_s > 0")
        self.reset()

    def reset(self):
        self.last_ms = None
        self.m.reset()
        self.i = 0.0
        self.out = 0.0

    def step(self, now_ms, setpoint, measured):
        m = self.m
        if self.last_ms is None:
            m.start(measured)
            dt = 0.0
        else:
            dt = ticks_diff(now_ms, self.last_ms) / 1000.0
            if dt < 0.0:
                dt = 0.0
        self.last_ms = now_ms
        m.update(dt, self.out, measured)
        q_ss = self.loss * (setpoint - self.ambient)
        e = setpoint - measured
        near = -self.dist_band < e < self.dist_band
        if near:
            q_ss += m.dist
        if self.has_core:
            te = (self.ch * m.th + m.cb * m.tb) / self.ctot
            # at equilibrium the core sits q_ss/k above the block
            te_sp = setpoint + self.ch * q_ss / (self.k * self.ctot)
        else:
            te = m.tb
            te_sp = setpoint
        q = self.ctot * (te_sp - te) / self.resp + q_ss
        u = q / self.power + self.i
        lo = self.out_min
        hi = self.out_max
        us = hi if u > hi else (lo if u < lo else u)
        if dt > 0.0 and -self.i_band < e < self.i_band:
            di = self.ki * e * dt
            if not ((u >= hi and di > 0.0) or (u <= lo and di < 0.0)):
                self.i += di
                if self.i > self.i_max:
                    self.i = self.i_max
                elif self.i < -self.i_max:
                    self.i = -self.i_max
        self.out = us
        return us

    def block_estimate(self):
        # The observer's estimate of the block (food-side) temperature.
        return self.m.tb
