# Printer role on the simulated HAL: heat, jobs, protections, safe state
# (rig: printer_rig.py).
from printer_rig import BOARD, PINS, UNIX_2026, Rig, printer_plant, sim  # noqa: F401
from hearth.runtime.protocol import CommandError  # noqa: F401
from hearth.runtime.supervisor import ACTIVE, FAULT, READY, SAFE


def test_boot_is_safe_and_config_registered():
    r = Rig()
    assert r.sup.state == SAFE
    assert r.outputs_safe()
    assert sim.world.pwm[PINS["heater"]][0] == 10  # created with its frequency, duty 0
    r.run(1)
    assert r.outputs_safe()
    from hearth.runtime import config
    d = config.defaults(("printer",))["printer"]
    assert d["dark_c"] == 32.0 and d["danger_hi_c"] == 57.0 and d["steps_per_mm"] == 400.0


def test_bad_heat_requests_switch_nothing_on():
    r = Rig()
    r.err("RANGE", "heat", {"c": 95})
    r.err("RANGE", "heat", {"c": 75})          # above the configured max_c 70
    r.err("RANGE", "heat", {"c": -3})
    r.err("BAD_ARGS", "heat", {"material": "caramel"})
    r.err("BAD_ARGS", "heat", {"c": "hot"})
    r.err("RANGE", "heat", {"material": "puree"}, ) if False else None
    r.run(2)
    assert r.sup.state == SAFE and r.outputs_safe() and r.p.heater.target is None


def test_heat_to_32_and_hold_half_a_degree():
    r = Rig()
    assert r.cmd("heat", {"material": "dark"})["target"] == 32.0
    assert r.sup.state == READY
    peak = 0.0
    for _ in range(90):
        r.run(1)
        peak = max(peak, r.plant.heater.temp)
    assert peak <= 32.5, peak
    temps = []
    for _ in range(30):
        r.run(1)
        temps.append(r.plant.heater.temp)
    assert max(temps) - 32.0 <= 0.5 and 32.0 - min(temps) <= 0.5, (min(temps), max(temps))
    r.cmd("cool")
    r.run(1)
    assert r.heater_duty() == 0


def test_cold_extrusion_refused_nothing_moves():
    r = Rig()
    r.cmd("job_start", {"id": 3, "material": "dark"})
    assert r.sup.state == ACTIVE
    msg = r.err("COLD", "gcode", {"n": 1, "line": "G1 E2 F120"})
    assert "30.0" in msg
    r.run(1)
    assert r.plant.steps == 0 and r.step_duty() == 0 and r.p.heater.target is None
    # the refused line was not consumed
    assert r.line(1, "M83")["n"] == 1
    # a queued M109 to a warm enough setpoint makes the extrusion acceptable
    r.line(2, "M109 S32")
    assert r.line(3, "G1 E1 F120")["queued"] >= 1
    # but not a setpoint above the material's maximum
    r.err("RANGE", "gcode", {"n": 4, "line": "M104 S40"})


def test_job_runs_lines_in_order_and_counts_steps():
    r = Rig()
    r.start_hot_job()
    assert abs(r.p.heater.temp - 32.0) <= 0.5
    r.line(3, "G1 E2 F120")              # 800 steps at 2 mm/s
    r.line(4, "G4 P200")
    r.line(5, "G1 E-0.5 F300")           # retract 200 steps
    r.line(6, "G1 E0.5")                 # unretract
    assert r.run(10, lambda: r.p.job.done == 6 and not r.p.job.ext.moving())
    r.run(0.1)
    assert abs(r.plant.steps - 800) <= 4, r.plant.steps
    assert r.plant.stalled == 0
    j = r.cmd("job")
    assert j["done"] == 6 and j["next"] == 7 and j["e_mm"] == 2.0
    r.cmd("job_end")
    assert r.sup.state == READY and r.p.heater.target is None and r.enable_level() == 1


def test_line_numbers_checksums_duplicates_and_busy():
    r = Rig()
    r.cmd("job_start", {"id": 4, "material": "dough"})
    r.err("BAD_LINE", "gcode", {"n": 2, "line": "M83"})
    r.err("BAD_CHECKSUM", "gcode", {"n": 1, "line": "N1 M83*1"})
    r.err("BAD_LINE", "gcode", {"n": 1, "line": "N7 M83"})
    r.err("UNSUPPORTED", "gcode", {"n": 1, "line": "G28"})
    r.err("TOO_LONG", "gcode", {"n": 1, "line": "M83 ;" + "x" * 120})
    r.err("BAD_ARGS", "gcode", {"n": "1", "line": "M83"})
    assert r.line(1, "M83")["n"] == 1
    assert r.line(1, "M83")["dup"] is True     # a resent line is not run twice
    r.err("REFUSED", "gcode", {"n": 2, "line": "M302 P1"})
    r.err("RANGE", "gcode", {"n": 2, "line": "M302 S5"})
    for n in range(2, 9):
        r.line(n, "G4 P1000")
    r.err("BUSY", "gcode", {"n": 9, "line": "G4 P10"})
    r.err("BUSY", "job_end")
    assert r.cmd("job_end", {"abort": True})["done"] <= 2


