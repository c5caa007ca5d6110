# Printer role: autotune (console `autotune` and M303 in a job) against the printer
# plant in virtual time, protection on throughout; firmware retract G10/G11
# (rig: printer_rig.py).
from printer_rig import BOARD, PINS, UNIX_2026, Rig, printer_plant, sim  # noqa: F401
from hearth.runtime.protocol import CommandError  # noqa: F401
from hearth.runtime.supervisor import READY  # noqa: F401


def _tune_done(r):
    return not r.cmd("tune")["running"]


def test_console_autotune_returns_gains_and_a_model():
    r = Rig()
    r.err("RANGE", "autotune", {"c": 75})           # above the hardware max (70)
    r.err("BAD_ARGS", "autotune", {"c": 45, "cycles": 1})
    assert r.heater_duty() == 0 and r.p.heater.target is None
    out = r.cmd("autotune", {"c": 45, "cycles": 3})
    assert out["tuning"] == 45.0 and r.sup.state == READY
    r.err("BUSY", "autotune", {"c": 45})
    r.err("STATE", "heat", {"c": 40})
    r.err("BUSY", "job_start", {"id": 3, "material": "dark"})
    assert r.run(600, lambda: _tune_done(r)), r.cmd("tune")
    t = r.cmd("tune")["result"]
    assert t is not None and "error" not in t, t
    assert t["ku"] > 0 and t["tu"] > 0 and t["kp"] > 0 and t["ki"] > 0 and t["kd"] > 0, t
    m = t["model"]
    # the plant: nozzle20, 43 J/K in all, 0.12 W/K to ambient, ~1.5 s of sensor lag
    assert 0.09 <= m["model_loss_w_k"] <= 0.15, m
    assert 30.0 <= m["model_mass_j_k"] <= 55.0, m
    assert 0.3 <= m["model_sensor_s"] <= 10.0, m
    assert r.p.heater.fault is None and r.p.heater.target is None   # off afterwards, as Marlin
    assert r.run(2) is False and r.heater_duty() == 0
    assert r.p.heater.ctl is r.p.ctl


def test_cool_aborts_the_autotune():
    r = Rig()
    r.cmd("autotune", {"c": 40})
    r.run(20)
    assert r.heater_duty() > 0
    r.cmd("cool")
    assert r.cmd("tune")["result"]["error"] == "aborted"
    r.run(1)
    assert r.heater_duty() == 0 and r.p.heater.ctl is r.p.ctl


def test_m303_in_a_job_waits_then_the_job_goes_on():
    r = Rig()
    r.cmd("job_start", {"id": 5, "material": "dough", "unix": UNIX_2026})
    r.err("STATE", "autotune", {"c": 30})            # a job runs: M303 belongs in it
    r.err("RANGE", "gcode", {"n": 1, "line": "M303 E0 S45 C3"})   # dough max 38
    r.err("BAD_ARGS", "gcode", {"n": 1, "line": "M303 E1 S30"})
    r.line(1, "M303 E0 S35 C3")
    r.line(2, "M109 S30")
    assert r.run(30, lambda: r.p._tuning())
    assert r.p.job.done == 0
    assert r.run(900, lambda: r.p.job.done >= 2), (r.cmd("tune"), r.p.job.info())
    t = r.cmd("tune")["result"]
    assert "error" not in t and t["setpoint"] == 35.0 and t["ku"] > 0, t
    assert r.p.heater.target == 30.0 and r.p.heater.fault is None


def test_g10_g11_retract_and_unretract_with_the_cold_guard():
    r = Rig(config={"retract_mm": 0.5, "retract_feed_mm_s": 1.0})
    r.cmd("job_start", {"id": 6, "material": "dark", "unix": UNIX_2026})
    r.err("COLD", "gcode", {"n": 1, "line": "G10"})          # cold: nothing moves
    assert r.step_duty() == 0
    r.line(1, "M109 S32")
    assert r.run(120, lambda: r.p.job.done >= 1)
    steps0 = r.plant.steps
    assert r.line(2, "G10")["retracted"] is True
    assert r.line(3, "G10")["retracted"] is True              # already retracted: no move
    assert r.run(10, lambda: r.p.job.done >= 3)
    assert abs((steps0 - r.plant.steps) - 200) <= 3, steps0 - r.plant.steps   # 0.5 mm x 400 back
    assert r.p.job.ext.pos_mm == 0.0                          # the logical E is untouched
    snap = r.p.job.read(r.p.state_buf)
    assert snap["retracted"] is True
    assert r.line(4, "G11")["retracted"] is False
    assert r.run(10, lambda: r.p.job.done >= 4)
    assert abs(r.plant.steps - steps0) <= 3
    assert r.p.job.read(r.p.state_buf)["retracted"] is False
