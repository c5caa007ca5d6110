# Board supervisor: the board's state machine, the safe-output actions, faults,
# emergency stop, the power-fail path and power-loss recovery.
#
# States and allowed transitions (anything else raises SupervisorError("STATE")):
#
#   BOOT      -> SAFE | RECOVERY | FAULT
#   SAFE      -> READY | FAULT
#   READY     -> ACTIVE | SAFE | FAULT
#   ACTIVE    -> READY | SAFE | FAULT | RECOVERY (hold: a job parked for a checked resume)
#   FAULT     -> SAFE                      (clear_fault)
#   RECOVERY  -> ACTIVE | READY | FAULT    (resume / discard / fault)
#   POWERFAIL -> RECOVERY | SAFE | FAULT   (power_restore without a reset)
#   any state -> POWERFAIL                 (power_fail)
#
# The snapshot. The supervisor owns the first 16 bytes of the journal's power-fail
# payload (journal.pf_payload), the role the rest (`role_state`, a memoryview the
# role fills in place each tick; byte stores and struct.pack_into do not allocate):
#
#   0  u8   snapshot version (1)
#   1  u8   flags: 1 = a job is active, 2 = a payload is held
#   2  u8   board state (index in STATES) when written
#   3  u8   why: 0 checkpoint, 1 power fail
#   4  u32  job id (0: none)
#   8  u32  t_ms (uptime) when written
#   12 u32  boot count
#   16 ...  role bytes
#
# The same bytes go out as STATE records (checkpoint(): job start/end, held change,
# periodic while power is good) and as the one POWERFAIL record. At boot, the newest
# of the two kinds decides: a job active or a payload held -> RECOVERY (outputs safe,
# waiting for a checked resume/discard), otherwise SAFE. reset_cause() is only
# reported: on an ESP32 a brown-out reads as a power-on reset.

from hearth.runtime.journal import KIND_STATE, JournalError
from micropython import const

BOOT = "BOOT"
SAFE = "SAFE"
READY = "READY"
ACTIVE = "ACTIVE"
FAULT = "FAULT"
POWERFAIL = "POWERFAIL"
RECOVERY = "RECOVERY"
STATES = (BOOT, SAFE, READY, ACTIVE, FAULT, POWERFAIL, RECOVERY)

ALLOWED = {
    BOOT: (SAFE, RECOVERY, FAULT),
    SAFE: (READY, FAULT),
    READY: (ACTIVE, SAFE, FAULT),
    ACTIVE: (READY, SAFE, FAULT, RECOVERY),
    FAULT: (SAFE,),
    RECOVERY: (ACTIVE, READY, FAULT),
    POWERFAIL: (RECOVERY, SAFE, FAULT),
}

SNAP_VERSION = 1
SNAP_HDR = 16
F_JOB = 1
F_HELD = 2
_POWERFAIL_CODE = const(5)  # STATES.index(POWERFAIL)


class SupervisorError(Exception):
    # Maps to the console's `err CODE message`. Codes: STATE, NO_JOB, STALE,
    # BAD_TOKEN, BAD_ARG, REFUSED (a role's resume check said no).
    def __init__(self, code, message):
        super().__init__(code, message)
        self.code = code
        self.message = message


def _accept(rec):
    return None


