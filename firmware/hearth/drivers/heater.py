# Heater shell: reads the thermistor, steps the controller and the thermal protection,
# writes the PWM duty. Everything injected: a hal Pwm (created by the caller with its
# freq and duty 0), a Thermistor, a controller (core.pid.Pid / ModelPid or anything
# with step(now_ms, setpoint, measured) and reset()), a ThermalProtection.
#
# tick(now_ms) runs the loop once every `period_ms` (100 ms default: the controllers
# and protection are tuned for it; call tick from a faster superloop freely). A fault
# turns the heater off and latches until clear_fault(); safe() never raises.
from hearth.ticks import ticks_add, ticks_diff


DEFAULTS = {
    "period_ms": 100,
    "max_duty": 1.0,   # hardware limit on the output (e.g. a 24 V heater on 30 V)
}


class Heater:
    def __init__(self, pwm, thermistor, controller, protection, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        c = merge(DEFAULTS, config, "heater")
        self.period_ms = int(c["period_ms"])
        self.max_duty = float(c["max_duty"])
        self.pwm = pwm
        self.sensor = thermistor
        self.ctl = controller
        self.prot = protection
        self.target = None      # C; None: off
        self.duty = 0.0         # output in force
        self.temp = None
        self.fault = None       # (code, ctx) once tripped
        self._next = None
        self.safe()

    def safe(self):
        # Heater off. Never raises, allocates nothing, idempotent.
        self.duty = 0.0
        try:
            self.pwm.duty_u16(0)
        except Exception:  # noqa: BLE001 - safe() must never raise
            pass

    def set_target(self, setpoint):
        # None or <= 0 turns the heater off (protection keeps watching).
        if setpoint is not None and setpoint <= 0:
            setpoint = None
        if setpoint is None or self.target is None:
            self.ctl.reset()
        self.target = setpoint
        if setpoint is None:
            # off now, not at the next tick: nothing may report (or apply) a duty
            # without a setpoint in between
            self.safe()

    def use(self, controller):
        # Swap the controller (an autotune's relay and back); the protection stays on.
        controller.reset()
        self.ctl = controller

    def clear_fault(self):
        # Explicit operator action; the target is dropped, the heater stays off.
        self.fault = None
        self.target = None
        self.prot.reset()
        self.ctl.reset()

    def tick(self, now_ms):
        if self._next is not None and ticks_diff(now_ms, self._next) < 0:
            return
        nxt = ticks_add(now_ms if self._next is None else self._next, self.period_ms)
        if ticks_diff(now_ms, nxt) >= 0:  # fell behind: resynchronise
            nxt = ticks_add(now_ms, self.period_ms)
        self._next = nxt
        try:
            self._run(now_ms)
        except Exception as e:  # noqa: BLE001 - any surprise turns the heater off
            self.safe()
            if self.fault is None:
                self.fault = ("heater_error", {"t_ms": now_ms, "error": repr(e)})

    def _run(self, now_ms):
        s = self.sensor
        s.read(now_ms)
        temp = s.temp if s.fault is None else None
        self.temp = temp
        if self.fault is not None:
            self.safe()
            return
        sp = self.target
        r = self.prot.step(now_ms, sp, temp, self.duty, s.fault)
        if r is not None:
            self.fault = r
            self.safe()
            self.ctl.reset()
            return
        if sp is None or temp is None:
            if sp is None:
                self.ctl.reset()
            self.safe()
            return
        d = self.ctl.step(now_ms, sp, temp)
        if d > self.max_duty:
            d = self.max_duty
        elif d < 0.0:
            d = 0.0
        self.duty = d
        self.pwm.duty_u16(int(d * 65535 + 0.5))

    def status(self):
        return {
            "target": self.target, "temp": self.temp, "duty": self.duty,
            "fault": self.fault[0] if self.fault else None,
        }
