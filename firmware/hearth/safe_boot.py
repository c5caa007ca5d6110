# Runs from boot.py before anything else. Kept tiny and independent of the rest of
# the firmware so it runs even if the rest is broken or half-copied:
#   run():   drive each actuator pin of /board.json's "safe_outputs" to its safe level,
#            but only when the board file is for this chip: another chip's pin numbers
#            are other wires here (a clog switch, a stepper DIR), so none is touched;
#   check(): is the firmware complete (hearth.manifest) and the board file for this
#            chip? main.py reads `problem` and starts the app only when it is None.
import json

from hearth import hal

# Until check() has run and passed, the firmware counts as incomplete.
problem = "firmware not checked at boot"
chip_problem = None  # set by run(): the board file is for another chip


def wrong_chip(board):
    # -> why this board file must not drive this chip's pins, or None
    want = board.get("chip")
    have = hal.chip()
    if want is None or want == have:
        return None
    return "board file %s is for an %s, this chip is an %s: no pin driven, app not started; flash this " \
        "board's own board file (`hearth flash --board NAME`)" % (board.get("name"), want, have)


def run(path="/board.json"):
    global chip_problem
    chip_problem = None
    try:
        with open(path) as f:
            board = json.load(f)
    except (OSError, ValueError):
        return 0
    chip_problem = wrong_chip(board)
    if chip_problem:
        print("boot:", chip_problem)
        return 0
    n = 0
    for item in board.get("safe_outputs", ()):
        try:
            hal.Output(item["pin"], item["level"])
            n += 1
        except (ValueError, KeyError, TypeError) as e:
            print("boot: cannot make pin safe:", item, e)
    return n


def check():
    global problem
    if chip_problem:
        problem = chip_problem
        return problem
    try:
        from hearth import manifest

        problem = manifest.check()
    except Exception as e:  # noqa: BLE001 - a broken check means an incomplete firmware
        problem = "firmware check failed: %r" % (e,)
    if problem:
        problem = "incomplete firmware: " + problem
        print("boot:", problem)
    return problem
