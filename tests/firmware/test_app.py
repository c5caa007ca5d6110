# The app's superloop on the simulated HAL: console commands, estop, power fail
# making outputs safe within one tick with one flash program and no erase, recovery.
import json

from hearth.hal import sim
from hearth.runtime.protocol import crc_hex, line_bytes
from testrole import Role

BOARD = {
    "name": "testboard", "chip": "esp32", "role": "test",
    "pins": {"supply_adc": 34, "heater": 25},
    "supply": {"divider": 2.0, "fail_mv": 4300, "restore_mv": 4600, "restore_ms": 50},
}


class FakeConsole:
    def __init__(self):
        self.inbox = bytearray()
        self.out = []

    def read_available(self, max_bytes=128):
        d = bytes(self.inbox[:max_bytes])
        self.inbox = self.inbox[max_bytes:]
        return d

    def write(self, line, droppable=False):
        self.out.append(line_bytes(line))

    def pump(self, now_ms):
        return 0

    def drain(self, timeout_ms=0):
        pass

    def status(self):
        return {}


def _frame(seq, cmd, args=None):
    body = b"%d:%s" % (seq, cmd.encode())
    if args is not None:
        body += b" " + json.dumps(args).encode()
    return b"@" + body + b"*" + crc_hex(body) + b"\n"


def _answer(con, seq):
    for line in con.out:
        if line.startswith(b"=%d:" % seq):
            body = line[1:line.rindex(b"*")]
            assert crc_hex(body) == line[line.rindex(b"*") + 1:].strip()
            status, _, rest = body.split(b":", 1)[1].partition(b" ")
            return status, rest
    raise AssertionError("no answer to seq %d in %r" % (seq, con.out))


def _app(con):
    from hearth.app import App
    sim.world.adc[34] = 2500000  # 5.0 V supply through a 1:2 divider
    return App(board=BOARD, config_path="/nonexistent/config.json", console=con, role_cls=Role)


def test_hello_status_and_person_typed_line():
    con = FakeConsole()
    app = _app(con)
    assert app.sup.state == "SAFE"
    con.inbox += _frame(7, "hello") + b"status\n"
    app.tick()
    st, body = _answer(con, 7)
    h = json.loads(body)
    assert st == b"ok" and h["board"] == "testboard" and h["role"] == "test" and h["state"] == "SAFE"
    assert h["config_hash"] == "defaults" and h["reset_cause"] == "power_on"
    st, body = _answer(con, 0)
    assert st == b"ok" and json.loads(body)["loop"]["ticks"] >= 0


def test_unframed_write_refused_nothing_moves():
    con = FakeConsole()
    app = _app(con)
    con.inbox += b'run {"job": 3}\n'
    app.tick()
    st, body = _answer(con, 0)
    assert st == b"err" and body.startswith(b"READ_ONLY")
    assert sim.world.pwm[25][1] == 0 and app.sup.state == "SAFE"


def test_estop_in_the_same_tick():
    con = FakeConsole()
    app = _app(con)
    con.inbox += _frame(1, "run", {"job": 5})
    app.tick()
    app.tick()
    assert sim.world.pwm[25][1] == 40000 and app.sup.state == "ACTIVE"
    con.inbox += _frame(2, "estop")
    app.tick()
    assert sim.world.pwm[25][1] == 0
    assert _answer(con, 2)[0] == b"ok"
    assert app.sup.state == "SAFE"


def test_power_fail_safe_within_one_tick_one_program_no_erase():
    con = FakeConsole()
    app = _app(con)
    con.inbox += _frame(1, "run", {"job": 9})
    app.tick()
    app.tick()
    assert sim.world.pwm[25][1] == 40000
    p0, e0 = sim.world.programs, sim.world.erases
    sim.world.adc[34] = 1500000  # supply collapses to 3.0 V
    app.tick()  # the very next tick
    assert sim.world.pwm[25][1] == 0
    assert app.sup.state == "POWERFAIL"
    assert sim.world.programs - p0 == 1 and sim.world.erases - e0 == 0
    # The board dies; on the next boot the journal says a job was running.
    flash = sim.world.flash
    sim.world.reset()
    sim.world.flash = flash
    con2 = FakeConsole()
    app2 = _app(con2)
    assert app2.sup.state == "RECOVERY"
    rec = app2.sup.describe()["recovery"]
    assert rec["job"] == 9
    assert sim.world.pwm[25][1] == 0  # nothing actuated at boot
    con2.inbox += _frame(3, "resume", {"token": "9:999"})
    app2.tick()
    st, body = _answer(con2, 3)
    assert st == b"err" and body.startswith(b"STALE")
    assert app2.sup.state == "RECOVERY" and sim.world.pwm[25][1] == 0
    con2.inbox += _frame(4, "discard", {"token": rec["token"]})
    app2.tick()
    assert _answer(con2, 4)[0] == b"ok"
    assert app2.sup.state == "READY"


def test_role_exception_is_a_fault_not_a_crash():
    con = FakeConsole()
    app = _app(con)

    def boom(now_ms):
        raise RuntimeError("bug")

    app.role.tick = boom
    app.tick()
    assert app.sup.state == "FAULT"
    con.inbox += _frame(5, "faults")
    app.tick()
    st, body = _answer(con, 5)
    assert st == b"ok" and json.loads(body)["faults"][-1]["code"] == "ROLE_EXC"


