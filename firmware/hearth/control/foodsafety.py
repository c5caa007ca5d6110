# Food safety, pure (no I/O): danger-zone time, the resume rule, the HACCP record.
#
# Danger zone. Bacteria multiply fastest between about 5 and 57 C (US FDA Food Code;
# the UK uses 5..63 C): both bounds are config. DangerZone.step(now_ms, temp) adds the
# time the food spends inside them (the nozzle temperature stands in for the food's).
# A reading that is missing (sensor fault) counts as inside: unknown is unsafe.
#
# Resume rule (check_resume). A material has a limit on its total danger-zone time
# (minutes; the FDA's 4-hour rule for time as a public health control, 2 h if you
# want to leave room to chill); 0 means the material is not a time/temperature
# controlled food (chocolate: low water activity) and is exempt. The total is the
# time recorded during the job plus the outage. The outage is counted in full as
# danger-zone time (the nozzle cools from its setpoint towards the room, which is in
# the zone), and when its length is unknown (no wall time from the host before and
# after the cut, and no continuous uptime across it) it is unknown and therefore
# unsafe: the resume is refused for a controlled material.
#
# HACCP record. A bounded per-job temperature log: one sample (temp and setpoint in
# 0.1 C) every `every_s` seconds into fixed arrays; when they are full, every other
# sample is dropped and the interval doubles, so any job length fits in the same
# memory with an even time base. Plus up to `max_events` events (start, faults,
# power loss, resume, danger-zone crossings), oldest dropped first.
from array import array

from hearth.ticks import ticks_diff


class DangerZone:
    def __init__(self, lo_c=5.0, hi_c=57.0):
        self.lo = float(lo_c)
        self.hi = float(hi_c)
        self.reset()

    def reset(self, ms=0):
        self.ms = ms            # accumulated danger-zone time
        self.inside = False
        self._last = None

    def step(self, now_ms, temp):
        last = self._last
        self._last = now_ms
        inside = temp is None or (self.lo <= temp <= self.hi)
        if last is not None and self.inside:
            d = ticks_diff(now_ms, last)
            if d > 0:
                self.ms += d
        changed = inside != self.inside
        self.inside = inside
        return changed


def check_resume(limit_min, dz_ms, outage_s):
    """None if resuming is allowed, else the reason (a sentence for the host).
    limit_min: the material's danger-zone limit (0: exempt); dz_ms: recorded before
    the cut; outage_s: seconds without power/control, None when unknown."""
    if limit_min <= 0:
        return None
    if outage_s is None:
        return ("food safety: outage length unknown (send clock with the wall time), "
                "counted as unsafe for this material")
    if outage_s < 0:
        return "food safety: wall clock went backwards across the outage; cannot trust the outage length"
    total_s = dz_ms // 1000 + outage_s
    if total_s > limit_min * 60:
        return "food safety: %d min in the danger zone incl. the outage (limit %d min): discard the food" % (
            total_s // 60, limit_min)
    return None


class Haccp:
    def __init__(self, size=120, every_s=10, max_events=16):
        self.size = size
        self.base_s = every_s
        self.max_events = max_events
        # From a range (its length known up front), then zeroed: a list of `size` ints
        # first would be a 480-byte block, the one that failed a printer built at 128 KiB.
        self.temp = array("h", range(size))
        self.sp = array("h", range(size))
        for i in range(size):
            self.temp[i] = 0
            self.sp[i] = 0
        self.reset(0, 0)

    def reset(self, job, now_ms):
        self.job = job
        self.t0 = now_ms
        self.every_s = self.base_s
        self.n = 0
        self.events = []
        self._next_ms = 0
        self.t_min = None
        self.t_max = None

    def _c10(self, v):
        if v is None:
            return -32768       # no reading
        x = int(v * 10 + (0.5 if v >= 0 else -0.5))
        return -32767 if x < -32767 else (32767 if x > 32767 else x)

    def sample(self, now_ms, temp, setpoint):
        el = ticks_diff(now_ms, self.t0)
        if el < self._next_ms:
            return False
        if temp is not None:
            if self.t_min is None or temp < self.t_min:
                self.t_min = temp
            if self.t_max is None or temp > self.t_max:
                self.t_max = temp
        if self.n >= self.size:
            # decimate: keep samples 0, 2, 4, ... at twice the interval
            half = self.size // 2
            for i in range(half):
                self.temp[i] = self.temp[2 * i]
                self.sp[i] = self.sp[2 * i]
            self.n = half
            self.every_s *= 2
        self.temp[self.n] = self._c10(temp)
        self.sp[self.n] = self._c10(setpoint if setpoint else 0.0)
        self.n += 1
        self._next_ms = self.n * self.every_s * 1000
        return True

    def event(self, now_ms, what, detail=None):
        el = ticks_diff(now_ms, self.t0)
        self.events.append((el // 1000, what, detail))
        if len(self.events) > self.max_events:
            self.events.pop(0)

    def report(self, start=0, count=60):
        def c(v):
            return None if v == -32768 else v / 10
        end = min(self.n, start + count)
        return {
            "job": self.job, "every_s": self.every_s, "n": self.n, "from": start,
            "temp_c": [c(self.temp[i]) for i in range(start, end)],
            "setpoint_c": [c(self.sp[i]) for i in range(start, end)],
            "min_c": self.t_min, "max_c": self.t_max,
            "events": [{"t_s": e[0], "what": e[1], "detail": e[2]} for e in self.events],
        }
