# Hobby servo on a hal.Pwm at 50 Hz: the bolt of the payload latch.
#
# The Pwm is created by this driver with its frequency and the *locked* pulse already
# set (hal.Pwm(pin, freq, duty_u16)), so the first edge on the pin is a lock pulse:
# no 5 kHz / 50 % glitch, no twitch towards open at boot. `make_pwm` is injected
# (hal.Pwm on the board and in the host build, a fake in tests).
#
#   Servo(make_pwm, pin, config=None)
#     config: freq 50 (Hz, 40..400), locked_us 1000, open_us 2000, min_us 500,
#             max_us 2500 (pulses outside min..max refused at construction)
#   .command(cmd)   "lock" / "open" (anything else is "lock")
#   .lock() .open() .safe()   safe() == lock; never raises, never allocates
#   .position       "lock" / "open": last command
#   .pulse_us(us)   raw pulse, clamped to min..max (calibration on the bench)

DEFAULTS = {"freq": 50, "locked_us": 1000, "open_us": 2000, "min_us": 500, "max_us": 2500}


def duty_for_us(us, freq):
    # duty_u16 for a pulse of `us` microseconds at `freq` Hz (integer maths, rounded)
    d = (us * freq * 65536 + 500000) // 1000000
    return 65535 if d > 65535 else d


class Servo:
    @staticmethod
    def from_board(pins, section):
        # The latch's servo from its own keys: pulses from the config section (latch),
        # the travel limits from the board file's limits (the servo fitted).
        lim = pins.board.get("limits") or {}
        return Servo(pins.pwm, "servo", {
            "locked_us": section["servo_locked_us"], "open_us": section["servo_open_us"],
            "min_us": lim.get("servo_min_us", 500), "max_us": lim.get("servo_max_us", 2500)})

    def __init__(self, make_pwm, pin, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        cfg = merge(DEFAULTS, config, "servo")
        f = cfg["freq"]
        if not 40 <= f <= 400:
            raise ValueError("servo freq must be 40..400 Hz")
        lo = cfg["min_us"]
        hi = cfg["max_us"]
        period_us = 1000000 // f
        if not 0 < lo < hi < period_us:
            raise ValueError("servo min_us/max_us invalid for %d Hz" % f)
        for k in ("locked_us", "open_us"):
            if not lo <= cfg[k] <= hi:
                raise ValueError("servo %s outside min_us..max_us" % k)
        if cfg["locked_us"] == cfg["open_us"]:
            raise ValueError("servo locked_us == open_us")
        self.cfg = cfg
        self._d_lock = duty_for_us(cfg["locked_us"], f)
        self._d_open = duty_for_us(cfg["open_us"], f)
        self.position = "lock"
        self.pwm = make_pwm(pin, f, self._d_lock)

    def command(self, cmd):
        if cmd == "open":
            self.open()
        else:
            self.lock()

    def lock(self):
        self.position = "lock"
        self.pwm.duty_u16(self._d_lock)

    def open(self):
        self.position = "open"
        self.pwm.duty_u16(self._d_open)

    def safe(self):
        try:
            self.position = "lock"
            self.pwm.duty_u16(self._d_lock)
        except Exception:  # noqa: BLE001 - safe() never raises
            pass

    def pulse_us(self, us):
        c = self.cfg
        us = c["min_us"] if us < c["min_us"] else c["max_us"] if us > c["max_us"] else us
        self.pwm.duty_u16(duty_for_us(us, c["freq"]))
        return us

    def duty(self):
        return self.pwm.duty_u16()