class Supervisor:
    def __init__(self, journal, faults=None, reset_cause="unknown"):
        self.journal = journal  # the board's journal, None without one (roles that maintain it)
        if journal is None:
            from hearth.runtime.nojournal import NoJournal  # only a board without a journal loads it

            journal = NoJournal()
        if journal.snap_size < SNAP_HDR:
            raise ValueError("journal snap_size must be >= %d" % SNAP_HDR)
        self._j = journal
        self.faults = faults
        self.reset_cause = reset_cause
        self.state = BOOT
        self.power_ok = True
        self.now_ms = 0
        self.boots = 0
        self.recovery = None
        # resume check, set by the role: callable(recovery_dict); raise SupervisorError
        # (e.g. "REFUSED": food-safety rule) to refuse. The default accepts.
        self.on_resume = _accept
        self.resume_args = None  # the console's resume arguments while on_resume runs
        self._safe = []
        self.safe_errors = 0
        self.last_safe_error = None
        self._pf_prev = BOOT
        self.pf_events = 0
        self.unsaved = 0  # state records that could not be written
        self._snap = journal.pf_payload
        self.role_state = journal.pf_payload[SNAP_HDR:]

    # ---- safe actions -------------------------------------------------------------
    def register_safe(self, fn):
        """fn(): puts some outputs in their safe state; must be idempotent and must
        not allocate (it runs in the power-fail path)."""
        self._safe.append(fn)

    def run_safe(self):
        # Every action runs even if one raises; failures are counted, never raised.
        for fn in self._safe:
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - all safe actions must run
                self.safe_errors += 1
                self.last_safe_error = e

    # ---- snapshot helpers ---------------------------------------------------------
    def _put32(self, off, v):
        s = self._snap
        s[off] = v & 0xFF
        s[off + 1] = (v >> 8) & 0xFF
        s[off + 2] = (v >> 16) & 0xFF
        s[off + 3] = (v >> 24) & 0xFF

    def _get32(self, off):
        s = self._snap
        return s[off] | (s[off + 1] << 8) | (s[off + 2] << 16) | (s[off + 3] << 24)

    @property
    def flags(self):
        return self._snap[1]

    @property
    def job_id(self):
        return self._get32(4)

    def _set_flags(self, set_bits, clear_bits):
        self._snap[1] = (self._snap[1] | set_bits) & ~clear_bits & 0xFF

    def _go(self, new):
        if new not in ALLOWED[self.state]:
            raise SupervisorError("STATE", "cannot go from %s to %s" % (self.state, new))
        self.state = new

    def checkpoint(self, now_ms=None):
        """Append the snapshot as a STATE record (power good only). Returns the seq,
        or None if it could not be written."""
        if now_ms is not None:
            self.now_ms = now_ms
        if not self.power_ok or self.state == POWERFAIL or not self._j.writable:
            self.unsaved += 1
            return None
        self._snap[2] = STATES.index(self.state)
        self._snap[3] = 0
        self._put32(8, self.now_ms)
        try:
            return self._j.checkpoint(KIND_STATE)
        except JournalError:
            self.unsaved += 1
            return None

    def tick(self, now_ms):
        # Cheap, allocation-free: keeps the snapshot's time current for the power-fail record.
        self.now_ms = now_ms
        self._put32(8, now_ms)
        j = self._j
        if j is not None and j.formatted:
            # a format finished (one block per tick): the journal starts with our state
            j.formatted = False
            self.checkpoint()
            j.prepare_powerfail()

    # ---- boot & recovery ----------------------------------------------------------
    def boot(self, now_ms=0, power_ok=True):
        """Decide SAFE or RECOVERY from the (mounted) journal. Outputs go safe first."""
        from hearth.runtime import recovery

        return recovery.boot(self, now_ms, power_ok)

    def boot_done(self, now_ms=0, power_ok=True):
        # name used by app.py
        return self.boot(now_ms, power_ok)

    def _recovery_info(self, origin, kind):
        s = self._snap
        st = s[2]
        return {
            "job": self._get32(4), "held": bool(s[1] & F_HELD), "seq": origin,
            "token": "%d:%d" % (self._get32(4), origin), "kind": kind, "t_ms": self._get32(8),
            "was": STATES[st] if st < len(STATES) else "?",
        }

    def resume(self, token):
        """Checked resume of the interrupted job (token 'JOB:SEQ' from describe()).
        On any error nothing changes: outputs stay safe, state stays RECOVERY."""
        from hearth.runtime import resume

        return resume.resume(self, token)

    def discard(self, token):
        """Forget the interrupted job (and the held flag: the role sets it again if it
        still holds a payload). RECOVERY -> READY."""
        from hearth.runtime import resume

        return resume.discard(self, token)

    # ---- normal operation -----------------------------------------------------------
    def ready(self):
        """Arm the board: SAFE -> READY."""
        if self.state != SAFE:
            raise SupervisorError("STATE", "ready only from SAFE (state %s)" % self.state)
        self._go(READY)

    def job_start(self, job_id, now_ms=None):
        if not 0 < job_id < (1 << 30):
            raise SupervisorError("BAD_ARG", "job id must be 1..2**30-1")
        self._go(ACTIVE)
        self._put32(4, job_id)
        self._set_flags(F_JOB, 0)
        self.checkpoint(now_ms)

    def job_end(self, now_ms=None):
        if self.state != ACTIVE:
            raise SupervisorError("STATE", "no job running (state %s)" % self.state)
        self._go(READY)
        self._set_flags(0, F_JOB)
        self._put32(4, 0)
        self.checkpoint(now_ms)

    def hold(self, now_ms=None):
        """Park the running job for a checked resume (the host paused it): outputs
        safe, its progress to the journal, ACTIVE -> RECOVERY. It survives a reset as
        an interrupted job does; resume/discard take it up or drop it."""
        if self.state != ACTIVE or not self._snap[1] & F_JOB:
            raise SupervisorError("STATE", "no job running to hold (state %s)" % self.state)
        self.run_safe()
        seq = self.checkpoint(now_ms)
        self._go(RECOVERY)
        self.recovery = self._recovery_info(seq or 0, "HOLD")
        return self.recovery

    def set_held(self, held, now_ms=None):
        was = bool(self._snap[1] & F_HELD)
        if was == bool(held):
            return
        self._set_flags(F_HELD if held else 0, 0 if held else F_HELD)
        self.checkpoint(now_ms)

    # ---- faults -------------------------------------------------------------------
    def fault(self, code, ctx=None, now_ms=None):
        """Outputs safe first, then log; aborts an active job (a held payload stays held)."""
        self.run_safe()
        if now_ms is not None:
            self.now_ms = now_ms
        writing = self.power_ok and self.state != POWERFAIL
        if self.faults is not None:
            self.faults.add(code, self.now_ms, ctx, writing)
        if self.state == POWERFAIL:
            return
        self._set_flags(0, F_JOB)
        self._put32(4, 0)
        self.recovery = None
        self.state = FAULT
        self.checkpoint()

    def clear_fault(self):
        self._go(SAFE)
        return self.state

    def clear(self):
        # console `clear` (app.py): FAULT -> SAFE
        return self.clear_fault()

    def estop(self, reason, now_ms=None):
        """Emergency stop: outputs safe, job aborted, READY/ACTIVE -> SAFE. FAULT,
        POWERFAIL and RECOVERY (outputs already safe) keep their state."""
        self.run_safe()
        if now_ms is not None:
            self.now_ms = now_ms
        if self.faults is not None:
            self.faults.add("ESTOP", self.now_ms, {"reason": str(reason)[:48]},
                            self.power_ok and self.state != POWERFAIL)
        if self.state in (READY, ACTIVE, BOOT):
            self._set_flags(0, F_JOB)
            self._put32(4, 0)
            self.state = SAFE
            self.checkpoint()

    def role_exception(self, exc, now_ms=None):
        self.fault("ROLE_EXC", {"exc": type(exc).__name__, "msg": str(exc)[:48]}, now_ms)

    # ---- power --------------------------------------------------------------------
    def power_fail(self, now_ms):
        """The power-fail path: safe outputs FIRST, then ONE journal record (no erase,
        no allocation, no wait). Returns True if the record was written."""
        self.run_safe()
        self.power_ok = False
        if self.state == POWERFAIL:
            return False
        self.pf_events += 1
        self._pf_prev = self.state
        self.state = POWERFAIL
        self.now_ms = now_ms
        s = self._snap
        s[3] = 1
        self._put32(8, now_ms)
        return self._j.commit_powerfail()

    def power_restore(self, now_ms):
        """Supply back without a reset: RECOVERY if a job/held payload was active,
        FAULT if we were faulted, else SAFE. Re-arms the power-fail record."""
        self.power_ok = True
        self.now_ms = now_ms
        if self.state != POWERFAIL:
            return self.state
        if self._pf_prev == FAULT:
            self.state = FAULT
        elif self._snap[1] & (F_JOB | F_HELD):
            j = self._j
            seq = j.pf_seq if j.pf_seq else 0
            if not seq:
                r = j.latest(KIND_STATE)
                seq = r.origin if r is not None else 0
            self.recovery = self._recovery_info(seq, "POWERFAIL")
            self.state = RECOVERY
        else:
            self.state = SAFE
        self._j.prepare_powerfail()
        return self.state

    def power_restored(self, now_ms):
        # name used by app.py
        return self.power_restore(now_ms)

    def safe_all(self):
        # name used by app.py
        self.run_safe()

    def format_journal(self, power_ok):
        """The app's explicit consent to erase a garbage/foreign journal image."""
        j = self._j
        if not power_ok or j.status not in ("garbage", "foreign", "ok", "empty"):
            return False
        j.format(power_ok, 1)  # one block now, the rest one per tick (app: maintain)
        return True

    # ---- reporting ----------------------------------------------------------------
    def describe(self):
        err = self.last_safe_error
        return {
            "state": self.state,
            "reset_cause": self.reset_cause,
            "recovery": dict(self.recovery) if self.recovery else None,
            "last_fault": self.faults.last() if self.faults is not None else None,
            "faults": self.faults.total if self.faults is not None else 0,
            "boots": self.boots,
            "journal": self._j.status,
            "power_ok": self.power_ok,
            "safe_errors": self.safe_errors,
            "last_safe_error": None if err is None else "%s: %s" % (type(err).__name__, err),
        }
