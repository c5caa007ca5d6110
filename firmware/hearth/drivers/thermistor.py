# NTC thermistor through a resistor divider into an ADC that reads microvolts.
#
#   vref --[ r_pullup ]--+--[ NTC ]-- GND        (topology "low": NTC to ground, default)
#                        +--> ADC
#
# Conversion: beta model (r0 at t0, beta) or Steinhart-Hart (a, b, c; `sh_coeffs()`
# fits them from three calibration points). Each read() takes `oversample` ADC samples
# and uses their trimmed mean (drops min and max when 4 or more), then a first-order
# low-pass with time constant `filter_ms` (0: off; keep it short, the controller
# sees its lag as dead time).
#
# Faults: a sample mean above `open_uv` is an open sensor (the pull-up drives the input
# to the rail), below `short_uv` a short (or a thermistor far past any food
# temperature). `fault_reads` consecutive bad reads (3 reads at 100 ms: 0.3 s) set
# `fault` to "sensor_open" / "sensor_short"; good reads clear it again (latching is
# the thermal protection's job). While faulted `temp` keeps its last good value and
# read() returns None.
import math
from hearth.ticks import ticks_diff

OPEN = "sensor_open"
SHORT = "sensor_short"

_K0 = 273.15

DEFAULTS = {
    "model": "beta",         # "beta" or "sh"
    "r0": 100000.0,          # NTC resistance at t0 (ohm)
    "t0": 25.0,              # C
    "beta": 3950.0,
    "sh": None,              # (a, b, c) Steinhart-Hart coefficients when model == "sh"
    "r_pullup": 100000.0,    # divider resistor (ohm); 100k centres 25 C at vref/2
    "vref_uv": 3300000,      # divider supply (uV)
    "topology": "low",       # "low": NTC to ground; "high": NTC to vref
    "oversample": 4,         # ADC samples per read
    "filter_ms": 200,        # low-pass time constant on the temperature (0: none)
    "open_uv": 3000000,      # mean above: open (the ESP32 ADC tops out near 3.1 V)
    "short_uv": 150000,      # mean below: short (100k/100k beta 3950: ~114 C)
    "fault_reads": 3,        # consecutive bad reads to declare a fault
}


def beta_temp(r, r0, t0, beta):
    # Temperature (C) of an NTC of resistance r (ohm), beta model.
    return 1.0 / (1.0 / (t0 + _K0) + math.log(r / r0) / beta) - _K0


def sh_temp(r, a, b, c):
    # Steinhart-Hart: 1/T = a + b ln R + c (ln R)^3.
    lr = math.log(r)
    return 1.0 / (a + b * lr + c * lr * lr * lr) - _K0


def sh_coeffs(points):
    # Steinhart-Hart coefficients from three (temp_c, r_ohm) calibration points.
    (t1, r1), (t2, r2), (t3, r3) = points
    l1, l2, l3 = math.log(r1), math.log(r2), math.log(r3)
    y1, y2, y3 = 1.0 / (t1 + _K0), 1.0 / (t2 + _K0), 1.0 / (t3 + _K0)
    g2 = (y2 - y1) / (l2 - l1)
    g3 = (y3 - y1) / (l3 - l1)
    c = (g3 - g2) / (l3 - l2) / (l1 + l2 + l3)
    b = g2 - c * (l1 * l1 + l1 * l2 + l2 * l2)
    a = y1 - (b + l1 * l1 * c) * l1
    return (a, b, c)


def resistance(uv, vref_uv, r_pullup, topology="low"):
    # NTC resistance from the divider voltage; None outside (0, vref).
    if uv <= 0 or uv >= vref_uv:
        return None
    if topology == "low":
        return r_pullup * uv / (vref_uv - uv)
    return r_pullup * (vref_uv - uv) / uv


