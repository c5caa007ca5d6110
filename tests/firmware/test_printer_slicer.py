# The printer role and slicer G-code (issue 14): synced moves, pressure advance, the
# fan, pauses, T0/T1. Each refused line changes nothing: no actuator moves.
from hearth.hal import sim
from hearth.runtime.supervisor import ACTIVE, RECOVERY
from printer_rig import PINS, Rig


def _fan():
    return sim.world.pwm[PINS["fan"]][1]


def _still(r, n_done, queued=0):
    # nothing moved: no pulses, the job where it was
    assert r.step_duty() == 0 and r.p.job.done == n_done and r.p.job.busy() == queued


def test_synced_move_takes_its_duration():
    r = Rig()
    r.start_hot_job()
    s0 = r.plant.steps
    r.line(3, "G1 E1 F120 D700")          # 400 steps over 700 ms, 200 ms ramps
    r.run(0.35)
    mid = r.plant.steps - s0
    assert 150 <= mid <= 250, mid         # half the time, half the steps (symmetric)
    assert r.run(0.5, lambda: r.p.job.done == 3)
    assert abs(r.plant.steps - s0 - 400) <= 2, r.plant.steps - s0
    j = r.cmd("job")
    assert j["steps"] == 400 and abs(j["steps_made"] - 400) <= 1, j


def test_back_to_back_synced_moves_keep_the_hosts_time():
    r = Rig()
    r.start_hot_job()
    s0 = r.plant.steps
    t0 = sim.ticks_ms()
    n = 3
    for _ in range(6):                     # 6 x 333 ms: 2 s on the host's timeline
        r.line(n, "G1 E0.5 F120 D333")
        n += 1
    assert r.run(3, lambda: r.p.job.done == n - 1)
    took = sim.ticks_diff(sim.ticks_ms(), t0)
    assert 1990 <= took <= 2030, took
    assert abs(r.plant.steps - s0 - 1200) <= 3


def test_synced_move_refusals_move_nothing():
    r = Rig()
    r.start_hot_job()
    msg = r.err("BAD_ARGS", "gcode", {"n": 3, "line": "G1 E1 F600 D500"})   # 10 mm/s > 5
    assert "max_rate_mm_s" in msg, msg
    r.err("BAD_ARGS", "gcode", {"n": 3, "line": "G1 E1 F120 D300"})   # E/F = 500 ms > D
    r.err("BAD_ARGS", "gcode", {"n": 3, "line": "G1 E1 F120 D2000"})  # F never reached
    r.err("BAD_ARGS", "gcode", {"n": 3, "line": "G1 F120 D200"})      # D without E
    r.run(0.3)
    _still(r, 2)
    assert r.p.job.next == 3 and r.p.job.ext.pos_mm == 0.0


def test_m900_pressure_advance():
    r = Rig(config={"pressure_advance_s": 0.05})
    r.start_hot_job()
    assert r.cmd("job")["pa_s"] == 0.05
    assert r.line(3, "M900")["pa_s"] == 0.05
    r.err("BAD_ARGS", "gcode", {"n": 4, "line": "M900 K1.5"})
    r.err("BAD_ARGS", "gcode", {"n": 4, "line": "M900 K-0.1"})
    r.run(0.1)
    assert r.p.job.ext.pa == 0.05
    r.line(4, "M900 K0.2")
    s0 = r.plant.steps
    r.line(5, "G1 E1 F120 D700")
    r.run(0.1)
    # 100 ms into the ramp: plain profile 20 steps; with K 0.2, + 0.2 x 400 = 100 more
    assert r.p.job.ext.pa == 0.2
    assert r.plant.steps - s0 >= 80, r.plant.steps - s0
    assert r.run(1, lambda: r.p.job.done == 5)
    assert abs(r.plant.steps - s0 - 400) <= 2


def test_fan_m106_m107():
    r = Rig()
    r.start_hot_job()
    assert _fan() == 0                      # off until a job line turns it on
    r.line(3, "M106 S128")
    r.run(0.05)
    assert _fan() == 128 * 257 and r.p.status()["fan"] == 128
    r.err("BAD_ARGS", "gcode", {"n": 4, "line": "M106 S300"})
    r.err("BAD_ARGS", "gcode", {"n": 4, "line": "M106 P1 S10"})
    r.run(0.05)
    assert _fan() == 128 * 257
    r.line(4, "M107")
    r.run(0.05)
    assert _fan() == 0
    r.line(5, "M106")                        # no S: full
    r.run(0.05)
    assert _fan() == 65535
    r.p.safe()
    assert _fan() == 0


