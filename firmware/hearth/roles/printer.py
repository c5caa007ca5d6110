# Printer toolhead role: the shell around the heater, the extruder, jobs and food
# safety. The controllers are pure (core.pid, core.thermal, core.printjob with
# core.extruder, core.gcode, core.foodsafety); this module reads the pins, steps them
# in a fixed order once per superloop tick and writes the outputs.
#
# Tick order: supervisor state gate (outputs follow the board state before anything
# runs) -> clog switch (also keeps the simulated world stepping) -> heater (its own
# 100 ms period inside) -> heater fault to the supervisor -> host dead-man -> job
# queue and extruder -> danger-zone time and HACCP record -> snapshot bytes.
#
# Jobs: `job_start {id, material, file, lines}`, then one `gcode {n, line}` per job line
# numbered from 1 (control/printjob.py). Progress goes into the supervisor's snapshot each
# tick while a job runs (never in RECOVERY/POWERFAIL, so the record stays the cut's); a
# checked `resume` takes the job up at done+1 or is refused with the food-safety
# reason, or when the host's file is not the job's (sup.on_resume). `job_hold` parks a
# running job (heater off) for such a resume. The host's dead-man counts the role's own
# commands (`job` is the cheap one to poll with).
#
# Progress in flash. A cut without the power-fail signal (a pulled plug, no hold-up)
# keeps only what is in the journal, so finished lines go there as STATE records: at
# most one per progress_ms (default 1 s: <= 60 page programs a minute) while lines
# finish, and one per checkpoint_s regardless. The journal appends into pre-erased
# slots; when its erased space ahead runs short during a job, the next line waits one
# tick with the stepper stopped while one block is erased (<= 1 erase per tick; a few
# records are copied forward first), so a job never runs the journal full.
import binascii
import gc
from micropython import const

gc.collect()  # compiling the modules below needs contiguous heap: start from a clean one

from hearth import hal  # noqa: E402
from hearth.control.printjob import KEEP, MATERIALS, PrintJob  # noqa: E402
from hearth.runtime.protocol import CommandError  # noqa: E402
from hearth.runtime.supervisor import ACTIVE, FAULT, POWERFAIL, READY, RECOVERY, SAFE, SupervisorError  # noqa: E402
from hearth.ticks import ticks_diff  # noqa: E402


TYPE_CHECKING = False  # the type checker reads the block below; MicroPython never runs it
if TYPE_CHECKING:
    from typing import Any

    from hearth.control.pid import ModelPid
    from hearth.control.thermal import ThermalProtection
    from hearth.drivers.heater import Heater
    from hearth.drivers.stepper import Stepper
    from hearth.drivers.thermistor import Thermistor
    from hearth.runtime.supervisor import Supervisor

_WALL_EPOCH = const(946684800)  # 2000-01-01 in Unix seconds


def _num(args, key):
    v = args.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise CommandError("BAD_ARGS", "'%s' must be a number" % key)
    return v


def _job_file(args):
    # job_start's optional "file" (8 hex digits: the host's hash of the job's lines)
    # and "lines" (how many) -> (4 bytes or None, int)
    f = args.get("file")
    n = args.get("lines", 0)
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < (1 << 30) or ("lines" in args and n == 0):
        raise CommandError("BAD_ARGS", "'lines' must be the job file's line count, 1..2**30-1")
    if f is None:
        return None, n
    try:
        if not isinstance(f, str) or len(f) != 8:
            raise ValueError
        return binascii.unhexlify(f), n
    except ValueError:
        raise CommandError("BAD_ARGS", "'file' must be 8 hex digits (the job file's hash)")


def _material(args):
    m = args.get("material")
    if m not in MATERIALS:
        raise CommandError("BAD_ARGS", "unknown material %r; known: %s" % (m, ", ".join(MATERIALS)))
    return MATERIALS.index(m)


