# The payload latch's physical world, for tests and the virtual board.
#
# Runs in CPython (the bench side of the virtual board) and in MicroPython (firmware
# tests with a LocalWorld): no imports, integer maths only.
#
# Model:
# * a hobby servo on `servo_pin` follows its PWM pulse (freq, duty_u16) to a target
#   position, at full travel in travel_ms; no PWM (deinit / power off): it stays put.
#   Position is 0 (locked) .. 1000 (open), pulses locked_us..open_us mapped linearly.
# * the bolt follows the servo; the lock switch closes at pos <= sw_band, the open
#   switch at pos >= 1000 - sw_band (active high on lock_sw_pin / open_sw_pin).
# * jam fault: the bolt sticks where it is (jam(True)); stuck_switch(pin, v) forces a
#   switch reading.
# * payload: payload_g hangs on the bolt; when the bolt passes drop_pos the payload
#   falls (payload_g -> 0, `dropped` set). slip(): the payload slips out while
#   locked (mass lost, as a bad hook or a torn bag would).
# * load cell: an HX711 model on (hx_clk_pin, hx_dout_pin): a conversion every
#   conv_ms; DOUT low when ready; each rising edge of PD_SCK shifts out the next bit
#   (MSB first) of raw = offset + payload_g * counts_per_g. It needs to see clock
#   edges: call on_output(pin, v) for every output write (attach() does that on a
#   LocalWorld by wrapping world.set_output).
# * presence_pin (optional): a simple presence switch, 1 while payload_g >= 1.
#
# The plant reads `io.pwm` (pin -> (freq, duty)) and writes `io.inputs` (pin -> 0/1):
# a LocalWorld is such an io (attach() hooks it in); the host-side World calls
# advance(world, dt_s) and should forward output writes to on_output() for the HX711.

DEFAULTS = {
    "travel_ms": 300,
    "locked_us": 1000,
    "open_us": 2000,
    "sw_band": 40,
    "drop_pos": 700,
    "payload_g": 0,
    "counts_per_g": 420,
    "offset": 8000,
    "conv_ms": 100,
}


class LatchPlant:
    def __init__(self, io, servo_pin, lock_sw_pin, open_sw_pin, hx_clk_pin=None, hx_dout_pin=None,
                 presence_pin=None, config=None):
        cfg = dict(DEFAULTS)
        if config:
            for k in config:
                if k not in DEFAULTS:
                    raise ValueError("unknown plant config key: %s" % k)
                cfg[k] = config[k]
        self.cfg = cfg
        self.io = io
        self.servo_pin = servo_pin
        self.lock_sw_pin = lock_sw_pin
        self.open_sw_pin = open_sw_pin
        self.hx_clk_pin = hx_clk_pin
        self.hx_dout_pin = hx_dout_pin
        self.presence_pin = presence_pin
        self.pos = 0
        self.payload_g = cfg["payload_g"]
        self.dropped = False
        self.jammed = False
        self.stuck = {}
        self._last_us = None
        self._rem_us = 0
        self._host_us = 0
        # HX711 model
        self._hx_word = 0
        self._hx_bit = -1  # -1: no conversion ready
        self._hx_next_us = 0
        self._clk = 0
        self.hx_reads = 0
        self._publish()

    # ---- faults / bench ----------------------------------------------------------
    def jam(self, on=True):
        self.jammed = bool(on)

    def slip(self):
        self.payload_g = 0

    def load(self, grams):
        self.payload_g = grams
        self.dropped = False

    def stuck_switch(self, pin, value=None):
        if value is None:
            self.stuck.pop(pin, None)
        else:
            self.stuck[pin] = 1 if value else 0
        self._publish()

    # ---- physics -------------------------------------------------------------------
    def target(self):
        p = self.io.pwm.get(self.servo_pin)
        if not p or not p[0]:
            return None
        freq, duty = p
        us = duty * 1000000 // (freq * 65536)
        lo = self.cfg["locked_us"]
        hi = self.cfg["open_us"]
        t = (us - lo) * 1000 // (hi - lo)
        return 0 if t < 0 else 1000 if t > 1000 else t

    def step(self, now_us):
        if self._last_us is None:
            self._last_us = now_us
        dt = now_us - self._last_us + self._rem_us
        self._last_us = now_us
        step_us = self.cfg["travel_ms"]  # us per 1/1000 of travel (1000 steps in travel_ms)
        moves = dt // step_us
        self._rem_us = dt - moves * step_us
        tgt = self.target()
        if tgt is not None and not self.jammed and moves:
            if self.pos < tgt:
                self.pos = min(tgt, self.pos + moves)
            elif self.pos > tgt:
                self.pos = max(tgt, self.pos - moves)
        if self.pos >= self.cfg["drop_pos"] and self.payload_g:
            self.payload_g = 0
            self.dropped = True
        if self.hx_dout_pin is not None and now_us >= self._hx_next_us and self._hx_bit < 0:
            self._convert(now_us)
        self._publish()

    __call__ = step  # so the plant itself can be a world hook

    def advance(self, world, dt_s):
        # The host-side World's plant interface (host_tools/sim/world.py): dt in seconds.
        self.io = world
        self._host_us += int(dt_s * 1000000)
        self.step(self._host_us)

    def raw(self):
        v = self.cfg["offset"] + self.payload_g * self.cfg["counts_per_g"]
        v = 0x7FFFFF if v > 0x7FFFFF else -0x800000 if v < -0x800000 else v
        return v & 0xFFFFFF

    def _convert(self, now_us):
        self._hx_word = self.raw()
        self._hx_bit = 0
        self._hx_next_us = now_us + self.cfg["conv_ms"] * 1000
        self.io.inputs[self.hx_dout_pin] = 0  # ready

    def on_output(self, pin, v):
        if pin != self.hx_clk_pin or self.hx_dout_pin is None:
            return
        rising = v and not self._clk
        self._clk = 1 if v else 0
        if not rising:
            return
        if 0 <= self._hx_bit < 24:
            b = (self._hx_word >> (23 - self._hx_bit)) & 1
            self.io.inputs[self.hx_dout_pin] = b
            self._hx_bit += 1
        else:
            # gain pulses after the 24th bit: DOUT high until the next conversion
            self.io.inputs[self.hx_dout_pin] = 1
            if self._hx_bit >= 24:
                self._hx_bit = -1
                self.hx_reads += 1

    def _publish(self):
        ins = self.io.inputs
        band = self.cfg["sw_band"]
        ins[self.lock_sw_pin] = self.stuck.get(self.lock_sw_pin, 1 if self.pos <= band else 0)
        ins[self.open_sw_pin] = self.stuck.get(self.open_sw_pin, 1 if self.pos >= 1000 - band else 0)
        if self.presence_pin is not None:
            ins[self.presence_pin] = 1 if self.payload_g >= 1 else 0
        if self.hx_dout_pin is not None and self._hx_bit < 0 and self.hx_dout_pin not in ins:
            ins[self.hx_dout_pin] = 1


def attach(world, plant):
    # Hook the plant into a LocalWorld: stepped when time advances, and told of every
    # output write (for the HX711 clock).
    plant.step(world.now_us())  # start the plant's clock now, not at the first advance
    world.hooks.append(plant.step)
    orig = world.set_output

    def set_output(pin, v):
        orig(pin, v)
        plant.on_output(pin, v)

    world.set_output = set_output
    return plant
