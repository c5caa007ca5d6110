# The supervisor's boot decision and the checked resume / discard of an interrupted
# run: code that runs once at boot or on a person's command. Supervisor.boot/resume/
# discard import it when called; the app forgets it afterwards (app.forget), so it is
# not on the heap while the board runs. `self` is the Supervisor.
import json
import struct

from hearth.runtime.journal import KIND_BOOT, KIND_FAULT, KIND_POWERFAIL, KIND_STATE, JournalError
from hearth.runtime.supervisor import (ACTIVE, BOOT, F_HELD, F_JOB, READY, RECOVERY, SAFE, SNAP_HDR, SNAP_VERSION,
                                       STATES, SupervisorError)


def _parse_token(token):
    # 'JOB:SEQ', or a console args dict {"token": 'JOB:SEQ'} / {"job": J, "seq": S}
    try:
        if isinstance(token, dict):
            if "token" in token:
                token = token["token"]
            else:
                return int(token["job"]), int(token["seq"])
        a, b = str(token).split(":")
        return int(a), int(b)
    except (ValueError, KeyError, TypeError):
        raise SupervisorError("BAD_TOKEN", "token must be 'JOB:SEQ' as shown by hello/status")


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


def _check_token(self, token):
    if self.state != RECOVERY or self.recovery is None:
        raise SupervisorError("STATE", "nothing to resume: board is %s, not RECOVERY" % self.state)
    job, seq = _parse_token(token)
    rec = self.recovery
    if job != rec["job"]:
        raise SupervisorError("NO_JOB", "no interrupted job %d (recovery is for job %d)" % (job, rec["job"]))
    if seq != rec["seq"]:
        raise SupervisorError("STALE", "token %d:%d is stale, current is %s" % (job, seq, rec["token"]))
    return rec

def resume(self, token):
    """Checked resume of the interrupted job (token 'JOB:SEQ' from describe()).
    On any error nothing changes: outputs stay safe, state stays RECOVERY."""
    rec = _check_token(self, token)
    # the role's check may look at more than the token (the printer: the job file)
    self.resume_args = token if isinstance(token, dict) else None
    try:
        self.on_resume(rec)
    except SupervisorError:
        self.run_safe()
        raise
    finally:
        self.resume_args = None
    self._go(ACTIVE if rec["job"] else READY)
    self.recovery = None
    self.checkpoint()
    return rec

def discard(self, token):
    """Forget the interrupted job (and the held flag: the role sets it again if it
    still holds a payload). RECOVERY -> READY."""
    rec = _check_token(self, token)
    self._set_flags(0, F_JOB | F_HELD)
    self._put32(4, 0)
    self._go(READY)
    self.recovery = None
    self.checkpoint()
    return rec


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
    from hearth.app import forget

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
    forget("hearth.runtime.journalmount")  # (App.__init__ forgets this module)
    if self.reset_cause == "wdt":
        # The watchdog reset us: a stuck loop. Logged (the state it was in comes
        # from the journal's snapshot); the board itself stays SAFE/RECOVERY.
        self.faults.add("WDT_RESET", hal.ticks_ms(), {"boots": self.sup.boots})
    self.wdt = hal.Watchdog(common["watchdog_ms"])
    self._maint_ms = common["journal_maintain_ms"]
    self._last_maint = hal.ticks_ms()


def snapshot_fields(payload):
    """Decode a snapshot payload (bytes) -> dict (diagnostics, tests): here, not in
    the resident supervisor."""
    if len(payload) < SNAP_HDR:
        return None
    v, flags, st, why, job, t, boots = struct.unpack_from("<BBBBIII", payload, 0)
    return {"v": v, "flags": flags, "state": STATES[st] if st < len(STATES) else "?",
            "why": why, "job": job, "t_ms": t, "boots": boots}
