# A minimal role (one PWM "heater" on the board's heater pin, a job, a stuck-loop
# switch) so the board-level machinery (supervisor, journal, power fail, watchdog) is
# tested independently of the real roles: by tests/firmware/test_app.py in-process,
# and copied to a virtual board as /testrole.py by tests/e2e/test_powerfail.py.
from hearth import hal


class Role:
    name = "printer"

    def __init__(self, board, config, sup):
        self.sup = sup
        self.pwm = hal.Pwm(board["pins"]["heater"], 10, 0)
        self.duty = 0
        self.hang = False
        self.job = 0
        self.step_n = 0
        self.cause = None  # a fault cause the test says is still present

    def fault_cause(self):
        return self.cause

    def safe(self):
        self.duty = 0
        self.pwm.duty_u16(0)

    def tick(self, now_ms):
        while self.hang:  # a stuck role: the watchdog must reset the board
            pass
        if self.sup.state in ("ACTIVE",):
            self.pwm.duty_u16(self.duty)

    def commands(self):
        return {"run": (self.cmd_run, True), "step": (self.cmd_step, True), "hang": (self.cmd_hang, True)}

    def cmd_run(self, args):
        if self.sup.state == "SAFE":
            self.sup.ready()
        self.job = int(args["job"])
        self.sup.job_start(self.job)
        self.duty = 40000
        return {"job": self.job}

    def cmd_step(self, args):
        self.step_n += 1
        self.role_bytes()
        return {"seq": self.sup.checkpoint()}

    def role_bytes(self):
        rs = self.sup.role_state
        rs[0] = self.step_n & 0xFF

    def cmd_hang(self, args):
        self.hang = True
        return {}

    def status(self):
        return {"duty": self.duty, "job": self.job}