class Printer:
    name = "printer"

    # Set by hearth/roles/printerinit.py (boot-only code, forgotten once the app is
    # built; bare annotations compile to nothing in MicroPython).
    cfg: dict
    sup: "Supervisor"
    journal: "Any"
    hw_max: float
    counter: "Any"
    _count0: "Any"
    _made: int
    stepper: "Stepper"
    heater_pwm: "Any"
    fan: "Any"
    fan_duty: int
    thermistor: "Thermistor"
    ctl: "ModelPid"
    prot: "ThermalProtection"
    heater: "Heater"
    heater2: "Heater | None"
    thermistor2: "Thermistor"
    clog_in: "Any"
    job: "PrintJob"
    _pause_ms: "Any"
    state_buf: "Any"
    last_host: "Any"
    last_us: "Any"
    _fault_raised: bool
    _pf_ms: "Any"
    _wall_s: "Any"
    _wall_ms: "Any"
    clogged: bool
    _last_state: "Any"
    _ckpt_ms: "Any"
    _ckpt_done: "Any"
    tuner: "Any"

    def __init__(self, board, config, sup, checked=False):
        # checked: config is the section as runtime/config.load gives it (every key,
        # each in bounds), taken as it is; otherwise defaults fill in what it lacks.
        from hearth.roles.printerinit import init

        init(self, board, config, sup, checked)

    # ---- safety ---------------------------------------------------------------------
    def safe(self):
        # Heater off (and its target dropped so the next tick cannot turn it back on),
        # no step pulses, driver disabled. No allocation, never raises, idempotent.
        self.heater.target = None
        self.heater.safe()
        h2 = self.heater2
        if h2 is not None:
            h2.target = None
            h2.safe()
        self.stepper.safe()
        if self.fan is not None:
            try:
                self.fan.duty_u16(0)
            except Exception:  # noqa: BLE001 - safe() must never raise
                pass

    def fault_cause(self):
        # Why a board fault cannot be cleared yet (app cmd_clear), None when it can.
        f = self.thermistor.fault
        if f is not None:
            return "the thermistor still reads %s" % ("open" if f == "sensor_open" else "shorted")
        if self.clogged:
            return "the clog switch still reports a clog"
        if self.heater2 is not None and self.thermistor2.fault is not None:
            return "the body thermistor (T1) still reads a fault"
        return None

    def _temp(self):
        # the nozzle temperature, None without a valid reading
        return self.heater.temp if self.thermistor.fault is None else None

    def _host_seen(self):
        self.last_host = hal.ticks_ms()

    def _arm(self):
        st = self.sup.state
        if st == SAFE:
            self.sup.ready()
        elif st not in (READY, ACTIVE):
            raise CommandError("STATE", "board is %s: nothing switches on (clear/resume first)" % st)

    def wall_now(self, now_ms):
        if self._wall_s is None:
            return None
        return self._wall_s + ticks_diff(now_ms, self._wall_ms) // 1000

    def _set_wall(self, args):
        unix = args.get("unix")
        if unix is None:
            return False
        if isinstance(unix, bool) or not isinstance(unix, (int, float)) or unix < _WALL_EPOCH:
            raise CommandError("BAD_ARGS", "'unix' must be the wall time in Unix seconds")
        now = hal.ticks_ms()
        self._wall_s = int(unix) - _WALL_EPOCH
        self._wall_ms = now
        f = getattr(self.sup, "faults", None)
        if f is not None:
            f.set_wall(self._wall_s, now)
        return True

    # ---- commands -----------------------------------------------------------------------
    def commands(self):
        return {
            "heat": (self.cmd_heat, True),
            "cool": (self.cmd_cool, True),
            "gcode": (self.cmd_gcode, True),
            "job_start": (self.cmd_job_start, True),
            "job_end": (self.cmd_job_end, True),
            "job_hold": (self._rare, True, True),
            "job_resume": (self._rare, True, True),
            "job": (self.cmd_job, False),
            "haccp": (self._rare, False, True),
            "clock": (self.cmd_clock, True),
            "autotune": (self._rare, True, True),
            "tune": (self._rare, False, True),
        }

    def cmd_heat(self, args):
        self._host_seen()
        if self._tuning():
            raise CommandError("STATE", "autotune running (cool aborts it)")
        job = self.job
        if "material" in args:
            m = _material(args)
            if job.material >= 0 and m != job.material:
                raise CommandError("STATE", "job material is %s" % MATERIALS[job.material])
            s = self.cfg[MATERIALS[m] + "_c"]
        else:
            s = _num(args, "c")
            if s <= 0:
                raise CommandError("RANGE", "setpoint must be > 0 C (use cool to turn off)")
        s = job.check_setpoint(s)
        t1 = args.get("tool") == 1   # the body heater: the host puts it back after a resume
        if t1:
            job._heater(1.0)         # REFUSED on a board without one
        self._arm()
        h2 = self.heater2
        if t1 and h2 is not None:
            h2.set_target(s)
            return {"target2": s, "state": self.sup.state}
        self.heater.set_target(s)
        return {"target": s, "state": self.sup.state}

    def cmd_cool(self, args):
        self._host_seen()
        if self._tuning():
            self._end_tune(hal.ticks_ms(), "aborted")
        self.heater.set_target(None)
        if self.heater2 is not None:
            self.heater2.set_target(None)
        return {"target": None}

    def cmd_clock(self, args):
        if not self._set_wall(args):
            raise CommandError("BAD_ARGS", "send {\"unix\": <seconds>}")
        self._host_seen()
        return {"wall_s": self._wall_s}

    def cmd_job_start(self, args):
        self._host_seen()
        jid = args.get("id")
        if isinstance(jid, bool) or not isinstance(jid, int) or not 0 < jid < (1 << 30):
            raise CommandError("BAD_ARGS", "'id' must be an integer 1..2**30-1")
        m = _material(args)
        fhash, nlines = _job_file(args)
        if self.sup.state == ACTIVE:
            raise CommandError("STATE", "job %d is running: job_end first" % self.job.id)
        if self._tuning():
            raise CommandError("BUSY", "autotune running: wait for it (tune), or cool to abort")
        self._set_wall(args)
        self._arm()
        now = hal.ticks_ms()
        self.job.start(jid, m, now, fhash, nlines)
        self._ckpt_ms = now
        self._ckpt_done = 0
        self.stepper.enable(True)
        self.job.write(self.state_buf, self.wall_now(now), self.heater.target, self._temp())
        try:
            self.sup.job_start(jid, now)
        except SupervisorError as e:
            self.job.reset()
            self.stepper.enable(False)
            raise CommandError(e.code, e.message)
        return {"job": jid, "material": MATERIALS[m], "next": 1}

    def cmd_job_end(self, args):
        self._host_seen()
        job = self.job
        if self.sup.state != ACTIVE or not job.id:
            raise CommandError("STATE", "no job running (board %s)" % self.sup.state)
        if job.busy() and not args.get("abort"):
            raise CommandError("BUSY", "%d line(s) still running; wait, or job_end {\"abort\": true}" % job.busy())
        now = hal.ticks_ms()
        job.stop_motion()
        self.stepper.stop()
        if not args.get("keep_heat"):
            self.heater.set_target(None)
            if self.heater2 is not None:
                self.heater2.set_target(None)
        job.haccp.event(now, "end", job.done)
        out = {"job": job.id, "done": job.done, "danger_zone_s": job.dz.ms // 1000,
               "steps": job.ext.steps_total, "steps_made": job.ext.made_total}
        if self.fan is not None:
            self.fan.duty_u16(0)
        self.fan_duty = 0
        self.sup.job_end(now)
        self.stepper.enable(False)
        job.reset()
        return out

    def _hold(self, now, why):
        job = self.job
        if job.paused is not None:
            job.resume()   # the pause line is done: a resume goes on after it
        job.stop_motion()
        self.stepper.stop()
        job.haccp.event(now, why, job.done)
        # the record keeps the setpoint in force: a resume heats back to it
        job.write(self.state_buf, self.wall_now(now), self.heater.target, self._temp())
        self.heater.set_target(None)
        if self.heater2 is not None:
            self.heater2.set_target(None)
        try:
            rec = self.sup.hold(now)
        except SupervisorError as e:
            raise CommandError(e.code, e.message)
        self._pf_ms = now
        return {"job": job.id, "done": job.done, "token": rec["token"], "state": self.sup.state}

    def cmd_job(self, args):
        self._host_seen()
        d = self.job.info()
        d["counted"] = self.counter is not None and not self.job.ext.counter_bad
        d["temp"] = self.heater.temp
        d["target"] = self.heater.target
        d["state"] = self.sup.state
        if self.sup.state == RECOVERY:
            d["recovered"] = PrintJob.read(self.state_buf)
        return d

    # ---- autotune (M303) ------------------------------------------------------------------
    def _tuning(self):
        t = self.tuner
        return t is not None and t.at is not None

    def _start_tune(self, sp, cycles, line, now_ms):
        if self.tuner is None:
            # imported when first used: the autotune costs the idle role no heap
            gc.collect()
            from hearth.roles.printer_tune import Autotune

            self.tuner = Autotune(self.heater, self.ctl, self.cfg, self.hw_max)
        self.tuner.start(sp, cycles, line, self.job, now_ms)

    def _end_tune(self, now_ms, why=None):
        if self.tuner is not None:
            self.tuner.end(self.job, now_ms, why)

    def cmd_gcode(self, args):
        self._host_seen()
        n = args.get("n")
        line = args.get("line")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise CommandError("BAD_ARGS", "'n' must be the line number (integer >= 1)")
        if not isinstance(line, str):
            raise CommandError("BAD_ARGS", "'line' must be a string")
        if self.sup.state != ACTIVE and self.job.id:
            raise CommandError("STATE", "board is %s" % self.sup.state)
        out = self.job.accept(n, line, self._temp(), self.heater.target)
        if out.get("estop"):
            self.sup.estop("M112 line %d" % n)
            out["state"] = self.sup.state
        return out

    # ---- rarely used: roles/printercmds.py, loaded for one call and forgotten -------------
    def _rare(self, name, args):
        from hearth.app import forget
        from hearth.roles import printercmds

        try:
            return getattr(printercmds, name)(self, args)
        finally:
            forget("hearth.roles.printercmds")

    def _on_resume(self, rec):
        # Called by sup.resume() in RECOVERY (printercmds.on_resume says what it checks).
        return self._rare("on_resume", rec)

    # ---- the tick ----------------------------------------------------------------------------
    def tick(self, now_ms):
        sup = self.sup
        st = sup.state
        now_us = hal.ticks_us()
        dt_us = ticks_diff(now_us, self.last_us)
        self.last_us = now_us
        if st != self._last_state:
            self._state_changed(self._last_state, st)
            self._last_state = st
        if st != READY and st != ACTIVE:
            # outputs follow the board state before anything else runs
            self.heater.target = None
            if self.heater2 is not None:
                self.heater2.target = None
            if self.stepper.hz or self.stepper.enabled:
                self.stepper.safe()
        if self.clog_in is not None:
            self.clogged = self.clog_in.value() == 0
        h = self.heater
        h.tick(now_ms)
        h2 = self.heater2
        if h2 is not None:
            h2.tick(now_ms)
            if h2.fault is not None and h.fault is None:
                h = h2   # the body heater's fault goes the nozzle's way: board FAULT, all off
        job = self.job
        at = self.tuner.at if self.tuner is not None else None
        if at is not None:
            if h.fault is not None:
                self._end_tune(now_ms, "heater fault " + h.fault[0])
            elif st != READY and st != ACTIVE:
                self._end_tune(now_ms, "board " + st)
            elif at.done:
                self._end_tune(now_ms)
        if h.fault is not None:
            if not self._fault_raised:
                self._fault_raised = True
                self._stop(now_ms, h.fault[0])
                sup.fault(h.fault[0].upper(), h.fault[1], now_ms)
            return
        self._fault_raised = False
        if st != ACTIVE or not job.id:
            return
        if job.want_pause is not None:
            job.haccp.event(now_ms, "pause", job.want_pause)
            job.want_pause = None
            self._pause_ms = now_ms
        if job.paused is not None:
            # Paused (M0/M600...): the heater holds, the danger-zone clock runs, the
            # host may be away (the operator is at the machine), but only so long
            if ticks_diff(now_ms, self._pause_ms) > self.cfg["pause_timeout_s"] * 1000:
                self._hold(now_ms, "pause_timeout")
                return
        elif ticks_diff(now_ms, self.last_host) > self.cfg["host_timeout_ms"]:
            self._stop(now_ms, "host_silent")
            sup.fault("HOST_SILENT", {"ms": ticks_diff(now_ms, self.last_host), "line": job.done}, now_ms)
            return
        if self.clogged and job.running:
            steps = job.ext.emitted()
            self._stop(now_ms, "clog")
            sup.fault("CLOG", {"line": job.cur[0] if job.cur else 0, "steps": steps}, now_ms)
            return
        temp = self._temp()
        made = None
        ext = job.ext
        cnt = self.counter if not ext.counter_bad else None
        if cnt is not None:
            # the counter sees edges, not their direction: the last tick's ran backwards
            # when the stepper did (pressure advance's pull-back), so they count down
            c = cnt.value()
            d = c - self._count0
            self._count0 = c
            self._made += -d if self.stepper.back else d
            if ext.moving():
                made = self._made
        seq = ext.moves
        hz = job.step(now_ms, dt_us, temp, h.target, self.cfg["m109_hold_ms"], made)
        if ext.moves != seq:
            self._made = 0   # a move began this tick (maybe right after another): count from here
        if job.want_tune is not None:
            sp, cyc = job.want_tune
            job.want_tune = None
            self._start_tune(sp, cyc, job.cur[0] if job.cur else 0, now_ms)
        if job.want_target != KEEP:
            h.set_target(job.want_target)
            job.want_target = KEEP
        if h2 is not None:
            job.temp2 = h2.temp if self.thermistor2.fault is None else None
            if job.want_target2 != KEEP:
                h2.set_target(job.want_target2)
                job.want_target2 = KEEP
        if job.want_dir:
            self.stepper.set_dir(job.want_dir)
            if not self.stepper.enabled:
                self.stepper.enable(True)
            job.want_dir = 0
        self.stepper.run(hz)
        if job.want_fan >= 0:
            self.fan_duty = job.want_fan
            job.want_fan = -1
            if self.fan is not None:
                self.fan.duty_u16(self.fan_duty * 257)
        if job.dz.step(now_ms, temp):
            job.haccp.event(now_ms, "dz_in" if job.dz.inside else "dz_out", temp)
        job.haccp.sample(now_ms, temp, h.target)
        job.write(self.state_buf, self.wall_now(now_ms), h.target, temp)
        # Progress to the journal (see the header): a pulled plug loses at most
        # progress_ms of finished lines.
        since = ticks_diff(now_ms, self._ckpt_ms)
        every = self.cfg["checkpoint_s"]
        if ((job.done != self._ckpt_done and since >= self.cfg["progress_ms"])
                or (every and since >= every * 1000)):
            self._ckpt_ms = now_ms
            self._ckpt_done = job.done
            sup.checkpoint(now_ms)
        self._journal_space(now_ms)

    def _journal_space(self, now_ms):
        # In a job the app does not maintain the journal (an erase stalls the CPU):
        # when its erased space ahead runs short, no new line starts; once the
        # extruder is still (this tick's stepper.run(0) stopped the pulses), one
        # block is erased and the job goes on.
        j = self.journal
        job = self.job
        if j is None or not self.sup.power_ok or not j.needs_maintenance():
            job.pause = False
            return
        job.pause = True
        if job.cur is None and not self.stepper.hz:
            j.maintain(True, 1)
            job.pause = False

    def _stop(self, now_ms, why):
        self.job.stop_motion()
        self.stepper.stop()
        if self.job.id:
            self.job.haccp.event(now_ms, "fault", why)

    def _state_changed(self, old, new):
        if new == POWERFAIL:
            self._pf_ms = hal.ticks_ms()
        if old == FAULT and self.heater.fault is not None:
            # the operator cleared the board fault: clear the heater's latch too
            self.heater.clear_fault()
        if old == FAULT and self.heater2 is not None and self.heater2.fault is not None:
            self.heater2.clear_fault()
        if new in (SAFE, FAULT) and self.job.id:
            # an estop or a fault ended the job (the HACCP record stays readable)
            self.job.reset()
        if new == READY and old == RECOVERY:
            self.job.reset()   # discarded
            self._pf_ms = None

    # ---- status ------------------------------------------------------------------------------
    def status(self):
        h = self.heater
        job = self.job
        s = {
            "temp": h.temp, "target": h.target, "duty": h.duty,
            "fault": h.fault[0] if h.fault else None,
            "job": job.id, "done": job.done, "next": job.next,
            "moving": job.running, "step_hz": self.stepper.hz, "paused": job.paused,
            "fan": self.fan_duty,
            "clog": self.clogged, "danger_zone_s": job.dz.ms // 1000,
            "tuning": self._tuning(),
        }
        if self.heater2 is not None:
            h2 = self.heater2
            s["temp2"] = h2.temp
            s["target2"] = h2.target
            s["fault2"] = h2.fault[0] if h2.fault else None
        if self.sup.state == RECOVERY:
            s["recovered"] = PrintJob.read(self.state_buf)
        return s
