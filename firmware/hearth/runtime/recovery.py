# The boot decision (the app's decide, the supervisor's boot) and the fault log's load:
# code that runs once at boot. Supervisor.boot imports it; the app forgets it afterwards
# (app.forget), so it is not on the heap while the board runs. `self` is the Supervisor
# (the App in decide). The checked resume / discard of an interrupted run are in
# runtime/resume.py, which the boot does not load.
import json

from hearth.runtime.journal import KIND_BOOT, KIND_FAULT, KIND_POWERFAIL, KIND_STATE, JournalError
from hearth.runtime.supervisor import BOOT, F_HELD, F_JOB, RECOVERY, SAFE, SNAP_HDR, SNAP_VERSION


def _restore(self, j):
    # The newest snapshot (STATE or POWERFAIL record) back into the supervisor's; a
    # function of its own so that no function here needs a large block to load (the
    # boot's peak: a small heap has holes, not room).
    rec = None
    for kind in (KIND_STATE, KIND_POWERFAIL):
        r = j.latest(kind)
        if r is not None and (rec is None or r.seq > rec.seq):
            rec = r
    s = self._snap
    for i in range(len(s)):
        s[i] = 0
    s[0] = SNAP_VERSION
    if rec is not None and len(rec.payload) >= SNAP_HDR and rec.payload[0] == SNAP_VERSION:
        n = min(len(rec.payload), len(s))
        for i in range(n):
            s[i] = rec.payload[i]
    return rec


def boot(self, now_ms, power_ok):
    """Decide SAFE or RECOVERY from the (mounted) journal. Outputs go safe first."""
    self.state = BOOT
    self.now_ms = now_ms
    self.power_ok = power_ok
    self.run_safe()
    j = self._j
    if j.status == "unmounted":
        j.mount()
    if self.faults is not None:
        self.faults.load()
    rec = _restore(self, j)
    s = self._snap
    prev_boots = self._get32(12)
    b = j.read(KIND_BOOT)
    if b is not None:
        try:
            prev_boots = max(prev_boots, int(json.loads(b)["n"]))
        except (ValueError, KeyError, TypeError):
            pass
    self.boots = prev_boots + 1
    self._put32(12, self.boots)
    if s[1] & (F_JOB | F_HELD) and rec is not None:
        self.recovery = self._recovery_info(rec.origin, "POWERFAIL" if rec.kind == KIND_POWERFAIL else "STATE")
        self._go(RECOVERY)
    else:
        s[1] = 0
        self._put32(4, 0)
        self.recovery = None
        self._go(SAFE)
    if power_ok and j.writable:
        try:
            j.append(KIND_BOOT, json.dumps({"n": self.boots, "rc": self.reset_cause, "st": self.state}))
        except JournalError:
            self.unsaved += 1
        j.prepare_powerfail()
    return self.state


def load_faults(fl):
    # FaultLog.load: the persisted faults back from the journal.
    fl._items = []
    if fl._j is None:
        return 0
    found = []
    for i in range(fl.size):
        p = fl._j.read(KIND_FAULT + i)
        if p is None:
            continue
        try:
            d = json.loads(p)
            found.append({"n": d["n"], "code": d["c"], "t_ms": d["t"], "wall": d["w"], "ctx": d["x"]})
        except (ValueError, KeyError, TypeError):
            continue
    found.sort(key=lambda f: f["n"])
    fl._items = found[-fl.size:]
    if found:
        fl.total = found[-1]["n"]
    return len(fl._items)


def decide(self):
    # The app's boot decision (App.__init__, once its build code left the heap). `self`
    # is the App here.
    from hearth import hal

    common = self.config["common"]
    # Let the power monitor see the supply before deciding anything: recovery
    # records are only written, and the journal only erased, with power good.
    power_ok = True
    if self.power is not None:
        t0 = hal.ticks_ms()
        while not self.power.ok and hal.ticks_diff(hal.ticks_ms(), t0) < 500:
            self.power.step(hal.ticks_ms())
            hal.sleep_ms(common["tick_ms"])
        power_ok = self.power.ok
    self.sup.boot(hal.ticks_ms(), power_ok)
    if self.reset_cause == "wdt":
        # The watchdog reset us: a stuck loop. Logged (the state it was in comes
        # from the journal's snapshot); the board itself stays SAFE/RECOVERY.
        self.faults.add("WDT_RESET", hal.ticks_ms(), {"boots": self.sup.boots})
    self.wdt = hal.Watchdog(common["watchdog_ms"])
    self._maint_ms = common["journal_maintain_ms"]
    self._last_maint = hal.ticks_ms()
