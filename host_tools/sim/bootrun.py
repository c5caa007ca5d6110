# The virtual board's first program (host_tools/sim/relay.py runs it with -i): compiles
# and runs loader.py (the "board": flash, filesystem, the sim module), then boot.py and,
# after a power-on or a reset from the friendly REPL, main.py, as MicroPython's main
# loop does. Not firmware. loader.py's code is compiled here rather than run as this
# script so that, once set up, it can leave the heap (its module code is not on the
# stack while main.py runs): the chip's counterparts (ROM, C, frozen _boot.py) take
# none of the app's heap either.
import os

_g = {"__name__": "_hearth_loader"}
with open(os.getenv("HEARTH_SIM_LOADER")) as _f:
    exec(compile(_f.read(), "loader.py", "exec"), _g)
_f = None
_mode = _g["_setup"]()
_run = _g["_run"]
_g = None
_run("boot.py")
if _mode == "friendly":
    _run("main.py")
