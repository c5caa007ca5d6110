# Latch drivers (servo, solenoid, EPM, switch, HX711 / presence) and the latch plant,
# on the simulated HAL.
from hearth import hal
from hearth.hal import sim
from hearth.drivers.servo import Servo, duty_for_us
from hearth.drivers.solenoid import Solenoid, Epm
from hearth.drivers.switch import Switch
from hearth.drivers.loadcell import Hx711, Presence
from hearth.control.latch import Latch
from hearth.control import latch as L
# The plant (host_tools/sim/plants, shared with the virtual board) is on MICROPYPATH.
from plants.latch import LatchPlant, attach

SERVO, LOCK_SW, OPEN_SW, HX_CLK, HX_DOUT, PRESENCE = 25, 34, 35, 26, 36, 39


def _record_pwm():
    w = sim.world
    log = []
    orig = w.set_pwm

    def rec(pin, f, d, t=None):
        log.append((pin, f, d))
        orig(pin, f, d, t)

    w.set_pwm = rec
    return log


def test_servo_created_locked_no_glitch():
    log = _record_pwm()
    s = Servo(hal.Pwm, SERVO)
    lock = duty_for_us(1000, 50)
    assert log == [(SERVO, 50, lock)]
    assert sim.world.pwm[SERVO] == (50, lock)
    assert lock == 3277 and duty_for_us(2000, 50) == 6554
    s.command("open")
    assert sim.world.pwm[SERVO] == (50, 6554) and s.position == "open"
    s.safe()
    assert sim.world.pwm[SERVO] == (50, lock) and s.position == "lock"
    s.command("bogus")
    assert sim.world.pwm[SERVO] == (50, lock)


def test_servo_config_checked():
    for cfg in ({"locked_us": 3000}, {"open_us": 100}, {"freq": 1000}, {"min_us": 2600},
                {"locked_us": 1500, "open_us": 1500}, {"pulse": 1}):
        try:
            Servo(hal.Pwm, SERVO, cfg)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % cfg)
    s = Servo(hal.Pwm, SERVO, {"locked_us": 2100, "open_us": 900})
    assert sim.world.pwm[SERVO] == (50, duty_for_us(2100, 50))
    assert s.pulse_us(5000) == 2500


def test_servo_refuses_strapping_pin():
    try:
        Servo(hal.Pwm, 2)
    except ValueError:
        return
    raise AssertionError("strapping pin accepted")


def test_solenoid_hit_hold_and_max_on():
    s = Solenoid(hal.Pwm, 27, {"max_on_ms": 1000, "pull_ms": 100, "hold_pct": 40, "max_duty_pct": 25})
    assert sim.world.pwm[27] == (1000, 0)
    s.command("open", 0)
    assert sim.world.pwm[27][1] == 65535
    s.step(99)
    assert sim.world.pwm[27][1] == 65535
    s.step(100)
    assert sim.world.pwm[27][1] == 40 * 65535 // 100
    s.command("open", 500)  # repeated open: no restart of the on-timer
    s.step(1000)
    assert sim.world.pwm[27][1] == 0 and s.tripped and s.trips == 1
    s.command("open", 1100)  # tripped: stays off until a lock command
    assert sim.world.pwm[27][1] == 0
    s.command("lock", 1200)
    s.command("open", 1300)  # cool-down 3 x 1000 ms after 1000 ms on
    assert sim.world.pwm[27][1] == 0
    s.command("open", 4000)
    assert sim.world.pwm[27][1] == 65535
    s.safe()
    assert sim.world.pwm[27][1] == 0 and not s.on


def test_epm_pulses_and_spacing():
    e = Epm(hal.Output, 32, 33, {"pulse_ms": 30, "min_interval_ms": 500})
    w = sim.world
    assert w.outputs[32] == 0 and w.outputs[33] == 0
    e.command("lock", 0, 1)
    assert w.outputs[32] == 1 and w.outputs[33] == 0
    e.command("lock", 10, 1)  # same command, same seq: nothing new
    e.step(30)
    assert w.outputs[32] == 0 and e.magnetised is True and e.pulses == 1
    e.command("open", 100, 2)  # too soon after the last pulse: deferred
    assert w.outputs[33] == 0
    e.step(530)
    assert w.outputs[33] == 1 and w.outputs[32] == 0
    e.safe()
    assert w.outputs[32] == 0 and w.outputs[33] == 0
    e.command("lock", 2000, 3)
    assert w.outputs[32] == 1
    e.step(2030)
    e.command("lock", 3000, 4)  # a regrab: new motion_seq re-pulses
    assert w.outputs[32] == 1 and e.pulses == 4