def test_fan_without_a_fan_pin_is_a_note():
    import printer_rig
    saved = printer_rig.BOARD["pins"].pop("fan")
    try:
        r = Rig()
        r.start_hot_job()
        out = r.line(3, "M106 S255")
        assert "no fan" in out["note"], out
        assert r.p.fan is None
    finally:
        printer_rig.BOARD["pins"]["fan"] = saved


def test_pause_holds_heat_and_resumes():
    r = Rig()
    r.start_hot_job()
    r.line(3, "G1 E0.5 F120")
    r.line(4, "M600")
    r.line(5, "G1 E0.5 F120")
    assert r.run(2, lambda: r.p.job.paused is not None)
    s0 = r.plant.steps
    assert r.p.job.done == 3 and r.p.status()["paused"] == "M600"
    r.run(20, host=False)                    # the host away: no dead-man fault in a pause
    assert r.sup.state == ACTIVE and r.plant.steps == s0 and r.step_duty() == 0
    assert r.p.heater.target == 32.0 and abs(r.p.heater.temp - 32.0) <= 0.5
    dz0 = r.p.job.dz.ms
    out = r.cmd("job_resume")
    assert out["resumed"] == "M600" and out["paused_s"] >= 19
    assert r.run(2, lambda: r.p.job.done == 5)
    assert abs(r.plant.steps - s0 - 200) <= 2
    assert r.p.job.dz.ms >= dz0
    r.err("STATE", "job_resume")             # not paused


def test_pause_timeout_holds_the_job_for_resume():
    r = Rig(config={"pause_timeout_s": 10})
    r.start_hot_job()
    r.line(3, "M0 Click to continue")
    r.line(4, "G1 E0.5 F120")
    assert r.run(1, lambda: r.p.job.paused == "M0")
    r.run(11, host=False)
    assert r.sup.state == RECOVERY and r.p.heater.target is None and r.outputs_safe()
    snap = r.p.job.read(r.p.state_buf)
    assert snap["done"] == 3 and snap["setpoint"] == 32.0   # a resume goes on after M0


def test_tools_and_second_heater_refused_on_a_one_heater_board():
    r = Rig()
    r.start_hot_job()
    assert r.line(3, "T0")["tool"] == 0
    msg = r.err("REFUSED", "gcode", {"n": 4, "line": "T1"})
    assert "second" in msg
    r.err("REFUSED", "gcode", {"n": 4, "line": "M104 T1 S35"})
    r.err("BAD_ARGS", "gcode", {"n": 4, "line": "M104 T2 S35"})
    r.run(0.2)
    assert r.p.heater.target == 32.0 and r.p.job.next == 4


def test_counted_steps_commanded_against_made():
    # issue 11.6: the S3 board counts the step pin's pulses (the plant restarts the
    # PWM timer at each frequency change, as the chip does); the job reports both
    r = Rig()
    assert r.p.counter is not None
    r.start_hot_job()
    p0 = r.plant.pulses
    s0 = r.plant.steps
    r.line(3, "G1 E1 F120")
    r.line(4, "G1 E0.5 F120 D300")
    r.line(5, "G1 E-0.25 F120")
    assert r.run(3, lambda: r.p.job.done == 5)
    j = r.cmd("job")
    assert j["steps"] == 400 + 200 - 100, j
    assert abs(r.plant.steps - s0 - 500) <= 2, r.plant.steps - s0
    assert abs(j["steps_made"] - (r.plant.steps - s0)) <= 2, (j, r.plant.steps - s0)
    assert r.plant.pulses - p0 >= 700 and not r.p.job.ext.counter_bad
    end = r.cmd("job_end")
    assert end["steps"] == 500 and abs(end["steps_made"] - 500) <= 2


def test_a_counter_that_sees_nothing_is_dropped_not_followed():
    # a pad that does not loop back to the PCNT reads 0: the planner must not drive
    # the motor on to make up "missing" steps
    r = Rig()

    class Dead:
        def value(self):
            return 0

    r.p.counter = Dead()
    r.start_hot_job()
    s0 = r.plant.steps
    r.line(3, "G1 E1 F120")
    assert r.run(2, lambda: r.p.job.done == 3)
    assert abs(r.plant.steps - s0 - 400) <= 12, r.plant.steps - s0
    assert r.p.job.ext.counter_bad


def test_no_counter_on_a_chip_without_pcnt():
    sim.world.reset("esp32c3")
    assert sim.counter(15) is None
    for chip, pin, want in (("esp32", 25, 126), ("esp32s3", 15, 129)):
        sim.world.reset(chip)
        c = sim.counter(pin)
        pwm = sim.Pwm(pin, 1000, 0)
        assert c.value() == 0
        pwm.duty_u16(32768)              # starts: an edge at once
        assert c.value() == 1
        sim.world.advance_us(10500)      # 10.5 periods: 10 more edges
        assert c.value() == 11
        for f in (1100, 1200, 1300, 1000):   # 4 changes, 25 ms each
            pwm.freq(f)
            sim.world.advance_us(25000)
        pwm.duty_u16(0)
        sim.world.advance_us(50000)      # stopped: no edges
        # classic: 11 + 28 + 30 + 32 + 25, the phase carried; S3: each change
        # restarts with an edge, the partial period lost: 3 more
        assert c.value() == want, (chip, c.value())


