# Heater shell on the simulated HAL: real Pwm/Adc, the plant behind world.hooks,
# fault injection (thermistor open/short, heater open, heater stuck on) with
# detection times, and healthy runs that must never trip.


from plants import heater as heatplant  # noqa: E402
from hearth.hal import sim  # noqa: E402
from hearth.control.pid import ModelPid, Pid  # noqa: E402
from hearth.control.thermal import ThermalProtection  # noqa: E402
from hearth.drivers.heater import Heater  # noqa: E402
from hearth.drivers.thermistor import Thermistor  # noqa: E402

PWM_PIN = 26
ADC_PIN = 34


def _model_cfg(preset):
    p = heatplant.PRESETS[preset]
    return {"power_w": p["power_w"] * 0.95, "mass_j_k": p["mass_j_k"] * 1.1, "loss_w_k": p["loss_w_k"] * 0.85,
            "core_j_k": p["core_j_k"], "core_w_k": p["core_w_k"],
            "sensor_s": p["sensor_s"] + p["delay_s"], "ambient_c": p["ambient_c"]}


class Rig:
    def __init__(self, preset="nozzle20", prot=None, ctl=None):
        w = sim.world
        self.plant = heatplant.HeaterPlant(preset)
        self.ntc = heatplant.NtcAdc()
        w.hooks.append(heatplant.WorldHook(w, self.plant, self.ntc, PWM_PIN, ADC_PIN))
        self.pwm = sim.Pwm(PWM_PIN, 10, 0)
        self.therm = Thermistor(sim.Adc(ADC_PIN))
        self.ctl = ctl or ModelPid(_model_cfg(preset))
        self.heater = Heater(self.pwm, self.therm, self.ctl, ThermalProtection(prot))

    def run(self, seconds, step_ms=10):
        # a 10 ms superloop; the heater runs its 100 ms period inside
        h = self.heater
        for _ in range(int(seconds * 1000 / step_ms)):
            sim.world.advance_us(step_ms * 1000)
            h.tick(sim.ticks_ms())
            if h.fault is not None:
                return h.fault
        return None

    def duty_u16(self):
        return sim.world.pwm[PWM_PIN][1]


def test_starts_off_and_safe_never_raises():
    r = Rig()
    assert sim.world.pwm[PWM_PIN] == (10, 0)
    r.run(5)
    assert r.duty_u16() == 0  # no target: off

    class Broken:
        def duty_u16(self, d=None):
            raise OSError("bus")
    h = Heater(Broken(), r.therm, Pid(), ThermalProtection())
    h.safe()
    h.set_target(32.0)
    h.tick(0)  # must not raise either
    assert h.duty == 0.0


def test_control_runs_every_100ms_from_a_10ms_loop():
    r = Rig()
    r.heater.set_target(32.0)
    calls = []
    step = r.ctl.step

    def spy(now_ms, sp, t):
        calls.append(now_ms)
        return step(now_ms, sp, t)
    r.ctl.step = spy
    r.run(2)
    assert len(calls) in (19, 20, 21), len(calls)
    assert calls[1] - calls[0] == 100


def test_heats_up_and_holds_32_within_half_a_degree():
    r = Rig()
    r.heater.set_target(32.0)
    assert r.run(60) is None
    worst = 0.0
    for _ in range(60):
        assert r.run(1) is None
        worst = max(worst, abs(r.plant.temp - 32.0))
    assert worst < 0.5, worst
    assert abs(r.heater.temp - 32.0) < 0.5
    st = r.heater.status()
    assert st["target"] == 32.0 and st["fault"] is None


def test_setpoint_changes_draught_and_heater_off_never_trip():
    r = Rig("nozzle40")
    for sp in (32.0, 65.0, 45.0, 29.0, 34.0):
        r.heater.set_target(sp)
        # falls are passive cooling (time constant ~6 min): give them time
        assert r.run(150 if sp in (32.0, 65.0, 34.0) else 420) is None, (sp, r.heater.fault)
        assert abs(r.plant.temp - sp) < 0.5, (sp, r.plant.temp)
    r.plant.draught_w_k = 0.12
    assert r.run(120) is None
    assert abs(r.plant.temp - 34.0) < 0.5
    r.heater.set_target(None)
    assert r.run(60) is None
    assert r.duty_u16() == 0


BLOCK_PROT = {"watch_s": 20.0, "stuck_grace_s": 10.0}


def _hold_then(preset, fault, sp=32.0, prot=None):
    if prot is None and preset == "block":
        prot = BLOCK_PROT
    r = Rig(preset, prot)
    r.heater.set_target(sp)
    assert r.run(150) is None
    t0 = sim.ticks_ms()
    if fault in ("open", "short"):
        r.ntc.fault = fault
    elif fault == "heater_open":
        r.plant.heater_open = True
    elif fault == "stuck_on":
        r.plant.stuck_on = True
    f = r.run(120)
    assert f is not None, fault
    return r, f, sim.ticks_ms() - t0


def test_thermistor_open_and_short_trip_within_one_second():
    for fault, code in (("open", "sensor_open"), ("short", "sensor_short")):
        for preset in ("nozzle20", "nozzle40", "block"):
            sim.world.reset()
            r, f, ms = _hold_then(preset, fault)
            assert f[0] == code, f
            assert ms <= 1000, (fault, preset, ms)
            assert r.duty_u16() == 0
            assert r.heater.duty == 0.0


def test_fault_latches_until_cleared():
    r, f, ms = _hold_then("nozzle20", "open")
    r.ntc.fault = None
    assert r.run(5) is not None  # still latched, heater still off
    assert r.duty_u16() == 0
    r.heater.clear_fault()
    assert r.heater.target is None  # clearing never re-arms the heater by itself
    assert r.run(2) is None
    r.heater.set_target(32.0)
    assert r.run(60) is None
    assert r.duty_u16() >= 0


def test_heater_open_during_heat_up_trips_within_ten_seconds():
    for preset, prot, limit in (("nozzle20", None, 10000), ("nozzle40", None, 10000),
                                ("block", BLOCK_PROT, 25000)):
        sim.world.reset()
        r = Rig(preset, prot)
        r.plant.heater_open = True
        r.heater.set_target(45.0)
        f = r.run(60)
        assert f is not None and f[0] == "heating_failed", (preset, f)
        assert sim.ticks_ms() <= limit, (preset, sim.ticks_ms())
        assert r.duty_u16() == 0


def test_heater_stuck_on_trips_within_ten_seconds():
    for preset in ("nozzle20", "nozzle40"):
        sim.world.reset()
        r, f, ms = _hold_then(preset, "stuck_on")
        assert f[0] == "stuck_on", (preset, f)
        assert ms <= 10000, (preset, ms)


def test_heater_open_while_holding_is_found():
    r, f, ms = _hold_then("nozzle20", "heater_open", sp=45.0)
    assert f[0] == "heating_failed", f
    assert ms <= 30000, ms


def test_controller_exception_turns_heater_off():
    class Bad:
        def step(self, now_ms, sp, t):
            raise ValueError("boom")

        def reset(self):
            pass
    r = Rig(ctl=Bad())
    r.heater.set_target(32.0)
    f = r.run(1)
    assert f is not None and f[0] == "heater_error"
    assert r.duty_u16() == 0
