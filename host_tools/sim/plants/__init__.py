# The physical world around each role, one module per role: heater (the nozzle heater
# and its thermistor, shared), printer, latch. These run unchanged in CPython (the
# virtual board's host side, as host_tools.sim.plants) and in MicroPython (firmware
# tests, as `plants`: host_tools/sim is on MICROPYPATH, set in one place,
# host_tools.sim.MICROPY_PATH). adapters and latch_world are the CPython-only glue to
# the host-side World.