def _two_heater_rig(**kw):
    # printer-s3 with a body heater on GPIO14 and its thermistor on GPIO6 (ADC1)
    import printer_rig
    saved = printer_rig.PINS
    pins = dict(saved)
    pins["heater2"] = 14
    pins["thermistor2_adc"] = 6
    printer_rig.BOARD["pins"] = printer_rig.PINS = pins
    try:
        return Rig(**kw)
    finally:
        printer_rig.BOARD["pins"] = printer_rig.PINS = saved


def test_second_heater_t1():
    r = _two_heater_rig()
    assert r.p.heater2 is not None and sim.world.pwm[14][1] == 0
    r.start_hot_job()
    assert r.p.heater2.target is None            # the nozzle's M109 left the body alone
    r.err("RANGE", "gcode", {"n": 3, "line": "M104 T1 S40"})   # above dark's 34 C
    r.line(3, "M109 T1 S31")
    r.line(4, "T1")
    r.line(5, "M104 S30")                        # T1 selected: the body
    r.line(6, "T0")
    r.line(7, "G1 E0.5 F120")
    assert r.run(120, lambda: r.p.job.done >= 3)
    st = r.p.status()
    assert abs(st["temp2"] - 31.0) <= 0.5 and st["target"] == 32.0, st
    assert r.run(2, lambda: r.p.job.done == 7)
    assert r.p.heater2.target == 30.0 and r.p.heater.target == 32.0
    r.cmd("job_end")
    assert r.p.heater2.target is None and r.p.heater.target is None


def test_heat_tool1_sets_the_body_heater():
    # what `hearth print --resume` sends to put T1's setpoint back (the journal keeps T0's)
    r = _two_heater_rig()
    r.start_hot_job()
    out = r.cmd("heat", {"c": 31.0, "tool": 1})
    assert out["target2"] == 31.0 and r.p.heater2.target == 31.0 and r.p.heater.target == 32.0
    r.err("RANGE", "heat", {"c": 40.0, "tool": 1})    # above dark's 34 C, as M104 T1
    assert r.p.heater2.target == 31.0
    one = Rig()                                       # no body heater: refused, nothing changes
    one.start_hot_job()
    one.err("REFUSED", "heat", {"c": 31.0, "tool": 1})
    assert one.p.heater.target == 32.0


def test_second_heater_fault_turns_everything_off():
    r = _two_heater_rig()
    r.start_hot_job()
    r.line(3, "M104 T1 S31")
    r.run(5)
    assert sim.world.pwm[14][1] > 0 or r.p.heater2.temp >= 30.5
    r.plant.active.add("thermistor2_open")
    r.run(2)
    assert r.sup.state == "FAULT", r.sup.state
    assert r.outputs_safe() and sim.world.pwm[14][1] == 0
    assert "body thermistor" in r.p.fault_cause()


def test_a_chained_move_late_on_the_wire_starts_where_the_move_before_ended():
    # The gantry ran move 4 right after move 3; its toolhead line came 40 ms after the
    # toolhead's move 3 ended. C1 takes it up from that end; without C1 it starts late.
    ends = {}
    for chained in (False, True):
        r = Rig()
        r.start_hot_job()
        s0 = r.plant.steps
        t0 = sim.ticks_ms()
        r.line(3, "G1 E0.5 F120 D300")
        assert r.run(1, lambda: r.p.job.done == 3)
        r.run(0.04)
        r.line(4, "G1 E0.5 F120 D300" + (" C1" if chained else ""))
        assert r.run(1, lambda: r.p.job.done == 4)
        ends[chained] = sim.ticks_diff(sim.ticks_ms(), t0)
        assert abs(r.plant.steps - s0 - 400) <= 2, r.plant.steps - s0
    assert 590 <= ends[True] <= 612, ends           # 2 x 300 ms, on the first move's clock
    assert ends[False] - ends[True] >= 25, ends      # the late line's delay, less a tick


def test_c1_only_on_a_synced_move():
    r = Rig()
    r.start_hot_job()
    r.err("BAD_ARGS", "gcode", {"n": 3, "line": "G1 E1 F120 C1"})
    r.err("BAD_ARGS", "gcode", {"n": 3, "line": "G1 E1 F120 D700 C2"})
    r.run(0.2)
    _still(r, 2)
