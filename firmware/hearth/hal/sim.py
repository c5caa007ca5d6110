# The HAL over a simulated world: the host build (MicroPython unix port).
#
# Same interface as hal/esp32.py, and it refuses what an ESP32 refuses (PWM without
# freq and duty, hard IRQs, strapping / input-only / reserved pins as outputs, ADC on
# a pin without ADC1), so a mistake shows up on the desk, not on the drone.
#
# Two backends behind one `world` object:
# * LocalWorld (hal/simlocal.py): in-process, virtual clock that tests advance; pins and
#   ADC values set directly by the test. Firmware unit tests use this.
# * LinkWorld (host_tools/sim/rom/_simlink.py): the virtual board's wire to the host-side
#   world (plants, bench, power supply) and its flash image; the wire is specified in
#   docs/CONTRACTS.md. It plays the chip's `machine` and `esp32` (C in flash, none of the
#   heap): frozen into the faithful interpreter and made by the loader, not firmware.
import sys


PLATFORM = "sim"


def _check_pin(pin, kind):
    # kind: "out", "in", "pull" (an internal pull asked), "adc", "uart" (pin = the id).
    # The world knows the chip (hal/chips.py): the virtual board's world checks on the
    # host, so that the board's heap, held to a chip's, carries no chip tables.
    err = world.check_pin(pin, kind)
    if err:
        raise ValueError(err)


_mod = sys.modules.get("_hearth_sim")
if _mod is not None:
    # The virtual board: the world lives on the host (host_tools/sim/world.py).
    world = _mod.world
else:
    # Firmware tests: an in-process world (in its own module so that a virtual board,
    # whose heap is measured against an ESP32's, does not carry it).
    from hearth.hal.simlocal import LocalWorld, PowerCut  # noqa: F401 - tests catch sim.PowerCut

    world = LocalWorld()


# ---- clock -------------------------------------------------------------------------
# Board time per real time. A virtual board may run faster than real time: its tick
# work, the host's CPU time, then counts that many times over in board time.
CLOCK_X = getattr(world, "speed", 1)
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
        if pull:
            _check_pin(pin, "pull")
        self.pin = pin
        world.config_input(pin, pull)  # without a pull, an open contact floats

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
        _set_pwm(pin, freq, duty_u16)

    def duty_u16(self, d=None):
        if d is None:
            return self._d
        if not 0 <= d <= 65535:
            raise ValueError("duty_u16 out of range")
        self._d = d
        _set_pwm(self.pin, self._f, d)

    def freq(self, f=None):
        if f is None:
            return self._f
        if not 1 <= f <= 40000000:
            raise ValueError("PWM freq out of range")
        self._f = f
        _set_pwm(self.pin, f, self._d)

    def deinit(self):
        _set_pwm(self.pin, 0, 0)


def _set_pwm(pin, f, d):
    # The counter and the world see the change at the same instant (one timestamp):
    # a chip's PCNT counts the very edges the driver gets.
    t = world.now_us()
    _edges(pin, f if d else 0, t)
    world.set_pwm(pin, f, d, t)


class Adc:
    def __init__(self, pin):
        _check_pin(pin, "adc")
        self.pin = pin

    def read_uv(self):
        return world.read_adc(self.pin)


class Counter:
    # A pulse counter on a pin (esp32.PCNT behind machine.Counter): rising edges since
    # it was made, of the PWM this HAL runs on that pin. Counted here, as the chip's
    # counter does beside the CPU, with no round trip to the world: the edges follow
    # the same rules as the world's plant (host_tools/sim/plants/printer.py): a PWM that
    # starts begins its period with an edge, and on an S3 every frequency change
    # restarts the timer (the period in progress cut short, an edge at once).
    def __init__(self, pin):
        if world.chip not in _PCNT_CHIPS:
            raise ValueError("no pulse counter (PCNT) on the %s" % world.chip)
        self.pin = pin
        self._base = _edges(pin, None, world.now_us())

    def value(self):
        return _edges(self.pin, None, world.now_us()) - self._base


_PCNT_CHIPS = ("esp32", "esp32s2", "esp32s3")
_EDGES = {}   # pin -> [edges, running freq, phase (micro-periods), last us]


def _edges(pin, f_new, now):
    # bring pin's edge count up to now (world µs); f_new: the frequency it pulses at
    # from now (0: stopped; None: unchanged). Returns the count.
    e = _EDGES.get(pin)
    if e is None:
        e = _EDGES[pin] = [0, 0, 0, now]
    f = e[1]
    dt = now - e[3]
    if f and dt > 0:
        ph = e[2] + f * dt
        e[0] += ph // 1000000
        e[2] = ph % 1000000
    e[3] = now
    if f_new is not None and f_new != f:
        if f_new and (not f or world.chip == "esp32s3"):
            e[0] += 1      # (re)started: the period begins with an edge
            e[2] = 0
        e[1] = f_new
    return e[0]


def counter(pin):
    # a Counter on pin, None on a chip without a pulse counter
    try:
        return Counter(pin)
    except ValueError:
        return None


class Uart:
    def __init__(self, uart_id, baudrate, tx, rx):
        _check_pin(uart_id, "uart")
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
        img = self._img
        if isinstance(img, bytearray):
            buf[:] = img[start:start + len(buf)]
        else:
            img.readinto(start, buf)

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
