# The HAL over a simulated world: the host build (MicroPython unix port).
#
# Same interface as hal/esp32.py, and it refuses what an ESP32 refuses (PWM without
# freq and duty, hard IRQs, strapping / input-only / reserved pins as outputs, ADC on
# a pin without ADC1), so a mistake shows up on the desk, not on the drone.
#
# Two backends behind one `world` object:
# * LocalWorld (hal/simlocal.py): in-process, virtual clock that tests advance; pins and ADC values
#   set directly by the test. Firmware unit tests use this.
# * LinkWorld: the virtual board. The loader (host_tools/sim/loader.py) registers a
#   `_hearth_sim` module holding two pipes to the host-side world (plants, bench,
#   power supply) and the journal partition image. Outputs are sent at once (a power
#   cut right after a write must still see the write), reads are a round trip.
import sys
import time

from hearth.hal.chips import CHIPS

PLATFORM = "sim"


class PowerCut(BaseException):
    # Raised by LocalWorld when a test cuts power: BaseException so that no
    # `except Exception` in the firmware can swallow the end of the world.
    pass


def _check_pin(pin, kind):
    chip = CHIPS[world.chip]
    if pin not in chip["gpio"]:
        raise ValueError("invalid pin %d for %s" % (pin, world.chip))
    if pin in chip["reserved"]:
        raise ValueError("pin %d is reserved (flash/USB) on %s" % (pin, world.chip))
    if kind == "out":
        if pin in chip["input_only"]:
            raise ValueError("pin %d can only be input" % pin)
        if pin in chip["strapping"]:
            raise ValueError("pin %d is a strapping pin: not for actuators" % pin)
    if kind == "adc" and pin not in chip["adc"]:
        raise ValueError("pin %d has no ADC1 channel on %s" % (pin, world.chip))


class LinkWorld:
    # The virtual board's world lives in the host process; this is its wire.
    def __init__(self, mod):
        self.chip = mod.chip
        self.cause = mod.reset_cause
        self._in = mod.link_in
        self._out = mod.link_out
        self._flash = mod.flash_file
        self._flash_size = mod.flash_size
        self._speed = mod.speed
        self._t0 = time.ticks_us()
        self.programs = 0
        self.erases = 0

    def now_us(self):
        # Virtual time runs at `speed` x real time from the interpreter's start (as a
        # board's ticks restart at reset); computed locally: no round trip.
        return int(time.ticks_diff(time.ticks_us(), self._t0) * self._speed)

    def sleep_us(self, us):
        if us > 0:
            time.sleep_us(int(us / self._speed))

    def _send(self, line):
        # MicroPython files are unbuffered; flush() would fsync, which a pipe refuses.
        self._out.write(line)

    def _ask(self, line):
        self._send(line)
        return self._in.readline()

    def set_output(self, pin, v):
        self._send(b"D %d %d\n" % (pin, v))

    def set_pwm(self, pin, freq, duty):
        self._send(b"P %d %d %d\n" % (pin, freq, duty))

    def read_input(self, pin):
        return int(self._ask(b"I %d\n" % pin))

    def read_adc(self, pin):
        return int(self._ask(b"A %d\n" % pin))

    def wdt_start(self, timeout_ms):
        self._send(b"W %d\n" % timeout_ms)

    def wdt_feed(self):
        self._send(b"F\n")

    def uart_write(self, uid, data):
        self._send(b"U %d %s\n" % (uid, _hex(data)))

    def uart_read(self, uid, n):
        r = self._ask(b"u %d %d\n" % (uid, n)).strip()
        if not r:
            return None
        return _unhex(r)

    def uart_any(self, uid):
        return int(self._ask(b"a %d\n" % uid))

    def flash_image(self, label, size):
        return _FileImage(self._flash, self._flash_size)

    def before_program(self, nbytes):
        self.programs += 1
        return int(self._ask(b"G %d\n" % nbytes))

    def note_erase(self):
        self.erases += 1
        self._send(b"E\n")

    def power_died(self):
        # The bench cut power in the middle of this program: tell it the torn write
        # is on disk, then wait to be killed, as the chip would simply stop.
        self._send(b"Z\n")
        while True:
            time.sleep_ms(1000)

    def request_reset(self, cause):
        self._send(b"X %s\n" % cause.encode())
        while True:
            time.sleep_ms(1000)


def _hex(data):
    import binascii
    return binascii.hexlify(data)


def _unhex(s):
    import binascii
    return binascii.unhexlify(s)


class _FileImage:
    # A partition image file with bytearray-style slicing, written through at once.
    def __init__(self, f, size):
        self._f = f
        self._size = size

    def __len__(self):
        return self._size

    def __getitem__(self, sl):
        self._f.seek(sl.start)
        return self._f.read(sl.stop - sl.start)

    def __setitem__(self, sl, data):
        self._f.seek(sl.start)
        self._f.write(data)  # unbuffered: on disk for the next boot even if killed now


_mod = sys.modules.get("_hearth_sim")
if _mod is not None:
    world = LinkWorld(_mod)
else:
    # Firmware tests: an in-process world (kept in its own module so a virtual board,
    # whose heap is measured against an ESP32's, does not carry it).
    from hearth.hal.simlocal import LocalWorld

    world = LocalWorld()


# ---- clock -------------------------------------------------------------------------
_TICKS_PERIOD = 1 << 30  # as MicroPython's ticks_ms/us on the ESP32
_TICKS_MASK = _TICKS_PERIOD - 1
_TICKS_HALF = _TICKS_PERIOD // 2


def ticks_us():
    return world.now_us() & _TICKS_MASK


