# The heater model and its observer, shared by the model-based controller
# (core.pid.ModelPid) and the thermal protection's model checks (core.thermal).
# Pure: no I/O; a fixed set of float attributes.

# The plant's physical parameters (everything else in OBSERVER_DEFAULTS tunes the
# observer). Users of the model take these, with one prefix, from their config.
MODEL_KEYS = ("power_w", "mass_j_k", "core_j_k", "core_w_k", "loss_w_k", "sensor_s", "ambient_c")


def pick(config, keys=MODEL_KEYS, prefix=""):
    # {key: config[prefix + key]} for the model's keys: one place that knows them.
    out = {}
    for k in keys:
        out[k] = config[prefix + k]
    return out


OBSERVER_DEFAULTS = {
    "power_w": 20.0,       # heater power at 100 % duty
    "mass_j_k": 40.0,      # block heat capacity
    "core_j_k": 3.0,       # heater cartridge heat capacity (0: no core node)
    "core_w_k": 3.0,       # core -> block conductance
    "loss_w_k": 0.12,      # block -> ambient
    "sensor_s": 1.5,       # sensor lag incl. dead time (first order)
    "ambient_c": 22.0,
    "obs_gain": 2.0,       # state correction rate (1/s)
    "dist_rate": 0.5,      # disturbance estimate: W per (C of innovation) per s, per J/K (0: off)
    "model_dt_s": 0.1,     # model integration step (sub-steps if the tick is longer)
    "jump_c": 2.0,         # a reading this far from the model in one step is no heat
                           # flow (a sensor glitch, a nozzle swapped): start again there
}


class HeaterObserver:
    # The three-node heater model (core, block, sensor lag) run on the duty actually
    # applied, pulled towards the measurement, with a disturbance estimate `dist`:
    # the heat (W) leaving the block that the model does not explain. It is the
    # integral of the innovation (measured - modelled sensor temperature), scaled
    # by the heat capacity so the same setting suits a 40 g nozzle and a 300 g block.
    #   dist > 0  more loss than modelled (a draught; a heater that delivers less
    #             than commanded: an open element delivers none of it)
    #   dist < 0  heat from nowhere (a heater stuck on; a model that is too weak)
    # Fixed float attributes only: nothing grows on the step path.
    def __init__(self, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        c = merge(OBSERVER_DEFAULTS, config, "observer")
        self.power = float(c["power_w"])
        self.cb = float(c["mass_j_k"])
        self.ch = float(c["core_j_k"])
        self.k = float(c["core_w_k"])
        self.loss = float(c["loss_w_k"])
        self.ts_tau = float(c["sensor_s"])
        self.ambient = float(c["ambient_c"])
        self.obs = float(c["obs_gain"])
        self.mdt = float(c["model_dt_s"])
        self.jump = float(c["jump_c"])
        self.jumps = 0
        if self.power <= 0.0 or self.cb <= 0.0:
            raise ValueError("model needs power_w, mass_j_k > 0")
        self.has_core = self.ch > 0.0 and self.k > 0.0
        self.ctot = self.cb + (self.ch if self.has_core else 0.0)
        self.dist_l = float(c["dist_rate"]) * self.ctot
        self.reset()

    def reset(self):
        self.th = self.tb = self.ts = 0.0
        self.dist = 0.0
        self.started = False

    def start(self, measured, dist=0.0):
        # everything at the measured temperature: a heater found at rest
        self.th = self.tb = self.ts = measured
        self.dist = dist
        self.started = True

    def _predict(self, dt, duty):
        q = duty * self.power
        n = int(dt / self.mdt + 0.999)
        if n < 1:
            n = 1
        h = dt / n
        for _ in range(n):
            if self.has_core:
                flow = self.k * (self.th - self.tb)
                self.th += h * (q - flow) / self.ch
            else:
                flow = q
            self.tb += h * (flow - self.loss * (self.tb - self.ambient) - self.dist) / self.cb
            if self.ts_tau > h:
                self.ts += h * (self.tb - self.ts) / self.ts_tau
            else:
                self.ts = self.tb

    def update(self, dt, duty, measured):
        # advance by dt seconds at `duty` (the output in force since the last update);
        # False when the model (re)started at the measurement instead
        if not self.started:
            self.start(measured)
            return False
        if dt <= 0.0:
            return True
        self._predict(dt, duty)
        y = measured - self.ts
        if y > self.jump or y < -self.jump:
            # start again at the reading; the disturbance estimate (a draught, the
            # heater's holding share) is kept: a glitch is not news about the loss
            self.jumps += 1
            self.start(measured, self.dist)
            return False
        g = self.obs * dt
        if g > 1.0:
            g = 1.0
        innov = g * y
        self.th += innov
        self.tb += innov
        self.ts += innov
        self.dist -= self.dist_l * y * dt
        return True

    def hold_w(self, temp):
        # the model's (loss-only) holding power at temp
        return self.loss * (temp - self.ambient)