def test_extrude_only_length_and_feed_limits():
    r = Rig()
    r.start_hot_job()
    r.err("RANGE", "gcode", {"n": 3, "line": "G1 E80"})
    r.err("BAD_ARGS", "gcode", {"n": 3, "line": "G1 E1 F9000"})   # 150 mm/s: refused, not capped


def test_thermistor_open_trips_fault_within_a_second():
    r = Rig()
    r.cmd("heat", {"c": 40})
    r.run(5)
    assert r.heater_duty() > 0
    r.plant.active.add("thermistor_open")
    t0 = sim.ticks_ms()
    assert r.run(2, lambda: r.sup.state == FAULT)
    assert sim.ticks_ms() - t0 <= 1000
    assert r.heater_duty() == 0
    f = r.log.last()
    assert f["code"] == "SENSOR_OPEN", f
    r.err("STATE", "heat", {"c": 32})
    r.plant.active.discard("thermistor_open")
    r.run(1)
    assert r.sup.clear() == SAFE
    r.run(1)
    assert r.sup.state == SAFE and r.p.heater.fault is None
    r.cmd("heat", {"c": 32})
    r.run(3)
    assert r.heater_duty() > 0


def test_heater_open_trips():
    r = Rig()
    r.plant.active.add("heater_open")
    r.cmd("heat", {"c": 45})
    assert r.run(15, lambda: r.sup.state == FAULT)
    assert r.log.last()["code"] == "HEATING_FAILED"
    assert r.heater_duty() == 0


def test_heater_stuck_on_trips():
    r2 = Rig()
    r2.cmd("heat", {"c": 30})
    r2.run(60)
    r2.cmd("cool")
    r2.run(3)
    r2.plant.active.add("heater_stuck_on")
    assert r2.run(15, lambda: r2.sup.state == FAULT)
    assert r2.log.last()["code"] == "STUCK_ON"


def test_m112_and_estop_stop_everything():
    r = Rig()
    r.start_hot_job()
    r.line(3, "G1 E5 F120")
    r.run(0.5)
    assert r.step_duty() > 0 and r.enable_level() == 0
    assert r.line(4, "M112")["state"] == SAFE
    assert r.outputs_safe()
    r.run(1)
    assert r.outputs_safe() and r.p.job.id == 0 and r.p.heater.target is None


def test_clog_faults_the_job():
    r = Rig()
    r.start_hot_job()
    r.line(3, "G1 E10 F120")
    r.run(0.5)
    r.plant.active.add("clog")
    assert r.run(1, lambda: r.sup.state == FAULT)
    assert r.log.last()["code"] == "CLOG" and r.outputs_safe()


def test_host_dead_man_turns_the_heater_off():
    r = Rig(config={"host_timeout_ms": 3000})
    r.start_hot_job()
    assert r.p.heater.target == 32.0 and r.sup.state == ACTIVE
    r.p.last_host = sim.ticks_ms()
    assert not r.run(2.9, lambda: r.sup.state == FAULT, host=False)
    assert r.run(0.3, lambda: r.sup.state == FAULT, host=False)
    assert r.log.last()["code"] == "HOST_SILENT" and r.heater_duty() == 0


def test_contradictory_config_refused_as_a_whole():
    # issue 12: values each in bounds that contradict each other
    from hearth.runtime import config
    from hearth.runtime.configcmd import _code
    for data, want in (({"printer": {"dark_max_c": 79}}, "printer.dark_max_c=79.0 is above printer.max_c=70.0"),
                       ({"printer": {"milk_min_c": 33, "milk_max_c": 32}}, "printer.milk_min_c=33.0 is above"),
                       ({"printer": {"white_c": 31}}, "printer.white_c=31.0 is outside"),
                       ({"printer": {"danger_lo_c": 20, "danger_hi_c": 40}}, None),
                       ({"printer": {"min_setpoint_c": 60, "max_c": 60}}, "printer.min_setpoint_c=60.0")):
        cfg, err = config.validate(data, ("printer",))
        if want is None:
            assert err is None and cfg is not None, err
            continue
        assert cfg is None and err is not None and want in err, (data, err)
        assert _code(err) == "RANGE"