def test_switch_debounce():
    sim.world.inputs[34] = 0
    s = Switch(hal.Input(34), {"debounce_ms": 20})
    assert s.step(0) is False
    sim.world.inputs[34] = 1
    assert s.step(5) is False
    sim.world.inputs[34] = 0
    assert s.step(10) is False
    sim.world.inputs[34] = 1
    assert s.step(15) is False
    assert s.step(34) is False
    assert s.step(35) is True and s.changes == 1
    a = Switch(hal.Input(35), {"active_low": True})
    sim.world.inputs[35] = 0
    assert a.step(0) is True


def test_presence_hysteresis_and_debounce():
    p = Presence({"on_g": 150, "off_g": 80, "debounce_ms": 100})
    assert p.step(0, 0) is False
    assert p.step(10, 200) is False
    assert p.step(109, 200) is False
    assert p.step(110, 200) is True
    assert p.step(200, 100) is True  # between thresholds: stays present
    assert p.step(300, None) is True
    assert p.step(310, 50) is True
    assert p.step(410, 50) is False


def _plant(payload_g=500, **cfg):
    w = sim.world
    return attach(w, LatchPlant(w, SERVO, LOCK_SW, OPEN_SW, HX_CLK, HX_DOUT, PRESENCE,
                                dict(payload_g=payload_g, **cfg)))


def test_hx711_bitbang_against_plant():
    pl = _plant(500, conv_ms=50)
    hx = Hx711(hal.Output(HX_CLK, 0), hal.Input(HX_DOUT), {"counts_per_g": 420})
    hal.sleep_ms(1)
    raw = hx.read_raw()
    assert raw == 8000 + 500 * 420
    assert hx.read_raw() is None  # next conversion not ready yet
    hal.sleep_ms(60)
    hx.tare(hx.read_raw() - 500 * 420)
    assert hx.offset == 8000
    pl.load(1234)
    hal.sleep_ms(60)
    assert hx.grams(hx.read_raw()) == 1234
    assert pl.hx_reads == 3


def test_hx711_negative_and_saturated():
    pl = _plant(0, offset=-1000)
    hx = Hx711(hal.Output(HX_CLK, 0), hal.Input(HX_DOUT), {"gain": 64})
    hal.sleep_ms(1)
    assert hx.read_raw() == -1000
    pl.cfg["offset"] = 0x7FFFFF
    hal.sleep_ms(200)
    assert hx.saturated(hx.read_raw())