class Thermistor:
    @staticmethod
    def from_board(pins, section):
        # On the ADC pin "thermistor_adc"; the part from the board file's "thermistor"
        # section, in the datasheet's units: r25 (ohm at 25 C), beta, pullup (ohm), vref_mv.
        c = {}
        if "r25" in section:
            c["r0"] = float(section["r25"])
        if "beta" in section:
            c["beta"] = float(section["beta"])
        if "pullup" in section:
            c["r_pullup"] = float(section["pullup"])
        if "vref_mv" in section:
            c["vref_uv"] = int(section["vref_mv"]) * 1000
        return Thermistor(pins.adc("thermistor_adc"), c)

    def __init__(self, adc, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        cfg = merge(DEFAULTS, config, "thermistor")
        self.cfg = cfg
        self.adc = adc
        self.model = cfg["model"]
        if self.model == "sh":
            if not cfg["sh"]:
                raise ValueError("model sh needs sh=(a, b, c)")
            self._a, self._b, self._c = cfg["sh"]  # pyright: ignore[reportGeneralTypeIssues] - a tuple when model is sh
        elif self.model != "beta":
            raise ValueError("thermistor model must be beta or sh")
        self.r0 = float(cfg["r0"])
        self.t0 = float(cfg["t0"])
        self.beta = float(cfg["beta"])
        self.r_pullup = float(cfg["r_pullup"])
        self.vref_uv = int(cfg["vref_uv"])
        self.high = cfg["topology"] == "high"
        self.n = max(1, int(cfg["oversample"]))
        self.filter_ms = int(cfg["filter_ms"])
        # For topology "high" open reads near 0 V and short near vref: swap the bands.
        self.open_uv = int(cfg["open_uv"])
        self.short_uv = int(cfg["short_uv"])
        self.fault_reads = max(1, int(cfg["fault_reads"]))
        self.reset()

    def reset(self):
        self.temp = None   # filtered temperature (C), None before the first good read
        self.raw = None    # unfiltered temperature of the last good read
        self.uv = 0        # last sample mean
        self.fault = None
        self._bad = 0
        self._bad_kind = None
        self._last_ms = None

    def convert(self, uv):
        # Temperature (C) for a divider voltage, None if no resistance fits.
        if self.high:
            r = resistance(uv, self.vref_uv, self.r_pullup, "high")
        else:
            r = resistance(uv, self.vref_uv, self.r_pullup, "low")
        if r is None:
            return None
        if self.model == "sh":
            return sh_temp(r, self._a, self._b, self._c)
        return beta_temp(r, self.r0, self.t0, self.beta)

    def _sample(self):
        n = self.n
        read = self.adc.read_uv
        if n == 1:
            return read()
        s = 0
        lo = hi = read()
        s = lo
        for _ in range(n - 1):
            v = read()
            s += v
            if v < lo:
                lo = v
            elif v > hi:
                hi = v
        if n >= 4:
            return (s - lo - hi) // (n - 2)
        return s // n

    def _classify(self, uv):
        hi_bad = uv > self.open_uv
        lo_bad = uv < self.short_uv
        if self.high:
            if hi_bad:
                return SHORT
            if lo_bad:
                return OPEN
            return None
        if hi_bad:
            return OPEN
        if lo_bad:
            return SHORT
        return None

    def read(self, now_ms):
        # One reading: returns the filtered temperature (C), or None while faulted.
        uv = self._sample()
        self.uv = uv
        kind = self._classify(uv)
        t = None
        if kind is None:
            t = self.convert(uv)
            if t is None:
                kind = OPEN if uv >= self.vref_uv else SHORT
        if kind is not None or t is None:
            if kind is None:
                kind = SHORT
            if kind != self._bad_kind:
                self._bad = 0
                self._bad_kind = kind
            self._bad += 1
            if self._bad >= self.fault_reads:
                self.fault = kind
            self._last_ms = None  # restart the filter after a bad spell
            return None
        self._bad = 0
        self._bad_kind = None
        self.fault = None
        self.raw = t
        last = self._last_ms
        self._last_ms = now_ms
        cur = self.temp
        if cur is None or last is None or self.filter_ms <= 0:
            self.temp = t
            return t
        dt = ticks_diff(now_ms, last)
        if dt <= 0:
            return cur
        cur += dt * (t - cur) / (self.filter_ms + dt)
        self.temp = cur
        return cur
