# The printer role's test rig (shared by test_printer*.py; not a test module): the real
# board file, journal, supervisor and the printer plant (nozzle heater, thermistor,
# extruder, clog switch) on world.hooks of the simulated HAL.
import gc
import json

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."

from plants import printer as printer_plant  # noqa: E402
from hearth.hal import sim  # noqa: E402

# The journal's 16 KiB flash image needs one contiguous block; compiling the role
# from source at 256 KiB leaves the heap fragmented, so take the block first (the
# runner's world.reset() frees it again and each test's Rig gets the same hole).
sim.world.flash_image("journal", 4 * 4096)
from hearth.runtime.faults import FaultLog  # noqa: E402
from hearth.runtime.journal import Journal  # noqa: E402
from hearth.control import ControlError  # noqa: E402
from hearth.runtime.protocol import CommandError  # noqa: E402
from hearth.runtime.supervisor import Supervisor  # noqa: E402
from hearth.roles.printer import Printer  # noqa: E402

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
            plant = printer_plant.PrinterPlant(PINS, BOARD["thermistor"], chip=BOARD["chip"])
            printer_plant.attach(sim.world, plant)
        self.plant = plant
        self.j = Journal(part, 7)
        self.log = FaultLog(self.j)
        self.sup = Supervisor(self.j, self.log, "power_on")
        self.p = Printer(BOARD, config or {}, self.sup)
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
        h = self.p.commands()[name]
        return h[0](name, args or {}) if len(h) > 2 and h[2] else h[0](args or {})

    def err(self, code, name, args=None):
        try:
            self.cmd(name, args)
        except (CommandError, ControlError) as e:
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
