# Printer role: power cut mid-job, recovery, checked resume and food-safety refusal
# (rig: printer_rig.py).
from printer_rig import BOARD, PINS, UNIX_2026, Rig, printer_plant, sim  # noqa: F401
from hearth.control import ControlError
from hearth.runtime.protocol import CommandError  # noqa: F401
from hearth.runtime.supervisor import ACTIVE, READY, RECOVERY, SupervisorError
from hearth.roles.printer import PrintJob
import gc


def test_power_cut_mid_job_recovers_and_resumes_from_the_right_line():
    r = Rig()
    r.start_hot_job()
    r.line(3, "G1 E1 F120")
    r.line(4, "G1 E1 F120")
    r.line(5, "G1 E1 F120")
    assert r.run(5, lambda: r.p.job.done == 4)
    r.sup.power_fail(sim.ticks_ms())       # line 5 running when the supply died
    assert r.outputs_safe()
    sim.world.outputs.clear()
    sim.world.pwm.clear()
    sim.world.advance_us(20 * 1000000)     # 20 s without power: the nozzle cools
    r2 = r.reboot()
    assert r2.sup.state == RECOVERY and r2.outputs_safe()
    st = r2.p.status()["recovered"]
    assert st["done"] == 4 and st["material"] == "dark" and st["setpoint"] == 32.0
    r2.run(1)
    assert r2.outputs_safe()
    r2.err("STATE", "heat", {"c": 32})       # nothing switches on in RECOVERY
    rec = r2.sup.describe()["recovery"]
    r2.sup.resume(rec["token"])            # chocolate: not a controlled food, exempt
    assert r2.sup.state == ACTIVE
    assert r2.p.job.next == 5 and r2.p.heater.target == 32.0
    assert r2.cmd("gcode", {"n": 5, "line": "M83"})["n"] == 5   # the job goes on at line 5


def test_abrupt_cut_without_powerfail_signal_keeps_checkpointed_progress():
    r = Rig(config={"checkpoint_s": 5})
    r.start_hot_job()
    r.line(3, "G1 E1 F120")
    assert r.run(3, lambda: r.p.job.done == 3)
    r.run(6)                                # a periodic checkpoint has been written since
    r.line(4, "G4 P60000")
    r.run(1)
    # the plug is pulled: no power-fail record, only the STATE checkpoints
    r2 = r.reboot()
    assert r2.sup.state == RECOVERY
    assert r2.sup.describe()["recovery"]["kind"] == "STATE"
    assert PrintJob.read(r2.p.state_buf)["done"] == 3


def test_resume_never_heats_above_the_job_setpoint():
    r = Rig()
    r.start_hot_job()
    r.line(3, "M104 S31")
    assert r.run(1, lambda: r.p.job.done == 3)
    r.sup.power_fail(sim.ticks_ms())
    r2 = r.reboot()
    r2.sup.resume(r2.sup.describe()["recovery"]["token"])
    assert r2.p.heater.target == 31.0
    r2.run(200)
    assert r2.plant.heater.temp < 31.6


def test_resume_refused_for_food_safety():
    r = Rig()
    r.start_hot_job("puree")
    r.line(3, "G1 E1 F120")
    assert r.run(3, lambda: r.p.job.done == 3)
    r.sup.power_fail(sim.ticks_ms())
    sim.world.advance_us(30 * 1000000)
    r2 = r.reboot()
    assert r2.sup.state == RECOVERY
    tok = r2.sup.describe()["recovery"]["token"]
    # the outage length is unknown: unsafe for a controlled food
    try:
        r2.sup.resume(tok)
        raise AssertionError("resume allowed")
    except SupervisorError as e:
        assert e.code == "REFUSED" and "unknown" in e.message
    assert r2.sup.state == RECOVERY and r2.outputs_safe()
    # the host says the outage was three hours: over the 120 min limit
    r2.cmd("clock", {"unix": UNIX_2026 + 3 * 3600})
    try:
        r2.sup.resume(tok)
        raise AssertionError("resume allowed")
    except SupervisorError as e:
        assert e.code == "REFUSED" and "danger zone" in e.message, e.message
    # a short outage is fine
    before = PrintJob.read(r2.p.state_buf)
    r2.cmd("clock", {"unix": UNIX_2026 + 200})
    r2.sup.resume(tok)
    assert r2.sup.state == ACTIVE and r2.p.job.next == 4 and r2.p.heater.target == 65.0
    outage = 200 - (before["wall_s"] - (UNIX_2026 - 946684800))
    assert 30 < outage < 200, outage
    # the outage is counted in full as danger-zone time
    assert r2.p.job.dz.ms == before["danger_zone_ms"] + outage * 1000


