# Power monitor: turns a supply ADC (through a divider) and/or a power-good input
# into "fail" / "restore" events, once per control tick.
#
# Debounce choice: THREE sub-samples per tick, majority vote (2 of 3). The three
# reads are microseconds apart, so one noisy conversion (an ADC spike, a glitch on
# the power-good line) is outvoted and never trips, while a real drop shows in all
# three and trips in the SAME tick it is first seen: the safe-output deadline of one
# control tick holds. With both sources, either one voting "fail" trips.
#
# Hysteresis: trip when the supply is below fail_mv; come back only after it stayed
# at or above restore_mv (> fail_mv) on every tick for restore_ms. A brown-out ramp
# that hovers between the two thresholds neither trips twice nor restores; a
# flapping supply produces one "fail", and "restore" only once it is steady.
#
# Integer math only (no float objects): step() does not allocate. `mv` is the median
# of the three sub-samples (supply side, after the divider ratio).

from hearth.ticks import ticks_diff


def _median3(a, b, c):
    if a > b:
        a, b = b, a
    if b > c:
        b = c
    return a if a > b else b


class PowerMonitor:
    def __init__(self, adc=None, ratio=None, pgood=None, pgood_level=1,
                 fail_mv=4500, restore_mv=4750, restore_ms=100, ok=False, divider=None):
        """adc: object with read_uv() (ADC pin voltage in microvolts); ratio: divider
        ratio supply/pin (e.g. 11 for 100k/10k; `divider` is the same); pgood: object with value(), good
        when value() == pgood_level. ok: state assumed before the first step; False
        means "restore" is reported once the supply has been good for restore_ms."""
        if adc is None and pgood is None:
            raise ValueError("power monitor needs an adc and/or a power-good input")
        if restore_mv < fail_mv:
            raise ValueError("restore_mv must be >= fail_mv (hysteresis)")
        if ratio is None:
            ratio = divider if divider is not None else 1
        self._adc = adc
        self._ratio_k = int(ratio * 1024 + 0.5)  # fixed point, /1024
        self._pg = pgood
        self._pg_level = 1 if pgood_level else 0
        self.fail_mv = fail_mv
        self.restore_mv = restore_mv
        self.restore_ms = restore_ms
        self.ok = ok
        self.mv = 0
        self._good_since = 0
        self._good = False  # currently inside a good streak
        self.fails = 0
        self.restores = 0
        self.last_event_ms = 0

    def _read_mv(self, a):
        r = self._ratio_k
        m0 = (a.read_uv() // 1000) * r >> 10
        m1 = (a.read_uv() // 1000) * r >> 10
        m2 = (a.read_uv() // 1000) * r >> 10
        return _median3(m0, m1, m2)

    def _pg_votes(self, p):
        lv = self._pg_level
        return (p.value() == lv) + (p.value() == lv) + (p.value() == lv)

    def step(self, now_ms):
        """One tick: -> None, "fail" or "restore"."""
        bad = False
        good = True
        adc = self._adc
        if adc is not None:
            mv = self._read_mv(adc)
            self.mv = mv
            if mv < self.fail_mv:
                bad = True
            if mv < self.restore_mv:
                good = False
        pg = self._pg
        if pg is not None:
            if self._pg_votes(pg) < 2:
                bad = True
                good = False
        if self.ok:
            if bad:
                self.ok = False
                self._good = False
                self.fails += 1
                self.last_event_ms = now_ms
                return "fail"
            return None
        if not good:
            self._good = False
            return None
        if not self._good:
            self._good = True
            self._good_since = now_ms
        if ticks_diff(now_ms, self._good_since) >= self.restore_ms:
            self.ok = True
            self._good = False
            self.restores += 1
            self.last_event_ms = now_ms
            return "restore"
        return None

    def status(self):
        return {"ok": self.ok, "mv": self.mv, "fails": self.fails, "restores": self.restores}
