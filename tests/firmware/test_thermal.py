# Thermal protection: each check on synthetic inputs, then on the plant models with
# the controller in the loop (faults found in time, healthy runs never trip).


from plants import heater as heatplant  # noqa: E402
from hearth.control import thermal  # noqa: E402
from hearth.control.thermal import ThermalProtection  # noqa: E402
from hearth.control.pid import ModelPid  # noqa: E402


def _model_cfg(preset):
    p = heatplant.PRESETS[preset]
    return {"power_w": p["power_w"] * 0.95, "mass_j_k": p["mass_j_k"] * 1.1, "loss_w_k": p["loss_w_k"] * 0.85,
            "core_j_k": p["core_j_k"], "core_w_k": p["core_w_k"],
            "sensor_s": p["sensor_s"] + p["delay_s"], "ambient_c": p["ambient_c"]}


class Loop:
    # controller + protection + plant, 100 ms period, sensor noise
    def __init__(self, preset="nozzle20", prot=None):
        self.plant = heatplant.HeaterPlant(preset)
        self.ctl = ModelPid(_model_cfg(preset))
        self.prot = ThermalProtection(prot)
        self.rng = heatplant.Lcg(11)
        self.ms = 0
        self.duty = 0.0
        self.sp = None
        self.fault = None

    def run(self, seconds, stop_on_fault=True):
        for _ in range(int(seconds * 10)):
            self.plant.step(0.1, self.duty)
            self.ms += 100
            temp = self.plant.sensor_temp + 0.03 * self.rng.uniform()
            r = self.prot.step(self.ms, self.sp, temp, self.duty, None)
            if r is not None:
                self.fault = r
                self.duty = 0.0
                if stop_on_fault:
                    return r
                continue
            self.duty = self.ctl.step(self.ms, self.sp, temp) if self.sp else 0.0
        return None


def test_sensor_fault_passes_at_once_and_latches():
    p = ThermalProtection()
    assert p.step(0, 32.0, 30.0, 0.5, None) is None
    r = p.step(100, 32.0, None, 0.5, "sensor_open")
    assert r is not None and r[0] == "sensor_open"
    assert p.step(200, 32.0, 30.0, 0.0, None) is r  # latched
    p.reset()
    assert p.step(300, 32.0, 30.0, 0.0, None) is None


def test_no_reading_for_a_second_is_sensor_lost():
    p = ThermalProtection()
    p.step(0, 32.0, 30.0, 0.5, None)
    ms = 0
    r = None
    while r is None:
        ms += 100
        r = p.step(ms, 32.0, None, 0.5, None)
    assert r[0] == thermal.SENSOR_LOST and ms <= 1000


def test_min_and_max_temperature():
    p = ThermalProtection({"min_c": 5.0, "max_c": 80.0})
    assert p.step(0, 32.0, 79.9, 0.0, None) is None
    assert p.step(100, 32.0, 80.1, 0.0, None)[0] == thermal.MAX_TEMP
    p.reset()
    assert p.step(0, None, 4.0, 0.0, None)[0] == thermal.MIN_TEMP


def test_unknown_key_refused():
    try:
        ThermalProtection({"max_temp": 5})
    except ValueError:
        return
    raise AssertionError("accepted an unknown key")


def test_runaway_integrates_error_after_reaching_the_setpoint():
    p = ThermalProtection({"hyst_c": 1.0, "max_error_cs": 10.0, "watch_duty": 2.0})
    ms = 0
    assert p.step(ms, 50.0, 30.0, 1.0, None) is None  # far below: approaching, not runaway
    for _ in range(100):
        ms += 100
        assert p.step(ms, 50.0, 30.0, 1.0, None) is None
    ms += 100
    assert p.step(ms, 50.0, 49.5, 0.3, None) is None  # settled
    r = None
    t0 = ms
    while r is None and ms - t0 < 60000:
        ms += 100
        r = p.step(ms, 50.0, 47.0, 0.3, None)  # 2 C beyond the band: 10 C.s in 5 s
    assert r is not None and r[0] == thermal.RUNAWAY
    assert 4900 <= ms - t0 <= 5200


def test_heating_watch_on_synthetic_flat_temperature():
    p = ThermalProtection({"watch_s": 8.0, "watch_gain_c": 0.5})
    ms = 0
    r = None
    while r is None:
        ms += 100
        r = p.step(ms, 45.0, 22.0, 1.0, None)
        assert ms < 9000
    assert r[0] == thermal.HEATING_FAILED and ms >= 8000
    # counted in full-power seconds: half duty takes twice as long
    p = ThermalProtection({"watch_s": 8.0})
    ms = 0
    r = None
    while r is None:
        ms += 100
        r = p.step(ms, 45.0, 22.0, 0.5, None)
        assert ms < 17000
    assert ms >= 16000
    # gains restart the count; low duty does not count
    p = ThermalProtection({"watch_s": 8.0})
    for i in range(600):
        assert p.step(i * 100, 45.0, 22.0 + 0.01 * i, 1.0, None) is None
        assert p.step(60000 + i * 100, 45.0, 22.0, 0.2, None) is None