def test_clear_on_a_safe_board_is_a_no_op_not_internal():
    # issue 12, defect 7: `clear` with nothing to clear answered INTERNAL (a bug)
    con = FakeConsole()
    app = _app(con)
    assert app.sup.state == "SAFE"
    con.inbox += _frame(11, "clear")
    app.tick()
    st, body = _answer(con, 11)
    assert st == b"ok", body
    d = json.loads(body)
    assert d["state"] == "SAFE" and d["cleared"] is False
    # READY: also nothing to clear, and nothing changes
    con.inbox += _frame(12, "run", {"job": 3})
    app.tick()
    con.inbox += _frame(13, "clear")
    app.tick()
    st, body = _answer(con, 13)
    assert st == b"ok" and json.loads(body)["cleared"] is False
    assert app.sup.state == "ACTIVE" and sim.world.pwm[25][1] == 40000


def test_clear_in_recovery_is_a_state_error():
    con = FakeConsole()
    app = _app(con)
    con.inbox += _frame(1, "run", {"job": 4})
    app.tick()
    sim.world.adc[34] = 1500000
    app.tick()
    flash = sim.world.flash
    sim.world.reset()
    sim.world.flash = flash
    con2 = FakeConsole()
    app2 = _app(con2)
    assert app2.sup.state == "RECOVERY"
    con2.inbox += _frame(2, "clear")
    app2.tick()
    st, body = _answer(con2, 2)
    assert st == b"err" and body.startswith(b"STATE"), body
    assert app2.sup.state == "RECOVERY"


def test_clear_refused_while_the_fault_cause_is_still_there():
    con = FakeConsole()
    app = _app(con)
    app.role.cause = "the test fault is still on"
    app.sup.fault("TEST", None)
    con.inbox += _frame(3, "clear")
    app.tick()
    st, body = _answer(con, 3)
    assert st == b"err" and body.startswith(b"STATE") and b"still" in body, body
    assert app.sup.state == "FAULT"
    app.role.cause = None
    con.inbox += _frame(4, "clear")
    app.tick()
    st, body = _answer(con, 4)
    assert st == b"ok" and json.loads(body) == {"state": "SAFE", "cleared": True}, body


LATCH_BOARD = {
    "name": "latch-esp32", "chip": "esp32", "role": "latch",
    "pins": {"servo": 25, "solenoid": 13, "supply_adc": 34, "hx711_sck": 18, "status_led": 23},
    "safe_outputs": [{"pin": 25, "level": 0}, {"pin": 13, "level": 0}, {"pin": 18, "level": 0},
                     {"pin": 23, "level": 0}],
    "supply": {"divider": 2.0},
}


def test_board_file_for_another_chip_touches_no_pin():
    # issue 12, defect 3: a latch (esp32) board file on an ESP32-S3 drove the printer's
    # pins at boot, then crashed on a pin the S3 has no ADC on
    from hearth import safe_boot
    sim.world.reset("esp32s3")
    path = "/tmp/hearth-test-wrong-chip-board.json"
    with open(path, "w") as f:
        json.dump(LATCH_BOARD, f)
    assert safe_boot.run(path) == 0
    assert sim.world.outputs == {} and sim.world.pwm == {}
    why = safe_boot.chip_problem
    assert why and "esp32s3" in why and "latch-esp32" in why, why
    # the firmware check keeps the reason: main.py does not start the app
    assert safe_boot.check() == why
    # the app, started anyway, runs no role and touches no pin; hello says why
    from hearth.app import App
    con = FakeConsole()
    app = App(board=LATCH_BOARD, config_path="/nonexistent/config.json", console=con)
    assert app.role is None and sim.world.outputs == {} and sim.world.pwm == {}
    con.inbox += _frame(21, "hello")
    app.tick()
    st, body = _answer(con, 21)
    h = json.loads(body)
    assert st == b"ok" and h["chip"] == "esp32s3" and h["role"] is None
    assert any("esp32s3" in p and "esp32" in p for p in h["problems"]), h
    # and the right chip runs as before
    sim.world.reset("esp32")
    assert safe_boot.run(path) == 4 and safe_boot.chip_problem is None
    assert sim.world.outputs == {25: 0, 13: 0, 18: 0, 23: 0}


def test_rare_commands_load_on_demand_and_are_forgotten():
    import sys

    con = FakeConsole()
    app = _app(con)
    assert "hearth.runtime.appcmds" not in sys.modules
    con.inbox += _frame(3, "help")
    app.tick()
    cmds = json.loads(_answer(con, 3)[1])["commands"]
    assert cmds["faults"] == "r" and cmds["format_journal"] == "w" and cmds["config_get"] == "r"
    con.inbox += _frame(4, "faults") + _frame(5, "clear") + _frame(6, "config_get")
    app.tick()
    st, body = _answer(con, 4)
    assert st == b"ok" and json.loads(body)["faults"] == []
    st, body = _answer(con, 5)
    assert st == b"ok" and json.loads(body) == {"state": "SAFE", "cleared": False}
    assert _answer(con, 6)[0] == b"ok"
    # answered, then dropped: their code is not on the heap between uses
    assert "hearth.runtime.appcmds" not in sys.modules and "hearth.runtime.configcmd" not in sys.modules
    assert app._config_cmds is None