def test_discard_after_recovery():
    r = Rig()
    r.start_hot_job()
    r.sup.power_fail(sim.ticks_ms())
    r2 = r.reboot()
    r2.sup.discard(r2.sup.describe()["recovery"]["token"])
    r2.run(0.1)
    assert r2.sup.state == READY and r2.p.job.id == 0
    r2.cmd("job_start", {"id": 10, "material": "milk"})
    assert r2.sup.state == ACTIVE


def test_haccp_record():
    r = Rig()
    r.start_hot_job()
    r.run(30)
    h = r.cmd("haccp")
    assert h["job"] == 9 and h["n"] >= 4 and h["material"] == "dark"
    assert h["events"][0]["what"] == "start"
    assert all(t is None or 15 < t < 40 for t in h["temp_c"])


def test_snapshot_update_and_safe_are_cheap():
    r = Rig()
    r.start_hot_job()
    gc.collect()
    a0 = gc.mem_alloc()
    r.p.job.write(r.p.state_buf, None, 32.0, 31.9)
    a1 = gc.mem_alloc()
    assert a1 - a0 <= 256, a1 - a0   # a few floats at most

    class Quiet:
        def duty_u16(self, d=None):
            return 0

        def value(self, v=None):
            return 1

    q = Quiet()
    r.p.heater.pwm = q
    r.p.stepper.pwm = q
    r.p.fan = q
    r.p.stepper.en_out = q
    gc.collect()
    a0 = gc.mem_alloc()
    r.p.safe()
    r.p.safe()
    assert gc.mem_alloc() == a0


def test_job_record_carries_the_file_and_resume_refuses_another_file():
    # issue 12, defect 6: a resume took a different 3-line file for a job cut at line
    # 138 of 500; the record now names the file (hash) and its line count
    r = Rig()
    r.err("BAD_ARGS", "job_start", {"id": 3, "material": "dark", "file": "xyz"})
    r.err("BAD_ARGS", "job_start", {"id": 3, "material": "dark", "file": "0a1b2c3d", "lines": 0})
    r.cmd("job_start", {"id": 9, "material": "dark", "unix": UNIX_2026, "file": "0a1b2c3d", "lines": 500})
    j = r.cmd("job")
    assert j["file"] == "0a1b2c3d" and j["lines"] == 500
    r.line(1, "M83")
    r.line(2, "M109 S32")
    assert r.run(120, lambda: r.p.job.done >= 2)
    r.sup.power_fail(sim.ticks_ms())
    r2 = r.reboot()
    snap = r2.p.status()["recovered"]
    assert snap["file"] == "0a1b2c3d" and snap["lines"] == 500 and snap["done"] == 2
    tok = r2.sup.describe()["recovery"]["token"]
    for other in ({"file": "deadbeef", "lines": 3}, {"file": "0a1b2c3d", "lines": 3}):
        args = {"token": tok}
        args.update(other)
        try:
            r2.sup.resume(args)
            raise AssertionError("resumed with another file: %r" % other)
        except SupervisorError as e:
            assert e.code == "REFUSED" and "0a1b2c3d" in e.message and "500" in e.message, e.message
        assert r2.sup.state == RECOVERY and r2.outputs_safe()
    r2.sup.resume({"token": tok, "file": "0a1b2c3d", "lines": 500})
    assert r2.sup.state == ACTIVE and r2.p.job.next == 3
    assert r2.cmd("job")["file"] == "0a1b2c3d"


