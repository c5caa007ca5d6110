# Builds the printer role (roles/printer.py's Printer.__init__): config defaults, drivers
# and controllers from the board file. Boot-time code in a module of its own: the app
# forgets it once the role is built, so its bytecode is not on the heap of a running board.
from hearth import hal
from hearth.control.pid import ModelPid
from hearth.control.printjob import PrintJob
from hearth.control.thermal import ThermalProtection
from hearth.drivers.heater import Heater
from hearth.drivers.stepper import Stepper
from hearth.drivers.thermistor import Thermistor
from hearth.options import complete
from hearth.pinout import Pins


def init(self, board, config, sup, checked):
    c = config if checked else _section(config)
    self.cfg = c
    self.sup = sup
    self.journal = sup.journal  # maintained during a job (_journal_space)
    pins = Pins(hal, board)
    limits = board.get("limits", {})
    hw = board.get("heater", {})
    self.hw_max = min(float(c["max_c"]), float(limits.get("max_c", 80)), float(hw.get("max_c", 80)))
    # ---- outputs first, each created in its safe state. Each driver and controller
    # reads its own keys (from_board / from_section): the role only wires them.
    # The step pin's pulse counter comes before its PWM (hal/esp32.py says why);
    # None on a chip without one: the planner's estimate stands.
    self.counter = hal.counter(pins.map["stepper_step"])
    self._count0 = 0            # the counter at the last tick
    self._made = 0              # signed steps the counter saw in the current move
    self.stepper = Stepper.from_board(pins)
    self.heater_pwm = pins.pwm("heater", int(hw.get("pwm_hz", 10)), 0)
    # fan (M106/M107): off until a job line turns it on, off in safe(); 100 Hz as
    # Klipper's default fan cycle time (a MOSFET-switched fan, not a 4-wire one)
    self.fan = pins.pwm("fan", int(board.get("fan", {}).get("pwm_hz", 100)), 0) if "fan" in pins.map else None
    self.fan_duty = 0
    self.thermistor = Thermistor.from_board(pins, board.get("thermistor", {}))
    self.ctl = ModelPid.from_section(c)
    # the protection runs its own copy of the heater model (control/thermal.py model checks)
    self.prot = ThermalProtection.from_section(c, limits)
    self.heater = Heater(self.heater_pwm, self.thermistor, self.ctl, self.prot)
    # A second (body) heater, T1, where the board file declares one (pins heater2
    # and thermistor2_adc, "heater2": {pwm_hz}): the same thermal protection (its own
    # copy, with the printer's model settings) and the same material limits.
    self.heater2 = None
    if "heater2" in pins.map and "thermistor2_adc" in pins.map:
        self.thermistor2 = Thermistor.from_board(pins, board.get("thermistor", {}))
        self.thermistor2.adc = pins.adc("thermistor2_adc")
        self.heater2 = Heater(pins.pwm("heater2", int(board.get("heater2", {}).get("pwm_hz", 10)), 0),
                              self.thermistor2, ModelPid.from_section(c), ThermalProtection.from_section(c, limits))
    self.clog_in = pins.input("clog_sw") if "clog_sw" in pins.map else None
    self.job = PrintJob(c, self.hw_max)
    self.job.has_fan = self.fan is not None
    self.job.heaters = 2 if self.heater2 is not None else 1
    self._pause_ms = 0          # when the pause in force began
    self.state_buf = sup.role_state
    sup.on_resume = self._on_resume
    self.last_host = hal.ticks_ms()
    self.last_us = hal.ticks_us()
    self._fault_raised = False
    self._pf_ms = None          # uptime at a power-fail this boot (outage known without wall time)
    self._wall_s = None         # wall seconds since 2000 at uptime _wall_ms (from the host)
    self._wall_ms = 0
    self.clogged = False
    self._last_state = sup.state
    self._ckpt_ms = 0
    self._ckpt_done = 0         # the finished line the last progress record holds
    self.tuner = None           # printer_tune.Autotune, made when the first tune starts


def _section(config):
    # A section that may lack keys (tests, a role built by hand): defaults fill it in.
    from hearth.roles.printer_cfg import SCHEMA  # forgotten with this module once the app is built

    c = complete(SCHEMA, config)
    if c is None:
        c = {}
        for k in SCHEMA:
            c[k] = SCHEMA[k][1]
        if config:
            for k in config:
                c[k] = config[k]
    return c
