# PID, model-based controller and relay autotune, on their own and against the plants.


from plants import heater as heatplant  # noqa: E402
from hearth.control.pid import Pid, ModelPid  # noqa: E402
from hearth.control.autotune import RelayAutotune  # noqa: E402


def _model_cfg(preset, err=1.0):
    p = heatplant.PRESETS[preset]
    return {"power_w": p["power_w"] * err, "mass_j_k": p["mass_j_k"], "loss_w_k": p["loss_w_k"],
            "core_j_k": p["core_j_k"], "core_w_k": p["core_w_k"],
            "sensor_s": p["sensor_s"] + p["delay_s"], "ambient_c": p["ambient_c"]}


def _run(ctl, preset, sp, seconds, dt_ms=100, plant=None, noise=0.03, start_ms=0):
    # Closed loop on the plant's sensor temperature (+ seeded noise); returns
    # (plant, max block temp, last time outside +/-0.5 C).
    p = plant or heatplant.HeaterPlant(preset)
    rng = heatplant.Lcg(7)
    peak = -1e9
    last_out = 0.0
    ms = start_ms
    for i in range(int(seconds * 1000 / dt_ms)):
        meas = p.sensor_temp + noise * rng.uniform()
        d = ctl.step(ms & 0x3FFFFFFF, sp, meas)
        assert 0.0 <= d <= 1.0
        p.step(dt_ms / 1000.0, d)
        ms += dt_ms
        if p.temp > peak:
            peak = p.temp
        if abs(p.temp - sp) > 0.5:
            last_out = (i + 1) * dt_ms / 1000.0
    return p, peak, last_out


def test_proportional_and_clamp():
    c = Pid({"kp": 0.1, "ki": 0.0, "kd": 0.0})
    assert abs(c.step(0, 30.0, 25.0) - 0.5) < 1e-6
    assert c.step(100, 60.0, 25.0) == 1.0
    assert c.step(200, 20.0, 25.0) == 0.0


def test_derivative_on_measurement_no_setpoint_kick():
    c = Pid({"kp": 0.0, "ki": 0.0, "kd": 1.0, "d_filter_s": 0.0, "out_min": -10.0, "out_max": 10.0})
    c.step(0, 30.0, 25.0)
    assert c.step(100, 60.0, 25.0) == 0.0  # setpoint jump: no kick
    u = c.step(200, 60.0, 25.1)  # measurement rising 1 C/s: -kd * 1
    assert abs(u + 1.0) < 1e-4  # single-precision floats, as on the ESP32


def test_derivative_filter_smooths_noise():
    raw = Pid({"kp": 0.0, "ki": 0.0, "kd": 1.0, "d_filter_s": 0.0, "out_min": -99.0, "out_max": 99.0})
    filt = Pid({"kp": 0.0, "ki": 0.0, "kd": 1.0, "d_filter_s": 2.0, "out_min": -99.0, "out_max": 99.0})
    worst_raw = worst_f = 0.0
    for i in range(100):
        m = 30.0 + (0.05 if i % 2 else -0.05)
        a = raw.step(i * 100, 30.0, m)
        b = filt.step(i * 100, 30.0, m)
        if i > 30:
            worst_raw = max(worst_raw, abs(a))
            worst_f = max(worst_f, abs(b))
    assert worst_f < worst_raw / 10


def _windup(aw):
    # 60 s stuck far below the setpoint (heater that cannot keep up), then the
    # temperature arrives: how long does the output stay high past the setpoint?
    c = Pid({"kp": 0.05, "ki": 0.01, "kd": 0.0, "aw": aw})
    ms = 0
    for _ in range(600):
        c.step(ms, 40.0, 25.0)
        ms += 100
    for _ in range(10):
        c.step(ms, 40.0, 40.5)
        ms += 100
    return c.step(ms, 40.0, 40.5), c.i


def test_anti_windup_clamp_and_backcalc():
    for aw in ("clamp", "backcalc"):
        u, i = _windup(aw)
        # without anti-windup the integral would sit at its 1.0 limit (u ~ 0.97)
        assert u < 0.45, (aw, u, i)
        assert i < 0.45