def test_healthy_heat_ups_setpoint_changes_and_draughts_never_trip():
    for preset in ("nozzle20", "nozzle40"):
        lp = Loop(preset)
        for sp in (32.0, 45.0, 65.0, 34.0, 29.0, 45.0, 32.0):
            lp.sp = sp
            assert lp.run(240) is None, (preset, sp, lp.fault)
        lp.plant.draught_w_k = lp.plant.loss_w_k  # twice the loss
        assert lp.run(120) is None, lp.fault
        lp.plant.draught_w_k = 0.0
        assert lp.run(120) is None, lp.fault
        lp.sp = None  # heater off from 32 C: cools, no trip
        assert lp.run(120) is None, lp.fault
    lp = Loop("block", {"watch_s": 20.0, "stuck_grace_s": 10.0})
    for sp in (65.0, 32.0, 45.0):
        lp.sp = sp
        assert lp.run(900) is None, ("block", sp, lp.fault)


def test_heater_open_during_heat_up():
    lp = Loop("nozzle20")
    lp.plant.heater_open = True
    lp.sp = 45.0
    r = lp.run(60)
    assert r is not None and r[0] == thermal.HEATING_FAILED
    assert lp.ms <= 10000, lp.ms


def test_heater_open_while_holding():
    lp = Loop("nozzle20")
    lp.sp = 32.0
    assert lp.run(120) is None
    t0 = lp.ms
    lp.plant.heater_open = True
    r = lp.run(120)
    assert r is not None and r[0] == thermal.HEATING_FAILED
    # the temperature only sags ~0.03 C/s at 32 C and the controller must first see
    # it: slower than in a heat-up, but bounded
    print("heater open while holding: %d ms" % (lp.ms - t0))
    assert lp.ms - t0 <= 40000, lp.ms - t0


def test_stuck_on_while_holding_and_after_heat_off():
    for preset in ("nozzle20", "nozzle40"):
        lp = Loop(preset)
        lp.sp = 32.0
        assert lp.run(120) is None
        t0 = lp.ms
        lp.plant.stuck_on = True
        r = lp.run(60)
        assert r is not None and r[0] == thermal.STUCK_ON, (preset, r)
        assert lp.ms - t0 <= 10000, (preset, lp.ms - t0)
    lp = Loop("nozzle20")
    lp.sp = None
    lp.plant.stuck_on = True  # heater meant to be off, relay welded
    r = lp.run(60)
    assert r is not None and r[0] == thermal.STUCK_ON
    assert lp.ms <= 10000


def _model_prot(preset, extra=None):
    c = {}
    m = _model_cfg(preset)
    for k in ("power_w", "mass_j_k", "core_j_k", "core_w_k", "loss_w_k", "sensor_s", "ambient_c"):
        c[k] = m[k]
    if extra:
        c.update(extra)
    return c


class ModelLoop(Loop):
    # the role's set-up: controller with its disturbance estimate, protection with
    # its own copy of the (imperfect) model
    def __init__(self, preset="nozzle20", extra=None):
        Loop.__init__(self, preset, _model_prot(preset, extra))
        cfg = _model_cfg(preset)
        cfg["dist_rate"] = 0.3
        self.ctl = ModelPid(cfg)


def test_model_checks_find_an_open_heater_while_holding_within_ten_seconds():
    for preset, sp in (("nozzle20", 32.0), ("nozzle40", 32.0), ("nozzle20", 65.0)):
        lp = ModelLoop(preset)
        lp.sp = sp
        assert lp.run(240) is None, (preset, lp.fault)
        t0 = lp.ms
        lp.plant.heater_open = True
        r = lp.run(60)
        assert r is not None and r[0] == thermal.HEATING_FAILED, (preset, r)
        assert "delivered_w" in r[1]
        assert lp.ms - t0 <= 11000, (preset, sp, lp.ms - t0)


def test_model_checks_stuck_on_within_five_seconds_and_open_in_heat_up():
    lp = ModelLoop("nozzle20")
    lp.sp = 32.0
    assert lp.run(120) is None
    t0 = lp.ms
    lp.plant.stuck_on = True
    r = lp.run(30)
    assert r is not None and r[0] == thermal.STUCK_ON and lp.ms - t0 <= 5000, (r, lp.ms - t0)
    lp = ModelLoop("nozzle20")
    lp.plant.heater_open = True
    lp.sp = 45.0
    r = lp.run(30)
    assert r is not None and r[0] == thermal.HEATING_FAILED and lp.ms <= 6000, (r, lp.ms)