def test_hold_parks_the_job_heater_off_then_resumes():
    # issue 12, defect 5: Ctrl-C in `hearth print` holds the job on the board for resume
    r = Rig()
    r.start_hot_job()
    r.line(3, "G1 E1 F120")
    r.line(4, "G1 E1 F120")
    assert r.run(5, lambda: r.p.job.done == 3)
    out = r.cmd("job_hold")
    assert out["job"] == 9 and out["done"] == 3 and out["token"]
    assert r.sup.state == RECOVERY and r.outputs_safe() and r.p.heater.target is None
    rec = r.sup.describe()["recovery"]
    assert rec["kind"] == "HOLD" and rec["job"] == 9 and rec["token"] == out["token"]
    r.run(30)                                  # held: nothing switches back on
    assert r.outputs_safe() and r.sup.state == RECOVERY
    r.err("STATE", "job_hold")                 # nothing running to hold
    r.sup.resume(out["token"])
    assert r.sup.state == ACTIVE and r.p.job.next == 4 and r.p.heater.target == 32.0
    assert r.p.job.dz.ms >= 0


def test_hold_survives_a_reboot():
    r = Rig()
    r.start_hot_job()
    r.cmd("job_hold")
    r2 = r.reboot()
    assert r2.sup.state == RECOVERY and r2.sup.describe()["recovery"]["job"] == 9
    assert PrintJob.read(r2.p.state_buf)["done"] == 2


def _stream(r, line_of, n0, seconds, every_ms=10):
    # the host: send the next line whenever the board's queue has room; -> next line
    n = n0
    for _ in range(int(seconds * 1000 / every_ms)):
        while True:
            try:
                r.line(n, line_of(n))
            except (CommandError, ControlError) as e:
                if e.code != "BUSY":
                    raise
                break
            n += 1
        sim.world.advance_us(every_ms * 1000)
        r.p.tick(sim.ticks_ms())
        r.p.cmd_job({})
    return n


def test_progress_records_bounded_and_an_instant_cut_resumes_within_a_few_lines():
    # issue 12: after an instant cut (no power-fail record) resume restarted at line 1;
    # progress now goes to the journal at most once per progress_ms while lines finish
    r = Rig()
    r.start_hot_job()
    j = r.j
    p0, e0 = j.programs, j.erases
    _stream(r, lambda n: "G1 E0.5 F120", 3, 240.57)   # four minutes of job, cut between records
    minutes = 4
    assert r.sup.unsaved == 0 and r.sup.state == ACTIVE   # the journal never ran full
    done = r.p.job.done
    assert done > 400, done
    programs = j.programs - p0
    erases = j.erases - e0
    # one progress record per second at most, plus the few live records each block
    # erase copies forward (a 16-slot block: one erase per 16 records)
    assert programs <= minutes * 60 + erases * 3, (programs, erases)
    assert erases >= 1                          # the job outlived the erased space: erased in-job
    print("PROGRESS %d programs, %d erases in %d min; %d lines" % (programs, erases, minutes, done))
    # the plug is pulled: only what is in the journal survives
    dz = r.p.job.dz.ms
    r2 = r.reboot()
    assert r2.sup.state == RECOVERY
    snap = PrintJob.read(r2.p.state_buf)
    got = snap["done"]
    assert done - 5 <= got <= done, (got, done)
    print("CUT at line %d: resume at %d" % (done, got + 1))
    # the danger-zone time before the cut is kept (within a record's age), and grows on
    assert dz - 2000 <= snap["danger_zone_ms"] <= dz, (snap["danger_zone_ms"], dz)
    r2.cmd("clock", {"unix": UNIX_2026 + 300})
    r2.sup.resume(r2.sup.describe()["recovery"]["token"])
    assert r2.p.job.next == got + 1 and r2.p.job.dz.ms >= snap["danger_zone_ms"]
