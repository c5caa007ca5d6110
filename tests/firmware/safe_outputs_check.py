# Shared by test_safe_outputs_printer.py and test_safe_outputs_latch.py (one role per
# interpreter: both roles do not fit a 256 KiB heap together). Not a test module.
#
# Every output a board file names in "safe_outputs" is at its safe level after every
# path that makes outputs safe (issue 12, defect 8: stepper DIR stayed high): boot.py's
# safe_boot.run, the supervisor's boot, estop, a fault, a role exception, the power-fail
# path, leaving for the REPL, the reset after a config change. The real board files
# and roles, on the in-process simulated HAL; before each path the role drives its
# outputs away from their safe levels (heater on, stepper enabled, extruding, DIR
# high; the latch servo at the open pulse).
import gc
import json

from hearth import hal
from hearth.hal import sim

_ROOT = __file__.rsplit("/", 3)[0]
_BOOT_JSON = "/tmp/hearth-test-safe-outputs-board.json"


class _Console:
    def read_available(self, max_bytes=128):
        return b""

    def write(self, line):
        pass


def _board(name):
    with open(_ROOT + "/boards/" + name + ".json") as f:
        return json.load(f)


def _unsafe(board):
    # -> the safe_outputs entries not at their level now, with what the pin does
    w = sim.world
    bad = []
    rules = board.get("safe_pwm", {})
    names = {}
    for k, v in board["pins"].items():
        names[v] = k
    for item in board["safe_outputs"]:
        pin = item["pin"]
        if pin in w.pwm:
            freq, duty = w.pwm[pin]
            rule = rules.get(names.get(pin), {})
            ok = duty == 0 if item["level"] == 0 else False
            if not ok and "max_pulse_us" in rule:
                ok = duty * 1000000 // 65535 // freq <= rule["max_pulse_us"]
            if not ok and "max_duty_u16" in rule:
                ok = duty <= rule["max_duty_u16"]
            if not ok:
                bad.append((names.get(pin), pin, "pwm", freq, duty))
        elif w.outputs.get(pin) != item["level"]:
            bad.append((names.get(pin), pin, "level", w.outputs.get(pin), item["level"]))
    return bad


_IMG = []  # one journal image for every App: a fresh 16 KiB block each time fragments the heap
_ERASED = b"\xff" * 4096


def _app(board):
    sim.world.reset(board["chip"])
    gc.collect()
    if not _IMG:
        _IMG.append(sim.world.flash_image("journal", 4 * 4096))  # small: the heap is 256 KiB
    img = _IMG[0]
    for off in range(0, len(img), 4096):
        img[off:off + 4096] = _ERASED
    sim.world.flash["journal"] = img
    pins = board["pins"]
    div = board["supply"]["divider"]
    sim.world.adc[pins["supply_adc"]] = int(board["supply"]["nominal_mv"] * 1000 / div)
    if "power_good" in pins:
        sim.world.inputs[pins["power_good"]] = 1
    with open(_BOOT_JSON, "w") as f:
        json.dump(board, f)
    from hearth import safe_boot
    assert safe_boot.run(_BOOT_JSON) == len(board["safe_outputs"])
    assert _unsafe(board) == [], _unsafe(board)
    from hearth.app import App
    app = App(board=board, config_path="/nonexistent/config.json", console=_Console())
    assert app.role is not None, app.problems
    assert _unsafe(board) == [], _unsafe(board)
    return app


def _drive(app, board):
    # the role's outputs away from safe, as a job or a release would leave them
    role = app.role
    if app.role_name == "printer":
        role.heater_pwm.duty_u16(30000)
        st = role.stepper
        st.enable(True)
        st.set_dir(1)
        st.run(800)
    else:
        role.servo.command("open")
    assert _unsafe(board), "nothing was driven"


def _paths(app):
    sup = app.sup
    return (
        ("estop", lambda: sup.estop("test")),
        ("fault", lambda: sup.fault("TEST", None)),
        ("role exception", lambda: sup.role_exception(ValueError("x"))),
        ("power fail", lambda: sup.power_fail(hal.ticks_ms())),
        ("leave for the REPL", app.leave),
        ("reset after a config change", sup.safe_all),
        ("supervisor boot", lambda: sup.boot(hal.ticks_ms())),
    )


def check_board(name):
    board = _board(name)
    for i in range(7):
        app = _app(board)
        what, fn = _paths(app)[i]
        _drive(app, board)
        fn()
        bad = _unsafe(board)
        assert not bad, "%s: after %s: %r" % (name, what, bad)
        app = None
        fn = None
        gc.collect()