def test_model_checks_never_trip_on_draughts_and_setpoint_changes():
    for preset in ("nozzle20", "nozzle40"):
        lp = ModelLoop(preset)
        for sp in (32.0, 65.0, 45.0, 32.0):
            lp.sp = sp
            assert lp.run(300) is None, (preset, sp, lp.fault)
            lp.plant.draught_w_k = lp.plant.loss_w_k  # twice the loss
            assert lp.run(200) is None, (preset, sp, "draught", lp.fault)
            lp.plant.draught_w_k = 0.0
            assert lp.run(200) is None, (preset, sp, "draught off", lp.fault)
        lp.sp = None
        assert lp.run(200) is None, (preset, "off", lp.fault)


def _holdable(preset, sp, draught_w_k):
    p = heatplant.PRESETS[preset]
    return (p["loss_w_k"] + draught_w_k) * (sp - p["ambient_c"]) <= 0.9 * p["power_w"]


def test_model_checks_never_trip_on_strong_draughts_the_heater_holds():
    # the virtual board's bench draught (0.3 W/K) and x4 / x6 the loss: the controller
    # answers, the heat arrives, the temperature is held: no fault
    for preset in ("nozzle20", "nozzle40"):
        loss = heatplant.PRESETS[preset]["loss_w_k"]
        for sp in (32.0, 45.0):
            for w in (0.3, 3.0 * loss, 5.0 * loss):
                if not _holdable(preset, sp, w):
                    continue
                lp = ModelLoop(preset)
                lp.sp = sp
                assert lp.run(120) is None, (preset, sp, lp.fault)
                lp.plant.draught_w_k = w
                assert lp.run(120) is None, (preset, sp, w, lp.fault)
                assert abs(lp.plant.temp - sp) < 0.5, (preset, sp, w, lp.plant.temp)


def test_model_checks_virtual_board_model_under_the_bench_draught():
    # the printer role's default model (loss 0.10 W/K, 44 J/K, lag 1.5 s) on the virtual
    # board's plant with its bench draught: nozzle held at ~32 C on ~25 % duty, no trip
    cfg = {"power_w": 20.0, "mass_j_k": 44.0, "core_j_k": 3.0, "core_w_k": 3.0, "loss_w_k": 0.10,
           "sensor_s": 1.5, "ambient_c": 22.0}
    lp = Loop("nozzle20", dict(cfg))
    cfg["dist_rate"] = 0.3
    lp.ctl = ModelPid(cfg)
    lp.sp = 32.0
    assert lp.run(120) is None, lp.fault
    lp.plant.draught_w_k = 0.3
    assert lp.run(300) is None, lp.fault
    # and an open heater is still found while the draught blows... by the runaway
    # check once the temperature has left the band (the model checks cannot tell an
    # open heater in a draught from the draught until then)
    lp.plant.heater_open = True
    r = lp.run(120)
    assert r is not None and r[0] in (thermal.HEATING_FAILED, thermal.RUNAWAY), r


def test_model_checks_never_trip_on_a_reading_step():
    # the reading drops 3 C at once (a thermistor glitch: the bead chilled, recovering
    # with its lag) or the block does (a cold paste charge), holding and idle
    for preset in ("nozzle20", "nozzle40"):
        for kind in ("bead", "block"):
            for sp in (32.0, 45.0, None):
                lp = ModelLoop(preset)
                lp.sp = 45.0
                assert lp.run(150) is None, (preset, lp.fault)
                lp.sp = sp
                assert lp.run(30) is None, (preset, kind, sp, lp.fault)
                if kind == "bead":
                    lp.plant.sensor_temp -= 3.0
                else:
                    lp.plant.temp -= 3.0
                assert lp.run(90) is None, (preset, kind, sp, lp.fault)


def test_model_checks_still_find_a_stuck_heater_after_a_reading_step():
    lp = ModelLoop("nozzle20")
    lp.sp = None
    lp.plant.reset(40.0)
    assert lp.run(30) is None, lp.fault
    lp.plant.sensor_temp -= 3.0
    assert lp.run(2) is None, lp.fault
    t0 = lp.ms
    lp.plant.stuck_on = True
    r = lp.run(30)
    # the checks wait out the glitch (3 sensor lags, then the warm-up): slower, bounded
    assert r is not None and r[0] == thermal.STUCK_ON and lp.ms - t0 <= 12000, (r, lp.ms - t0)
