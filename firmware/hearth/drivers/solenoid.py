# Release actuators that are not servos.
#
# Solenoid: a spring-return solenoid pulls the bolt open while energised; the spring
# locks it when the current stops, so off is the safe state. Driven from a hal.Pwm
# (created here at duty 0, so boot never energises it) with hit-and-hold: full pull
# duty for pull_ms, then hold duty. The driver enforces, whatever it is told:
#   * max_on_ms: energised longer than this is switched off and `tripped` is set;
#     it stays off until a "lock" command and the cool-down are over;
#   * a duty limit: after an on-time T it stays off for
#     max(min_off_ms, T * (100 - max_duty_pct) / max_duty_pct);
#   * duty values capped at 100 %.
#
#   Solenoid(make_pwm, pin, config=None)
#     config: freq 1000, pull_pct 100, hold_pct 40, pull_ms 150, max_on_ms 2000,
#             max_duty_pct 25, min_off_ms 500
#   .command(cmd, now_ms)  "open" energises (if allowed), anything else de-energises
#   .step(now_ms)          hit -> hold, max on-time, cool-down; call every tick
#   .safe()                off; never raises, never allocates
#   .on  .tripped  .trips
#
# EPM: an electro-permanent magnet holds the payload with no current; a short pulse
# one way magnetises it (hold), the other way demagnetises it (release). Two outputs
# (H-bridge inputs), both low between pulses: safe() is "no pulse", and the magnet
# keeps whatever state it had, which is the hold. The driver never drives both, caps
# the pulse length and keeps min_interval_ms between pulses (a pulse asked too soon is
# deferred, not dropped). It pulses when the command changes, or when the latch's
# motion_seq changes (a regrab re-magnetises although the command stays "lock").
#
#   Epm(make_output, pin_mag, pin_demag, config=None)
#     config: pulse_ms 30, max_pulse_ms 100, min_interval_ms 1000
#   .command(cmd, now_ms, seq=0)   "open" -> demagnetise pulse, else magnetise pulse
#   .step(now_ms)    ends pulses, starts a deferred one
#   .safe()          both outputs low now (cancels a pulse and a deferred one)
#   .magnetised      True / False / None (unknown before the first pulse)
from hearth.ticks import ticks_add, ticks_diff


SOLENOID_DEFAULTS = {"freq": 1000, "pull_pct": 100, "hold_pct": 40, "pull_ms": 150, "max_on_ms": 2000,
                     "max_duty_pct": 25, "min_off_ms": 500}


class Solenoid:
    @staticmethod
    def from_board(pins, section):
        # The latch's release solenoid on pin "solenoid", its limits from the latch section.
        return Solenoid(pins.pwm, "solenoid", {
            "pull_ms": section["solenoid_pull_ms"], "max_on_ms": section["solenoid_max_on_ms"],
            "hold_pct": section["solenoid_hold_pct"], "max_duty_pct": section["solenoid_max_duty_pct"]})

    def __init__(self, make_pwm, pin, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        cfg = merge(SOLENOID_DEFAULTS, config, "solenoid")
        for k in ("pull_pct", "hold_pct", "max_duty_pct"):
            if not 0 < cfg[k] <= 100:
                raise ValueError("solenoid %s must be 1..100" % k)
        if cfg["hold_pct"] > cfg["pull_pct"]:
            raise ValueError("solenoid hold_pct > pull_pct")
        if not 0 < cfg["pull_ms"] <= cfg["max_on_ms"]:
            raise ValueError("solenoid pull_ms must be 1..max_on_ms")
        self.cfg = cfg
        self._d_pull = cfg["pull_pct"] * 65535 // 100
        self._d_hold = cfg["hold_pct"] * 65535 // 100
        self.on = False
        self._holding = False
        self.tripped = False
        self.trips = 0
        self._t_on = 0
        self._t_free = None  # earliest time it may energise again
        self.pwm = make_pwm(pin, cfg["freq"], 0)

    def _off(self, now):
        if self.on:
            on_ms = ticks_diff(now, self._t_on)
            md = self.cfg["max_duty_pct"]
            cool = on_ms * (100 - md) // md
            if cool < self.cfg["min_off_ms"]:
                cool = self.cfg["min_off_ms"]
            self._t_free = ticks_add(now, cool)
        self.on = False
        self._holding = False
        self.pwm.duty_u16(0)

    def command(self, cmd, now):
        if cmd != "open":
            self._off(now)
            self.tripped = False
            return
        if self.on or self.tripped:
            return
        if self._t_free is not None and ticks_diff(now, self._t_free) < 0:
            return  # cooling down: stays off (the latch's verified motion sees it)
        self.on = True
        self._holding = False
        self._t_on = now
        self.pwm.duty_u16(self._d_pull)

    def step(self, now):
        if not self.on:
            return
        el = ticks_diff(now, self._t_on)
        if el >= self.cfg["max_on_ms"]:
            self._off(now)
            self.tripped = True
            self.trips += 1
        elif not self._holding and el >= self.cfg["pull_ms"]:
            self._holding = True
            self.pwm.duty_u16(self._d_hold)

    def safe(self):
        try:
            self.on = False
            self._holding = False
            self.pwm.duty_u16(0)
        except Exception:  # noqa: BLE001 - safe() never raises
            pass


EPM_DEFAULTS = {"pulse_ms": 30, "max_pulse_ms": 100, "min_interval_ms": 1000}


class Epm:
    @staticmethod
    def from_board(pins, section):
        # The latch's EPM on pins "epm_mag"/"epm_demag", its pulse from the latch section.
        return Epm(pins.output, "epm_mag", "epm_demag", {"pulse_ms": section["epm_pulse_ms"]})

    def __init__(self, make_output, pin_mag, pin_demag, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        cfg = merge(EPM_DEFAULTS, config, "epm")
        if not 0 < cfg["pulse_ms"] <= cfg["max_pulse_ms"]:
            raise ValueError("epm pulse_ms must be 1..max_pulse_ms")
        self.cfg = cfg
        self.mag = make_output(pin_mag, 0)
        self.demag = make_output(pin_demag, 0)
        self.magnetised = None
        self.pulsing = None  # None, "lock" or "open"
        self._t_pulse = 0
        self._t_last = None  # end of the last pulse
        self._want = None  # deferred pulse
        self._cmd = None
        self._seq = None
        self.pulses = 0

    def command(self, cmd, now, seq=0):
        cmd = "open" if cmd == "open" else "lock"
        if cmd == self._cmd and seq == self._seq:
            return
        self._cmd = cmd
        self._seq = seq
        self._want = cmd
        self.step(now)

    def _start(self, cmd, now):
        self.mag.value(0)
        self.demag.value(0)
        if cmd == "open":
            self.demag.value(1)
        else:
            self.mag.value(1)
        self.pulsing = cmd
        self._t_pulse = now
        self.pulses += 1

    def _end(self, now):
        self.mag.value(0)
        self.demag.value(0)
        self.magnetised = self.pulsing == "lock"
        self.pulsing = None
        self._t_last = now

    def step(self, now):
        if self.pulsing is not None:
            if ticks_diff(now, self._t_pulse) >= self.cfg["pulse_ms"]:
                self._end(now)
            else:
                return
        if self._want is None:
            return
        if self._t_last is not None and ticks_diff(now, self._t_last) < self.cfg["min_interval_ms"]:
            return
        cmd = self._want
        self._want = None
        self._start(cmd, now)

    def safe(self):
        try:
            self.mag.value(0)
            self.demag.value(0)
            self.pulsing = None
            self._want = None
        except Exception:  # noqa: BLE001 - safe() never raises
            pass
