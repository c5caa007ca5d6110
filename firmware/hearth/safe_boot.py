# Runs from boot.py before anything else. Kept tiny and independent of the rest of
# the firmware so it runs even if the rest is broken or half-copied:
#   run():   drive each actuator pin of /board.json's "safe_outputs" to its safe level;
#   check(): is the firmware complete (hearth.manifest)? main.py reads `problem`
#            and starts the app only when it is None.
import json

from hearth import hal

# Until check() has run and passed, the firmware counts as incomplete.
problem = "firmware not checked at boot"


def run(path="/board.json"):
    try:
        with open(path) as f:
            board = json.load(f)
    except (OSError, ValueError):
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
    try:
        from hearth import manifest

        problem = manifest.check()
    except Exception as e:  # noqa: BLE001 - a broken check means an incomplete firmware
        problem = "firmware check failed: %r" % (e,)
    if problem:
        print("boot: INCOMPLETE FIRMWARE:", problem)
    return problem
