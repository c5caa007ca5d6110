# The printer role's autotune (M303 / `autotune`), imported by the role when a tune
# starts: the relay autotune (core.autotune) drives the heater through the heater
# shell, so every check of the thermal protection stays on; at the end the role's
# controller is back, the heater is off (as Marlin's M303) and `tune` reports Ku/Tu,
# the Ziegler-Nichols gains and the heater model's config keys (printer section) the
# oscillation gives (model_loss_w_k, model_mass_j_k, model_sensor_s: estimates to
# store with `hearth config set`, or to check a model against).
from hearth.control.autotune import RelayAutotune, model_from_relay
from hearth import hal


class _Tune:
    # The heater's controller while an autotune runs: the relay's duty, every check
    # of the thermal protection still on (the shell keeps stepping it).
    def __init__(self, at):
        self.at = at

    def step(self, now_ms, setpoint, measured):
        return self.at.step(now_ms, measured)

    def reset(self):
        pass


def start(self, sp, cycles, line):
    # self: the Printer role
    c = self.cfg
    over = min(float(c["tune_over_c"]), self.hw_max + 5.0 - sp)
    self.tune = RelayAutotune({"setpoint": sp, "cycles": cycles, "hysteresis_c": c["tune_hyst_c"],
                               "abort_over_c": over if over > 1.0 else 1.0})
    self.tune_sp = sp
    self.tune_line = line
    self.tune_result = None
    h = self.heater
    h.use(_Tune(self.tune))
    h.target = sp           # set directly: the relay starts from its own state
    if self.job.id:
        self.job.haccp.event(hal.ticks_ms(), "autotune", sp)


def end(self, now_ms, why=None):
    at = self.tune
    if at is None:
        return
    self.tune = None
    h = self.heater
    h.use(self.ctl)
    h.set_target(None)      # as Marlin's M303: the heater off afterwards
    err = why or at.error
    r = at.result
    if err is None and r is None:
        err = "no result"
    if err is not None or r is None:
        self.tune_result = {"setpoint": self.tune_sp, "error": err}
    else:
        cfg = self.cfg
        out = {"setpoint": self.tune_sp, "cycles": at.n}
        for k in ("ku", "tu", "kp", "ki", "kd", "bias"):
            out[k] = r[k]
        m = model_from_relay(r, float(cfg["model_power_w"]), self.tune_sp, float(cfg["model_ambient_c"]),
                             float(cfg["tune_hyst_c"]))
        if m is not None:
            # config keys (printer section) a `hearth config set` can store as they are
            core_s = 0.0
            if cfg["model_core_w_k"] > 0:
                core_s = cfg["model_core_j_k"] / cfg["model_core_w_k"]
            sens = m["lag_s"] - core_s
            m["model_loss_w_k"] = m.pop("loss_w_k")
            m["model_mass_j_k"] = m.pop("mass_j_k")
            m["model_sensor_s"] = sens if sens > 0.3 else 0.3
            m.pop("power_w")
            m.pop("ambient_c")
        out["model"] = m
        self.tune_result = out
    job = self.job
    if job.id and job.tune_busy:
        job.tune_busy = False
        if err is not None:
            job.error = "line %d: autotune failed (%s)" % (self.tune_line, err)
        job.haccp.event(now_ms, "autotune_end", err or "ok")
