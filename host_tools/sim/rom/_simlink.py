# The virtual board's peripherals: a line protocol over two pipes to the world on the
# host (host_tools/sim/world.py; the wire is specified in docs/CONTRACTS.md), and the
# module's flash image. On a chip these are `machine` and `esp32`, C in flash that takes
# none of the app's heap; here this module is frozen into the faithful interpreter
# (host_tools/interp) for the same reason. The loader (host_tools/sim/loader.py) makes
# the one LinkWorld and hands it to hearth.hal.sim as `_hearth_sim.world`. Outputs are
# sent at once (a power cut right after a write must still see the write); reads are a
# round trip.
import time


class LinkWorld:
    # The virtual board's world lives in the host process; this is its wire.
    def __init__(self, mod):
        self.chip = mod.chip
        self.cause = mod.reset_cause
        self._in = mod.link_in
        self._out = mod.link_out
        self._flash = mod.flash_file
        self._parts = mod.partitions
        self._timing = mod.timing
        self.speed = mod.speed  # hal.CLOCK_X: how much faster than real time board time runs
        # integral speeds keep to small-int arithmetic (a float is a heap object here)
        self._ispeed = int(mod.speed) if mod.speed == int(mod.speed) else 0
        self._frac = 0.0
        self._last = time.ticks_us()
        self._now = 0
        self.programs = 0
        self.erases = 0
        # Where this interpreter's clock starts: the world maps every timestamp below
        # onto its own clock with it (both are the host's CLOCK_MONOTONIC), so it
        # applies an output at the instant the firmware set it, not when the relay
        # got round to reading the line.
        self._send(b"T %d\n" % self._last)

    def now_us(self):
        # Virtual time runs at `speed` x real time from the interpreter's start (as a
        # board's ticks restart at reset); computed locally: no round trip. Summed
        # from tick differences, so it does not wrap with ticks_us (2**30 us).
        t = time.ticks_us()
        d = time.ticks_diff(t, self._last)
        self._last = t
        if self._ispeed:
            d *= self._ispeed
        else:
            f = d * self.speed + self._frac
            d = int(f)
            self._frac = f - d
        self._now += d
        return self._now

    def sleep_us(self, us):
        if us > 0:
            time.sleep_us(int(us / self.speed))

    def _send(self, line):
        # MicroPython files are unbuffered; flush() would fsync, which a pipe refuses.
        self._out.write(line)

    def _ask(self, line):
        self._send(line)
        return self._in.readline()

    # Outputs and reads carry the firmware's time (us) last: the world acts at it.
    def set_output(self, pin, v):
        self._send(b"D %d %d %d\n" % (pin, v, self.now_us()))

    def set_pwm(self, pin, freq, duty, t=None):
        self._send(b"P %d %d %d %d\n" % (pin, freq, duty, self.now_us() if t is None else t))

    def read_input(self, pin):
        return int(self._ask(b"I %d %d\n" % (pin, self.now_us())))

    def config_input(self, pin, pull):
        self._send(b"C %d %s\n" % (pin, (pull or "none").encode()))

    def check_pin(self, pin, kind):
        # "" when the chip allows it, else the reason (the host's world checks)
        return self._ask(b"K %d %s\n" % (pin, kind.encode())).strip().decode()

    def read_adc(self, pin):
        return int(self._ask(b"A %d %d\n" % (pin, self.now_us())))

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
        # A partition of the module's flash image, as the board's partition table
        # places it; none of that label is what esp32.Partition.find() gives: nothing.
        part = self._parts.get(label)
        if self._flash is None or part is None:
            raise OSError("no flash partition labelled %r" % label)
        from hearth.hal.simflash import FileImage  # the tests' in-process world uses it too

        return FileImage(self._flash, part[1], part[0])

    def before_program(self, nbytes):
        self.programs += 1
        n = int(self._ask(b"G %d\n" % nbytes))
        self._timing.program(nbytes)  # the CPU stalls while the flash programs
        return n

    def note_erase(self):
        self.erases += 1
        self._send(b"E\n")
        self._timing.erase()  # tens to hundreds of ms with the CPU stalled

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
