# The in-process simulated world that firmware tests drive (see hal/sim.py): a
# virtual clock in microseconds that only advances when someone sleeps or a test
# says so, pin and ADC values set directly, NOR flash as image files that can be torn.
import os

from hearth.hal.simflash import FileImage


class PowerCut(BaseException):
    # Raised by LocalWorld when a test cuts power: BaseException so that no
    # `except Exception` in the firmware can swallow the end of the world.
    pass


def _erased_file(size):
    # NOR flash, erased: a file in HEARTH_TEST_FLASH_DIR (or /tmp), unlinked at once so
    # that nothing is left behind, and off the GC heap as a chip's flash is.
    d = os.getenv("HEARTH_TEST_FLASH_DIR") or "/tmp"
    path = "%s/hearth-flash-%s.img" % (d, "".join("%02x" % b for b in os.urandom(6)))
    f = open(path, "w+b")
    os.remove(path)
    blk = b"\xff" * 4096
    for _ in range(size // 4096):
        f.write(blk)
    return FileImage(f, size)


class LocalWorld:
    # Virtual time in microseconds; only advances when someone sleeps or a test says so.
    def __init__(self, chip="esp32"):
        self.reset(chip)

    def reset(self, chip="esp32"):
        # Tests call this between cases: a fresh world, same object (modules that
        # imported `world` keep seeing the live one).
        self.chip = chip
        self.now = 0
        self.outputs = {}  # pin -> 0/1
        self.pwm = {}  # pin -> (freq, duty_u16) ; absent once deinit
        self.inputs = {}  # pin -> 0/1
        self.pulls = {}  # pin -> "up" / "down" / None, as the firmware configured it
        self.adc = {}  # pin -> microvolts
        self.uart_rx = {}  # uart id -> bytearray waiting to be read
        self.uart_tx = {}  # uart id -> bytearray written
        self.wdt_timeout = 0
        self.wdt_fed = 0
        self.cause = "power_on"
        self.flash = {}  # label -> FileImage (index like a bytearray)
        self.programs = 0
        self.erases = 0
        self.cut_at_program = 0  # 0: never; N: the Nth program is torn, then PowerCut
        self.tear_bytes = 1
        self.hooks = []  # callables(now_us) run whenever time advances (plant models)

    def now_us(self):
        return self.now

    def sleep_us(self, us):
        if us > 0:
            self.advance_us(us)

    def advance_us(self, us):
        self.now += us
        for h in self.hooks:
            h(self.now)

    def set_output(self, pin, v):
        self.outputs[pin] = v

    def set_pwm(self, pin, freq, duty, t=None):
        if freq:
            self.pwm[pin] = (freq, duty)
        elif pin in self.pwm:
            del self.pwm[pin]

    def read_input(self, pin):
        return self.inputs.get(pin, 0)

    def config_input(self, pin, pull):
        self.pulls[pin] = pull

    def check_pin(self, pin, kind):
        from hearth.hal.chips import check

        return check(self.chip, pin, kind)

    def read_adc(self, pin):
        return self.adc.get(pin, 0)

    def wdt_start(self, timeout_ms):
        self.wdt_timeout = timeout_ms
        self.wdt_fed = self.now

    def wdt_feed(self):
        self.wdt_fed = self.now

    def uart_write(self, uid, data):
        buf = self.uart_tx.get(uid)
        if buf is None:
            buf = self.uart_tx[uid] = bytearray()
        buf.extend(data)

    def uart_read(self, uid, n):
        buf = self.uart_rx.get(uid)
        if not buf:
            return None
        out = bytes(buf[:n])
        self.uart_rx[uid] = buf[n:]  # MicroPython bytearrays have no slice deletion
        return out

    def uart_any(self, uid):
        buf = self.uart_rx.get(uid)
        return len(buf) if buf else 0

    def flash_image(self, label, size):
        img = self.flash.get(label)
        if img is None:
            img = self.flash[label] = _erased_file(size)
        return img

    def note_erase(self):
        self.erases += 1

    def before_program(self, nbytes):
        # Returns how many bytes of this program reach the flash before power dies.
        # -1: the whole program lands, then power dies (a cut right at the boundary).
        self.programs += 1
        if self.cut_at_program and self.programs >= self.cut_at_program:
            return self.tear_bytes if self.tear_bytes < nbytes else -1
        return nbytes

    def power_died(self):
        raise PowerCut()

    def request_reset(self, cause):
        self.cause = cause
        raise PowerCut()
