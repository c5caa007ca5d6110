# Debounced digital input on an injected hal.Input.
#
#   Switch(inp, config=None)
#     config: debounce_ms 20 (a new level must hold this long), active_low False
#   .step(now_ms) -> bool   reads the pin once, returns the debounced state
#   .value                  debounced state (None before the first step)
#   .changes                count of debounced changes
# The first step takes the raw level as the state (no history to debounce against).

from hearth.ticks import ticks_diff


class Switch:
    @staticmethod
    def from_board(pins, name, section):
        # A switch on the board's pin `name` (with the board's pull), debounce and polarity
        # from the role's section (switch_debounce_ms, switches_active_low).
        return Switch(pins.input(name), {"debounce_ms": section["switch_debounce_ms"],
                                         "active_low": section["switches_active_low"]})

    def __init__(self, inp, config=None):
        self.inp = inp
        self.debounce_ms = 20
        self.active_low = False
        if config:
            for k in config:
                if k == "debounce_ms":
                    self.debounce_ms = config[k]
                elif k == "active_low":
                    self.active_low = bool(config[k])
                else:
                    raise ValueError("unknown switch config key: %s" % k)
        if self.debounce_ms < 0:
            raise ValueError("debounce_ms must be >= 0")
        self.value = None
        self._cand = None
        self._t = 0
        self.changes = 0

    def raw(self):
        v = 1 if self.inp.value() else 0
        if self.active_low:
            v ^= 1
        return v == 1

    def step(self, now):
        r = self.raw()
        if self.value is None:
            self.value = r
            self._cand = r
            return r
        if r == self.value:
            self._cand = r
            return r
        if r != self._cand:
            self._cand = r
            self._t = now
        if ticks_diff(now, self._t) >= self.debounce_ms:
            self.value = r
            self.changes += 1
        return self.value
