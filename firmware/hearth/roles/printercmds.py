# The printer's rarely used commands and its resume check (roles/printer.py): imported
# for one call and forgotten after it (Printer._rare), so their bytecode is not on the
# heap of a printer that is heating or printing. `self` is the Printer; the command
# functions are named as their commands.
from hearth import hal
from hearth.control.foodsafety import check_resume
from hearth.control.printjob import MATERIALS, PrintJob
from hearth.runtime.protocol import CommandError
from hearth.runtime.supervisor import ACTIVE, SupervisorError
from hearth.roles.printer import _num
from hearth.ticks import ticks_diff


def job_hold(self, args):
    # Park the running job for a checked resume (the host paused, e.g. Ctrl-C):
    # motion stopped, heater off, progress to the journal; the hold counts as an
    # outage for the danger-zone time.
    self._host_seen()
    job = self.job
    if self.sup.state != ACTIVE or not job.id:
        raise CommandError("STATE", "no job running to hold (board %s)" % self.sup.state)
    return self._hold(hal.ticks_ms(), "hold")


def job_resume(self, args):
    # A job paused by its own M0/M1/M25/M600 goes on (the heater held meanwhile)
    self._host_seen()
    job = self.job
    if self.sup.state != ACTIVE or not job.id:
        raise CommandError("STATE", "no job running (board %s): a held job takes `resume`" % self.sup.state)
    code = job.paused
    if code is None:
        raise CommandError("STATE", "job %d is not paused" % job.id)
    now = hal.ticks_ms()
    job.resume()
    job.haccp.event(now, "go_on", code)
    return {"job": job.id, "resumed": code, "paused_s": ticks_diff(now, self._pause_ms) // 1000}


def haccp(self, args):
    self._host_seen()
    start = args.get("from", 0)
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise CommandError("BAD_ARGS", "'from' must be an integer >= 0")
    job = self.job
    r = job.haccp.report(start, 40)
    r["danger_zone_s"] = job.dz.ms // 1000
    r["material"] = MATERIALS[job.material] if job.material >= 0 else None
    return r


def autotune(self, args):
    # autotune {c, cycles}: relay autotune at c when idle (a job runs M303 instead)
    self._host_seen()
    if self.sup.state == ACTIVE and self.job.id:
        raise CommandError("STATE", "job %d is running: put M303 in the job" % self.job.id)
    if self._tuning():
        raise CommandError("BUSY", "autotune already running (tune shows it, cool aborts it)")
    c = _num(args, "c")
    cyc = args.get("cycles", 4)
    if isinstance(cyc, bool) or not isinstance(cyc, int) or not 2 <= cyc <= 20:
        raise CommandError("BAD_ARGS", "'cycles' must be an integer 2..20")
    if c <= 0:
        raise CommandError("RANGE", "setpoint must be > 0 C")
    sp = self.job.check_setpoint(c)
    self._arm()
    self._start_tune(sp, cyc, 0, hal.ticks_ms())
    return {"tuning": sp, "cycles": cyc, "state": self.sup.state}


def tune(self, args):
    self._host_seen()
    if self.tuner is None:
        return {"running": False, "result": None}
    return self.tuner.info()


def _outage_s(self, snap, now_ms):
    if self._pf_ms is not None:
        return ticks_diff(now_ms, self._pf_ms) // 1000
    wall = self.wall_now(now_ms)
    if wall is None or snap["wall_s"] is None:
        return None
    return wall - snap["wall_s"]


def on_resume(self, rec):
    # Called by sup.resume() in RECOVERY; raising SupervisorError refuses and leaves
    # the board in RECOVERY with outputs safe.
    if not rec.get("job"):
        return
    now = hal.ticks_ms()
    snap = PrintJob.read(self.state_buf)
    if snap is None or snap["material"] is None:
        raise SupervisorError("REFUSED", "no printer progress in the recovery record: discard the job")
    m = snap["material"]
    want = self.sup.resume_args or {}
    f, n = want.get("file"), want.get("lines")
    if snap["file"] and (f is not None or n is not None) and (f != snap["file"] or n != snap["lines"]):
        raise SupervisorError("REFUSED", "job %d was printing file %s (%s lines), not %s (%s lines): resume "
                              "with the job's own file, or discard the job" % (
                                  rec["job"], snap["file"], snap["lines"], f, n))
    outage = _outage_s(self, snap, now)
    reason = check_resume(self.cfg[m + "_dz_min"], snap["danger_zone_ms"], outage)
    if reason:
        raise SupervisorError("REFUSED", reason)
    sp = snap["setpoint"]
    ceiling = min(self.hw_max, self.cfg[m + "_max_c"])
    if sp is not None and sp > ceiling:
        raise SupervisorError("REFUSED", "recorded setpoint %.1f C is above the %s maximum %.1f C" % (
            sp, m, ceiling))
    self.job.restore(rec["job"], snap, outage, now)
    self._pf_ms = None
    self.last_host = now
    # never above the job's own setpoint: the one recorded, checked above
    self.heater.set_target(sp)
    self.stepper.enable(True)
    self.job.write(self.state_buf, self.wall_now(now), sp, self._temp())
