# The printer role's autotune (M303 / `autotune`), an object the role owns, created
# when the first tune starts (its module is imported then: it costs the idle role no
# heap). The relay autotune (control/autotune.py) drives the heater through the heater
# shell, so every check of the thermal protection stays on; at the end the role's
# controller is back, the heater is off (as Marlin's M303) and `tune` reports Ku/Tu,
# the Ziegler-Nichols gains and the heater model's config keys (printer section) the
# oscillation gives (model_loss_w_k, model_mass_j_k, model_sensor_s: estimates to
# store with `hearth config set`, or to check a model against). A job's M303 hears
# the outcome through PrintJob.tune_started / tune_finished.
from hearth.control.autotune import RelayAutotune, model_from_relay


class _Relay:
    # The heater's controller while an autotune runs: the relay's duty, every check
    # of the thermal protection still on (the shell keeps stepping it).
    def __init__(self, at):
        self.at = at

    def step(self, now_ms, setpoint, measured):
        return self.at.step(now_ms, measured)

    def reset(self):
        pass


class Autotune:
    def __init__(self, heater, ctl, cfg, hw_max):
        self.heater = heater
        self.ctl = ctl          # the heater's own controller, back after the tune
        self.cfg = cfg          # the printer section (tune_*, model_*)
        self.hw_max = hw_max
        self.at = None          # RelayAutotune while one runs
        self.sp = 0.0
        self.line = 0           # job line of the M303 (0: the console's autotune)
        self.result = None      # the last autotune's outcome

    def running(self):
        return self.at is not None

    def start(self, sp, cycles, line, job, now_ms):
        c = self.cfg
        over = min(float(c["tune_over_c"]), self.hw_max + 5.0 - sp)
        self.at = RelayAutotune({"setpoint": sp, "cycles": cycles, "hysteresis_c": c["tune_hyst_c"],
                                 "abort_over_c": over if over > 1.0 else 1.0})
        self.sp = sp
        self.line = line
        self.result = None
        h = self.heater
        h.use(_Relay(self.at))
        h.target = sp           # set directly: the relay starts from its own state
        job.tune_started(sp, now_ms)

    def end(self, job, now_ms, why=None):
        at = self.at
        if at is None:
            return
        self.at = None
        h = self.heater
        h.use(self.ctl)
        h.set_target(None)      # as Marlin's M303: the heater off afterwards
        err = why or at.error
        r = at.result
        if err is None and r is None:
            err = "no result"
        if err is not None or r is None:
            self.result = {"setpoint": self.sp, "error": err}
        else:
            self.result = self._report(at, r)
        job.tune_finished(err, now_ms)

    def _report(self, at, r):
        cfg = self.cfg
        out = {"setpoint": self.sp, "cycles": at.n}
        for k in ("ku", "tu", "kp", "ki", "kd", "bias"):
            out[k] = r[k]
        m = model_from_relay(r, float(cfg["model_power_w"]), self.sp, float(cfg["model_ambient_c"]),
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
        return out

    def info(self):
        at = self.at
        d = {"running": at is not None, "result": self.result}
        if at is not None:
            d["setpoint"] = self.sp
            d["cycle"] = at.cycle
            d["line"] = self.line
        return d
