# Fault log: the last N faults, each {code, t_ms, wall, ctx, n}, kept in RAM and
# persisted as FAULT journal records.
#
# Persistence: fault number i (counting from 1 over the board's life) is written as a
# journal record of kind KIND_FAULT + (i % N). The journal keeps the newest record of
# every kind through its reclaim, so the last N faults survive any number of ring
# wraps without the journal knowing anything about faults. At boot, load() reads the
# N kinds back and orders them by fault number.
#
# Payload: compact JSON {"n":i,"c":code,"t":t_ms,"w":wall or null,"x":ctx}; a ctx that
# does not fit the record is replaced by {"trunc": 1}. Writing allocates: this is not
# the power-fail path (the supervisor puts outputs safe BEFORE it logs).
import json

from hearth.runtime.journal import KIND_FAULT, MAX_PAYLOAD, JournalError

MAX_FAULTS = 16  # kinds KIND_FAULT .. KIND_FAULT + 15


class FaultLog:
    def __init__(self, journal=None, n=8):
        if not 1 <= n <= MAX_FAULTS:
            raise ValueError("fault log size 1..%d" % MAX_FAULTS)
        self._j = journal
        self.size = n
        self._items = []  # oldest first, dicts
        self.total = 0  # faults ever logged (persisted counter, see load())
        self.unsaved = 0  # faults that could not be written to the journal
        self._wall_s = None  # wall-clock seconds at _wall_ms uptime, when known
        self._wall_ms = 0

    def set_wall(self, epoch_s, at_ms):
        # The host (or a GPS) tells the board the time; later faults carry wall time.
        self._wall_s = epoch_s
        self._wall_ms = at_ms

    def wall(self, t_ms):
        if self._wall_s is None:
            return None
        return self._wall_s + (t_ms - self._wall_ms) // 1000

    def load(self):
        """Read the persisted faults back from the journal (at boot): boot-time code, in
        runtime/recovery.py (forgotten once the board is up)."""
        from hearth.runtime.recovery import load_faults

        return load_faults(self)

    def add(self, code, t_ms, ctx=None, persist=True):
        """Log a fault; persist it if `persist` (power good) and the journal accepts."""
        self.total += 1
        f = {"n": self.total, "code": code, "t_ms": t_ms, "wall": self.wall(t_ms), "ctx": ctx or {}}
        self._items.append(f)
        if len(self._items) > self.size:
            self._items.pop(0)
        if persist and self._j is not None and self._j.writable:
            try:
                self._j.append(KIND_FAULT + self.total % self.size, self._encode(f))
            except JournalError:
                self.unsaved += 1
        else:
            self.unsaved += 1
        return f

    def _encode(self, f):
        d = {"n": f["n"], "c": f["code"], "t": f["t_ms"], "w": f["wall"], "x": f["ctx"]}
        p = json.dumps(d)
        if len(p) > MAX_PAYLOAD:
            d["x"] = {"trunc": 1}
            p = json.dumps(d)
            if len(p) > MAX_PAYLOAD:
                d["c"] = str(d["c"])[:32]
                p = json.dumps(d)
        return p.encode()

    def list(self):
        """Oldest first: [{n, code, t_ms, wall, ctx}, ...] (for the console)."""
        return [dict(f) for f in self._items]

    def last(self):
        return dict(self._items[-1]) if self._items else None

    def clear(self):
        # RAM view only; the journal keeps history until reclaimed.
        self._items = []
