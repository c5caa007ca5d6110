# The hardware abstraction layer. Everything above hal/ imports `hearth.hal` and
# never `machine` or `esp32`: the real ESP32 implementation is chosen on the board,
# the simulated one everywhere else (the unix-port "host build").
import sys

if sys.platform == "esp32":
    from hearth.hal.esp32 import *  # noqa: F403
else:
    from hearth.hal.sim import *  # noqa: F403
