# The checked resume / discard of an interrupted run (Supervisor.resume/discard, on a
# person's command) and the snapshot decoder (diagnostics): imported when called and
# forgotten after (app.forget), not loaded by a boot. `self` is the Supervisor.
import struct

from hearth.runtime.supervisor import ACTIVE, F_HELD, F_JOB, READY, RECOVERY, SNAP_HDR, STATES, SupervisorError


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


def snapshot_fields(payload):
    """Decode a snapshot payload (bytes) -> dict (diagnostics, tests): here, not in
    the resident supervisor."""
    if len(payload) < SNAP_HDR:
        return None
    v, flags, st, why, job, t, boots = struct.unpack_from("<BBBBIII", payload, 0)
    return {"v": v, "flags": flags, "state": STATES[st] if st < len(STATES) else "?",
            "why": why, "job": job, "t_ms": t, "boots": boots}
