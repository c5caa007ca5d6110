# The superloop's clock: a fixed period from the hal clock, with the figures a
# technician needs (overruns, worst tick, how tick times spread). A late tick is not
# made up for: the next deadline moves on from now, so one slow flash erase never
# causes a burst of ticks.

# Upper edges (us) of the tick-time histogram's buckets; the last bucket is open. A
# worst tick alone cannot tell one preempted tick (a host's scheduler, on the virtual
# board) from work that is often slow; the spread can.
EDGES_US = (1000, 2000, 5000, 10000, 20000, 50000)


class Ticker:
    def __init__(self, hal, period_ms):
        self.hal = hal
        self.period = period_ms
        self.next = hal.ticks_add(hal.ticks_ms(), period_ms)
        self.ticks = 0
        self.overruns = 0
        self.worst_us = 0
        self.hist = [0] * (len(EDGES_US) + 1)
        self._start_us = hal.ticks_us()
        # A virtual board's clock may run faster than real time: then tick times measure
        # the host's CPU, not the firmware, and the report says so.
        self.clock_x = getattr(hal, "CLOCK_X", 1)

    def begin(self):
        self._start_us = self.hal.ticks_us()
        return self.hal.ticks_ms()

    def end(self):
        # Call at the end of a tick's work: sleeps until the next deadline.
        hal = self.hal
        used = hal.ticks_diff(hal.ticks_us(), self._start_us)
        if used > self.worst_us:
            self.worst_us = used
        i = 0
        while i < len(EDGES_US) and used >= EDGES_US[i]:
            i += 1
        self.hist[i] += 1
        self.ticks += 1
        now = hal.ticks_ms()
        wait = hal.ticks_diff(self.next, now)
        if wait < 0:
            self.overruns += 1
            self.next = hal.ticks_add(now, self.period)
            return
        hal.sleep_ms(wait)
        self.next = hal.ticks_add(self.next, self.period)

    def reset_stats(self):
        self.overruns = 0
        self.worst_us = 0
        for i in range(len(self.hist)):
            self.hist[i] = 0

    def stats(self):
        # hist: ticks whose work took < 1, < 2, < 5, < 10, < 20, < 50, >= 50 ms
        d = {"ticks": self.ticks, "overruns": self.overruns, "worst_tick_us": self.worst_us,
             "period_ms": self.period, "hist": list(self.hist)}
        if self.clock_x != 1:
            d["clock_x"] = self.clock_x
        return d