class Board:
    # the latch shell in miniature: drivers + latch, stepped every 10 ms
    def __init__(self, latch_cfg=None):
        self.servo = Servo(hal.Pwm, SERVO)
        self.lock_sw = Switch(hal.Input(LOCK_SW))
        self.open_sw = Switch(hal.Input(OPEN_SW))
        self.hx = Hx711(hal.Output(HX_CLK, 0), hal.Input(HX_DOUT), {"offset": 8000})
        self.presence = Presence({"debounce_ms": 100})
        self.latch = Latch(latch_cfg)
        self.latch.set_link(True)
        self.opened_at = []

    def tick(self):
        now = hal.ticks_ms()
        raw = self.hx.read_raw()
        g = self.hx.grams(raw) if raw is not None else None
        cmd = self.latch.step(now, self.lock_sw.step(now), self.open_sw.step(now),
                              self.presence.step(now, g))
        self.servo.command(cmd)
        if cmd == "open":
            self.opened_at.append(now)
        hal.sleep_ms(10)

    def run(self, ms):
        for _ in range(ms // 10):
            self.tick()


def test_plant_end_to_end_release_and_auto_close():
    pl = _plant(500)
    b = Board({"auto_close_ms": 1000})
    b.run(500)
    assert b.latch.state == L.LOCKED and b.latch.present is True and b.opened_at == []
    assert b.latch.request_release(hal.ticks_ms(), "host") == (False, "armed")
    b.latch.arm(hal.ticks_ms())
    assert b.latch.request_release(hal.ticks_ms(), "host") == (True, "ok")
    b.run(400)
    assert b.latch.state == L.OPEN and pl.dropped and pl.payload_g == 0
    b.run(1500)
    assert b.latch.state == L.LOCKED and pl.pos == 0
    assert b.latch.present is False


def test_plant_jam_faults_locked():
    pl = _plant(500)
    b = Board({"release_timeout_ms": 800})
    b.run(300)
    pl.jam(True)
    b.latch.arm(hal.ticks_ms())
    b.latch.request_release(hal.ticks_ms(), "host")
    b.run(1000)
    assert b.latch.state == L.FAULT and b.latch.fault == "jam"
    assert sim.world.pwm[SERVO][1] == duty_for_us(1000, 50)
    assert pl.payload_g == 500 and not pl.dropped


def test_plant_slip_regrab():
    pl = _plant(500)
    b = Board()
    b.run(500)
    b.latch.arm(hal.ticks_ms())
    pl.slip()
    b.run(500)
    kinds = []
    e = b.latch.pop_event()
    while e is not None:
        kinds.append(e[1])
        e = b.latch.pop_event()
    assert "slip" in kinds
    assert b.latch.state == L.LOCKED and b.latch.regrabs == 1 and b.opened_at == []


def test_plant_servo_unpowered_stays_put():
    pl = _plant(0)
    s = Servo(hal.Pwm, SERVO)
    s.open()
    hal.sleep_ms(100)
    p = pl.pos
    assert 0 < p < 1000
    s.pwm.deinit()
    hal.sleep_ms(500)
    assert pl.pos == p


def test_drivers_read_their_own_sections_from_the_board():
    # from_board(pins, section): each driver takes its own keys (latch section names,
    # board limits and pins) and gets pins made through the board's Pins, never hal.
    from hearth.pinout import Pins

    board = {"pins": {"servo": 25, "solenoid": 26, "epm_mag": 18, "epm_demag": 19, "bolt_locked_sw": 27,
                      "hx711_sck": 4, "hx711_dout": 5},
             "pulls": {"bolt_locked_sw": "up", "hx711_dout": "external"},
             "limits": {"servo_min_us": 800, "servo_max_us": 2200}}
    made = []

    class FakeHal:
        def Pwm(self, pin, f, d):
            made.append(("pwm", pin, f, d))
            return sim.Pwm(pin, f, d)

        def Output(self, pin, level):
            made.append(("out", pin, level))
            return sim.Output(pin, level)

        def Input(self, pin, pull):
            made.append(("in", pin, pull))
            return sim.Input(pin, pull)

    pins = Pins(FakeHal(), board)
    sec = {"servo_locked_us": 900, "servo_open_us": 2100, "solenoid_pull_ms": 100, "solenoid_max_on_ms": 900,
           "solenoid_hold_pct": 30, "solenoid_max_duty_pct": 20, "epm_pulse_ms": 40, "switch_debounce_ms": 35,
           "switches_active_low": True, "loadcell_counts_per_g": 300, "loadcell_offset": -5,
           "loadcell_on_g": 120, "loadcell_off_g": 60}
    s = Servo.from_board(pins, sec)
    assert made[-1] == ("pwm", 25, 50, duty_for_us(900, 50))  # born locked
    assert s.cfg["min_us"] == 800 and s.cfg["max_us"] == 2200 and s.cfg["open_us"] == 2100
    try:
        Servo.from_board(pins, dict(sec, servo_open_us=2300))  # beyond the board's servo limits
    except ValueError:
        pass
    else:
        raise AssertionError("servo beyond the board's limits accepted")
    so = Solenoid.from_board(pins, sec)
    assert made[-1][:2] == ("pwm", 26) and made[-1][3] == 0
    assert so.cfg["pull_ms"] == 100 and so.cfg["max_on_ms"] == 900 and so.cfg["max_duty_pct"] == 20
    e = Epm.from_board(pins, sec)
    assert made[-2:] == [("out", 18, 0), ("out", 19, 0)] and e.cfg["pulse_ms"] == 40
    w = Switch.from_board(pins, "bolt_locked_sw", sec)
    assert made[-1] == ("in", 27, "up") and w.debounce_ms == 35 and w.active_low
    hx = Hx711.from_board(pins, sec)
    assert made[-2:] == [("out", 4, 0), ("in", 5, None)]
    assert hx.counts_per_g == 300 and hx.offset == -5
    pr = Presence.from_board(pins, sec)
    assert pr.on_g == 120 and pr.off_g == 60
