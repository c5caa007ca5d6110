# The HAL on a real ESP32: the only module in the firmware that imports machine or
# esp32. Same interface as hal/sim.py; keep the two in step.
import gc
import sys
import time

import esp32
import machine

PLATFORM = "esp32"

ticks_us = time.ticks_us
ticks_ms = time.ticks_ms
ticks_diff = time.ticks_diff
ticks_add = time.ticks_add
sleep_ms = time.sleep_ms
sleep_us = time.sleep_us
CLOCK_X = 1  # board time is real time (a virtual board may run faster: hal/sim.py)

_CAUSES = {
    machine.PWRON_RESET: "power_on",
    machine.HARD_RESET: "hard",
    machine.WDT_RESET: "wdt",
    machine.DEEPSLEEP_RESET: "deepsleep",
    machine.SOFT_RESET: "soft",
}


def reset_cause():
    # machine has no BROWNOUT_RESET on the ESP32: a brown-out reads as power_on.
    return _CAUSES.get(machine.reset_cause(), "unknown")


def reset():
    machine.reset()


def chip():
    # the chip family, as board files name it; from e.g. "Generic ESP32S3 module with ESP32S3"
    m = sys.implementation._machine
    for name in ("ESP32S3", "ESP32S2", "ESP32C3", "ESP32C6"):
        if name in m:
            return name.lower()
    return "esp32"


def unique_id():
    return machine.unique_id()


class Output:
    def __init__(self, pin, value):
        self.pin = pin
        self._p = machine.Pin(pin, machine.Pin.OUT, value=1 if value else 0)

    def value(self, v=None):
        if v is None:
            return self._p.value()
        self._p.value(1 if v else 0)
        return 1 if v else 0


class Input:
    def __init__(self, pin, pull=None):
        self.pin = pin
        if pull == "up":
            self._p = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)
        elif pull == "down":
            self._p = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_DOWN)
        else:
            self._p = machine.Pin(pin, machine.Pin.IN)

    def value(self):
        return self._p.value()

    def irq(self, handler, trigger=3, hard=False):
        if hard:
            raise ValueError("hard IRQs are not supported on the ESP32")
        self._p.irq(handler=handler, trigger=trigger)


class Pwm:
    def __init__(self, pin, freq, duty_u16):
        if freq is None or duty_u16 is None:
            raise ValueError("PWM needs freq and duty_u16")
        self.pin = pin
        self._f = freq
        self._d = duty_u16
        self._p = machine.PWM(machine.Pin(pin), freq=freq, duty_u16=duty_u16)

    def duty_u16(self, d=None):
        if d is None:
            return self._d
        self._d = d
        self._p.duty_u16(d)

    def freq(self, f=None):
        if f is None:
            return self._f
        self._f = f
        self._p.freq(f)

    def deinit(self):
        self._p.deinit()


class Adc:
    def __init__(self, pin):
        self.pin = pin
        self._a = machine.ADC(machine.Pin(pin), atten=machine.ADC.ATTN_11DB)

    def read_uv(self):
        return self._a.read_uv()


class Counter:
    # Rising edges on a pin since made: machine.Counter (MicroPython >= 1.26, frozen
    # over esp32.PCNT; 16-bit hardware count widened by its overflow IRQ). Made before
    # the pin's PWM: IDF's pcnt_set_pin turns the pad into an input, the LEDC channel
    # configured after it drives the pad through the GPIO matrix and the PCNT keeps
    # reading its input path. The role cross-checks the count against its own estimate
    # and stops trusting a counter that disagrees (core/extruder.py), so a pad that
    # does not loop back costs the closed loop, never a runaway.
    def __init__(self, pin):
        self.pin = pin
        self._c = machine.Counter(0, machine.Pin(pin), edge=machine.Counter.RISING)

    def value(self):
        return self._c.value()


def counter(pin):
    # a Counter on pin, None where the chip has no PCNT (ESP32-C3) or the firmware
    # predates machine.Counter
    if not hasattr(machine, "Counter"):
        return None
    try:
        return Counter(pin)
    except (ValueError, OSError):
        return None


class Uart:
    def __init__(self, uart_id, baudrate, tx, rx):
        self.id = uart_id
        self.baudrate = baudrate
        self._u = machine.UART(uart_id, baudrate=baudrate, tx=tx, rx=rx, rxbuf=1024)

    def write(self, data):
        return self._u.write(data)

    def read(self, n=256):
        return self._u.read(n)

    def any(self):
        return self._u.any()


class Watchdog:
    def __init__(self, timeout_ms):
        self.timeout_ms = timeout_ms
        self._w = machine.WDT(timeout=timeout_ms)

    def feed(self):
        self._w.feed()


class Partition:
    BLOCK = 4096

    def __init__(self, label, size=0):
        found = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=label)
        if not found:
            raise OSError("no flash partition labelled %r" % label)
        self.label = label
        self._p = found[0]
        self.block_size = self._p.ioctl(5, 0)
        self.block_count = self._p.ioctl(4, 0)

    def readblocks(self, block, buf, off=0):
        self._p.readblocks(block, buf, off)

    def program(self, block, data, off=0):
        # writeblocks with an offset is a raw program on the ESP32: no erase.
        self._p.writeblocks(block, data, off)

    def erase(self, block):
        self._p.ioctl(6, block)


def free_heap():
    return gc.mem_free()