def test_feed_forward_is_the_holding_duty():
    c = Pid({"kp": 0.0, "ki": 0.0, "kd": 0.0, "ff_loss_w_k": 0.12, "ff_power_w": 20.0, "ambient_c": 22.0})
    assert abs(c.step(0, 32.0, 32.0) - 0.06) < 1e-6  # single-precision floats
    bad = False
    try:
        Pid({"kp": 1, "bogus": 2})
    except ValueError:
        bad = True
    assert bad


def test_pid_settles_on_nozzle():
    c = Pid({"kp": 0.15, "ki": 0.004, "kd": 0.3, "ff_loss_w_k": 0.12, "ff_power_w": 20.0})
    p, peak, last_out = _run(c, "nozzle20", 45.0, 400)
    assert abs(p.temp - 45.0) < 0.3
    assert last_out < 300


def test_model_controller_meets_the_goals_on_every_preset():
    for preset in ("nozzle20", "nozzle40", "block"):
        t_min = heatplant.full_power_time(preset, 32.0)
        c = ModelPid(_model_cfg(preset))
        p, peak, last_out = _run(c, preset, 32.0, t_min * 3 + 60)
        assert peak - 32.0 <= 0.5, (preset, peak)
        assert last_out / t_min <= 1.15, (preset, last_out, t_min)
        assert abs(p.temp - 32.0) < 0.2


def test_model_controller_integral_absorbs_model_error_and_draught():
    cfg = _model_cfg("nozzle20")
    cfg["loss_w_k"] = 0.08  # a third too low
    c = ModelPid(cfg)
    p, peak, last_out = _run(c, "nozzle20", 32.0, 120)
    assert abs(p.temp - 32.0) < 0.5
    p.draught_w_k = 0.12  # a door opens: twice the loss
    worst = 0.0
    rng = heatplant.Lcg(3)
    ms = 120000
    for _ in range(3000):
        d = c.step(ms, 32.0, p.sensor_temp + 0.03 * rng.uniform())
        p.step(0.1, d)
        ms += 100
        worst = max(worst, abs(p.temp - 32.0))
    assert worst < 0.5, worst
    assert abs(p.temp - 32.0) < 0.1


def test_model_controller_survives_tick_wrap_and_long_gaps():
    c = ModelPid(_model_cfg("nozzle20"))
    p, peak, last_out = _run(c, "nozzle20", 32.0, 120, start_ms=0x3FFFFFFF - 30000)
    assert abs(p.temp - 32.0) < 0.3
    d = c.step(((0x3FFFFFFF - 30000) + 125000) & 0x3FFFFFFF, 32.0, p.sensor_temp)
    assert 0.0 <= d <= 1.0


def test_relay_autotune_gives_ku_tu_and_zn_gains():
    p = heatplant.HeaterPlant("nozzle20")
    at = RelayAutotune({"setpoint": 45.0, "hysteresis_c": 0.5})
    ms = 0
    while not at.done and ms < 3600000:
        d = at.step(ms, p.sensor_temp)
        p.step(0.1, d)
        ms += 100
    assert at.error is None
    r = at.result
    assert r is not None
    assert r["ku"] > 0 and 5.0 < r["tu"] < 200.0, r
    assert abs(r["kp"] - 0.6 * r["ku"]) < 1e-9
    assert abs(r["ki"] - r["kp"] * 2.0 / r["tu"]) < 1e-9
    assert abs(r["kd"] - r["kp"] * r["tu"] / 8.0) < 1e-9
    # and the ZN PID holds the setpoint (its approach is the benchmark's business)
    c = Pid({"kp": r["kp"], "ki": r["ki"], "kd": r["kd"]})
    p2, peak, last_out = _run(c, "nozzle20", 45.0, 600)
    assert abs(p2.temp - 45.0) < 0.5


def test_autotune_aborts_on_overshoot():
    p = heatplant.HeaterPlant("nozzle40")
    at = RelayAutotune({"setpoint": 32.0, "abort_over_c": 0.5, "hysteresis_c": 0.2})
    ms = 0
    while not at.done and ms < 600000:
        d = at.step(ms, p.sensor_temp)
        p.step(0.1, d)
        ms += 100
    assert at.done and at.error == "overshoot"
    assert at.result is None
    assert at.step(ms, 20.0) == 0.0
