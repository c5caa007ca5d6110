# Payload presence: an HX711 load cell (bit-banged here), or a plain presence switch.
#
# HX711: PD_SCK is an injected hal.Output (created low: high for > 60 us powers the
# chip down), DOUT an injected hal.Input. DOUT low means a conversion is ready; 24
# clock pulses shift it out MSB first (two's complement), 1-3 more pulses select the
# next conversion's gain/channel (25: A/128, 26: B/32, 27: A/64). The bit-banging is
# all here; in the host build the pins read whatever the simulated world (the plant
# in host_tools/sim/plants/latch.py) puts on DOUT.
#
#   Hx711(clk, dout, config=None)
#     config: gain 128 (128 | 64 | 32), offset 0 (raw counts at no load),
#             counts_per_g 420 (scale; raw per gram, may be negative)
#   .ready() -> bool          .read_raw() -> int or None (not ready; never waits)
#   .tare(raw) / .tare_avg(samples list)   sets offset
#   .grams(raw) -> int        (raw - offset) // counts_per_g
#   .saturated(raw) -> bool   at the 24-bit rails: a wiring or cell fault
#   .power_down() / .safe()   clk high (chip off) / clk low
#
#   Presence(config=None): grams -> "payload present", with hysteresis and debounce
#     config: on_g 150 (present at or above), off_g 80 (absent below), debounce_ms 200
#   .step(now_ms, grams) -> bool   grams None (no fresh reading) keeps the state
#   .value (None before the first reading), .changes
#
#   PresenceSwitch: use drivers.switch.Switch on the presence pin (debounced).

from hearth.ticks import ticks_diff


_GAIN_PULSES = {128: 1, 32: 2, 64: 3}
RAW_MAX = 0x7FFFFF
RAW_MIN = -0x800000


class Hx711:
    @staticmethod
    def from_board(pins, section):
        # On pins hx711_sck (created low: the chip on) and hx711_dout; the scale from the
        # role's section (loadcell_counts_per_g, loadcell_offset).
        return Hx711(pins.output("hx711_sck", 0), pins.input("hx711_dout"),
                     {"counts_per_g": section["loadcell_counts_per_g"], "offset": section["loadcell_offset"]})

    def __init__(self, clk, dout, config=None):
        self.clk = clk
        self.dout = dout
        self.gain = 128
        self.offset = 0
        self.counts_per_g = 420
        if config:
            for k in config:
                if k == "gain":
                    self.gain = config[k]
                elif k == "offset":
                    self.offset = config[k]
                elif k == "counts_per_g":
                    self.counts_per_g = config[k]
                else:
                    raise ValueError("unknown hx711 config key: %s" % k)
        if self.gain not in _GAIN_PULSES:
            raise ValueError("hx711 gain must be 128, 64 or 32")
        if not self.counts_per_g:
            raise ValueError("hx711 counts_per_g must not be 0")
        self._extra = _GAIN_PULSES[self.gain]
        self.clk.value(0)
        self.reads = 0

    def ready(self):
        return self.dout.value() == 0

    def read_raw(self):
        if self.dout.value() != 0:
            return None
        clk = self.clk
        dout = self.dout
        v = 0
        for _ in range(24):
            clk.value(1)
            clk.value(0)
            v = (v << 1) | (1 if dout.value() else 0)
        for _ in range(self._extra):
            clk.value(1)
            clk.value(0)
        if v & 0x800000:
            v -= 0x1000000
        self.reads += 1
        return v

    def tare(self, raw):
        self.offset = raw

    def tare_avg(self, samples):
        if samples:
            self.offset = sum(samples) // len(samples)

    def grams(self, raw):
        return (raw - self.offset) // self.counts_per_g

    def saturated(self, raw):
        return raw >= RAW_MAX or raw <= RAW_MIN

    def power_down(self):
        self.clk.value(1)

    def safe(self):
        try:
            self.clk.value(0)
        except Exception:  # noqa: BLE001 - safe() never raises
            pass


class Presence:
    @staticmethod
    def from_board(pins, section):
        return Presence({"on_g": section["loadcell_on_g"], "off_g": section["loadcell_off_g"], "debounce_ms": 200})

    def __init__(self, config=None):
        self.on_g = 150
        self.off_g = 80
        self.debounce_ms = 200
        if config:
            for k in config:
                if k in ("on_g", "off_g", "debounce_ms"):
                    setattr(self, k, config[k])
                else:
                    raise ValueError("unknown presence config key: %s" % k)
        if self.off_g >= self.on_g:
            raise ValueError("presence off_g must be below on_g")
        self.value = None
        self._cand = None
        self._t = 0
        self.changes = 0

    def step(self, now, grams):
        if grams is None:
            return self.value
        if self.value is None:
            self.value = grams >= self.on_g
            self._cand = self.value
            return self.value
        if self.value:
            want = grams >= self.off_g
        else:
            want = grams >= self.on_g
        if want == self.value:
            self._cand = want
            return self.value
        if want != self._cand:
            self._cand = want
            self._t = now
        if ticks_diff(now, self._t) >= self.debounce_ms:
            self.value = want
            self.changes += 1
        return self.value
