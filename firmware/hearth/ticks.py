# Wrap-around time for the pure floors (control/, drivers/): ticks_ms/ticks_us values
# wrap at 2**30 on the ESP32 (MicroPython's TICKS_PERIOD), so differences are taken
# modulo that period and read as signed. Pure code gets `now` from its caller and never
# calls the clock, so it cannot use hal.ticks_diff; this is the one copy it uses.
from micropython import const

PERIOD = const(0x40000000)
_HALF = const(0x20000000)
_MASK = const(0x3FFFFFFF)


def ticks_diff(a, b):
    # a - b in ticks, signed, for two readings less than half a period apart.
    return ((a - b + _HALF) & _MASK) - _HALF


def ticks_add(t, d):
    # t + d in ticks, wrapped like the clock's own readings.
    return (t + d) & _MASK