def ticks_ms():
    return (world.now_us() // 1000) & _TICKS_MASK


def ticks_diff(a, b):
    return ((a - b + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF


def ticks_add(a, d):
    return (a + d) & _TICKS_MASK


def sleep_ms(ms):
    world.sleep_us(ms * 1000)


def sleep_us(us):
    world.sleep_us(us)


# ---- reset -------------------------------------------------------------------------
def reset_cause():
    # One of: power_on, hard, soft, wdt, brownout, deepsleep, unknown. On a real ESP32
    # a brown-out usually reads as power_on: the journal, not this, decides recovery.
    return world.cause


def reset():
    world.request_reset("soft")


def chip():
    return world.chip


def unique_id():
    return b"\x00\x00sim\x00\x01"


# ---- pins --------------------------------------------------------------------------
class Output:
    def __init__(self, pin, value):
        # `value` is required: an output without a defined first level is a glitch.
        _check_pin(pin, "out")
        self.pin = pin
        self._v = 1 if value else 0
        world.set_output(pin, self._v)

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0
        world.set_output(self.pin, self._v)
        return self._v


class Input:
    def __init__(self, pin, pull=None):
        _check_pin(pin, "in")
        if pull not in (None, "up", "down"):
            raise ValueError("pull must be None, 'up' or 'down'")
        if pull and pin in CHIPS[world.chip]["input_only"]:
            raise ValueError("pin %d has no internal pull resistor" % pin)
        self.pin = pin

    def value(self):
        return world.read_input(self.pin)

    def irq(self, handler, trigger=3, hard=False):
        if hard:
            # MicroPython on the ESP32 has no hard IRQs: callbacks are scheduled.
            raise ValueError("hard IRQs are not supported on the ESP32")
        self._irq = handler


class Pwm:
    def __init__(self, pin, freq, duty_u16):
        # Both are required: PWM(pin) alone starts 5 kHz at 50 % on an ESP32, which
        # for a heater is half power and for a servo a glitch.
        if freq is None or duty_u16 is None:
            raise ValueError("PWM needs freq and duty_u16")
        _check_pin(pin, "out")
        if not 1 <= freq <= 40000000:
            raise ValueError("PWM freq out of range")
        if not 0 <= duty_u16 <= 65535:
            raise ValueError("duty_u16 out of range")
        self.pin = pin
        self._f = freq
        self._d = duty_u16
        world.set_pwm(pin, freq, duty_u16)

    def duty_u16(self, d=None):
        if d is None:
            return self._d
        if not 0 <= d <= 65535:
            raise ValueError("duty_u16 out of range")
        self._d = d
        world.set_pwm(self.pin, self._f, d)

    def freq(self, f=None):
        if f is None:
            return self._f
        if not 1 <= f <= 40000000:
            raise ValueError("PWM freq out of range")
        self._f = f
        world.set_pwm(self.pin, f, self._d)

    def deinit(self):
        world.set_pwm(self.pin, 0, 0)


class Adc:
    def __init__(self, pin):
        _check_pin(pin, "adc")
        self.pin = pin

    def read_uv(self):
        return world.read_adc(self.pin)


class Uart:
    def __init__(self, uart_id, baudrate, tx, rx):
        if not 1 <= uart_id < CHIPS[world.chip]["uarts"]:
            raise ValueError("UART %d not available for the app" % uart_id)
        _check_pin(tx, "out")
        _check_pin(rx, "in")
        self.id = uart_id
        self.baudrate = baudrate

    def write(self, data):
        world.uart_write(self.id, data)
        return len(data)

    def read(self, n=256):
        return world.uart_read(self.id, n)

    def any(self):
        return world.uart_any(self.id)


class Watchdog:
    # The ESP32's task watchdog cannot be stopped once started: neither can this one.
    def __init__(self, timeout_ms):
        if not 1 <= timeout_ms <= 0x7FFFFFFF:
            raise ValueError("watchdog timeout out of range")
        self.timeout_ms = timeout_ms
        world.wdt_start(timeout_ms)

    def feed(self):
        world.wdt_feed()


_FF256 = b"\xff" * 256


class Partition:
    # A raw flash partition with NOR rules: erase sets a 4 KiB block to 0xFF,
    # programming can only clear bits (new = old AND data).
    BLOCK = 4096

    def __init__(self, label, size=64 * 1024):
        self.label = label
        self._img = world.flash_image(label, size)
        self.block_size = self.BLOCK
        self.block_count = len(self._img) // self.BLOCK

    def _span(self, block, off, n):
        if block < 0 or block >= self.block_count or off < 0:
            raise ValueError("flash address out of partition")
        start = block * self.BLOCK + off
        if start + n > self.block_count * self.BLOCK:
            raise ValueError("flash access past end of partition")
        return start

    def readblocks(self, block, buf, off=0):
        start = self._span(block, off, len(buf))
        buf[:] = self._img[start:start + len(buf)]

    def program(self, block, data, off=0):
        start = self._span(block, off, len(data))
        n = world.before_program(len(data))
        die_after = n < 0
        if die_after:
            n = len(data)
        img = self._img
        if isinstance(img, bytearray):
            # In place: the power-fail path is measured for allocation, and a flash
            # chip's program allocates nothing either.
            for i in range(n):
                img[start + i] &= data[i]
        else:
            old = img[start:start + n]
            new = bytearray(n)
            for i in range(n):
                new[i] = old[i] & data[i]
            img[start:start + n] = new
        if n < len(data) or die_after:
            world.power_died()

    def erase(self, block):
        # In 256-byte pieces: an erase on the chip allocates nothing, and a 4 KiB
        # temporary can fail on a fragmented heap (an erase during a job).
        start = self._span(block, 0, self.BLOCK)
        world.note_erase()
        img = self._img
        for off in range(start, start + self.BLOCK, 256):
            img[off:off + 256] = _FF256


def free_heap():
    import gc
    return gc.mem_free()
