"""`hearth diag`: one health report from `hello`, `status` and `faults`, each reading
judged against the board file's limits, and a registry of active tests.

Verdicts: ok, info (worth knowing, not a problem), warn (look at it), fail (the board
is not fit to use). The report PASSes when nothing fails.

Plausibility rules (board limits come from boards/NAME.json on the host, when there is
one for the board's name):

* supply: within the board's nominal voltage +-15 % and not below its `good_mv`;
  power_ok must be true;
* heap: warn under 20 KB free;
* loop: fail when more than 25 % of ticks overran; warn over 1 % or when the worst
  tick took longer than a period;
* a board in FAULT fails, with the fault code explained (FAULT_WHY) and, for a latch
  jam or a switch fault, which part the fault record points at;
* printer: the thermistor reads a temperature (None = open or short), inside the board's
  `limits` min_c..max_c; no heater fault (each protection code explained); no heater
  duty without a setpoint; no clog; and the heater's power margin (below);
* latch: never both bolt switches closed at once; a LOCKED latch has its lock switch
  closed and an OPEN one its open switch; no latch fault while the latch is in FAULT
  (the `fault` field keeps the last code after a `clear`: reported as info then);
  no payload lost while locked (a slip: the latch re-gripped with no parcel left);
  the supply flag healthy; the flight-controller link up if one was ever heard
  (MAVLink bytes received this boot and no heartbeat now = link lost).

Heater power margin (printer): while the heater holds a setpoint (within HOLD_BAND_C,
no fault), the duty it needs is compared with the holding duty its own model predicts,
model_loss_w_k * (temp - model_ambient_c) / model_power_w, from the board's printer
config. The status is sampled MARGIN_SAMPLES times (the median duty is judged: one
tick's duty is noisy). Verdicts:

* duty above MARGIN_WARN_X x the model's + MARGIN_WARN_ABS: WARN. A draught (airflow
  on the nozzle, an open enclosure) or a heater that delivers less than its rated
  power. The board still holds its temperature, so it is fit to use: a draught is a
  property of where the printer stands, not a broken board, and failing a healthy
  board on a production line for the room it was tested in would be wrong. The
  warning names the duty and the model's figure so the technician can act (shield
  the nozzle, re-tune the model);
* duty saturated (median >= SATURATED_DUTY) with the temperature below the setpoint
  and not rising: FAIL "heater power margin": the heater can no longer hold the
  setpoint, whatever the cause, and food will leave the nozzle too cold. (Firmware
  thermal protection may trip HEATING_FAILED first; the explanation of that code
  names a draught it cannot make up as one of the causes.)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from host_tools.protocol import PROTOCOL_VERSION, BoardError, ProtocolError

HEAP_WARN = 20_000
SUPPLY_TOL = 0.15
ORDER = {"ok": 0, "info": 0, "warn": 1, "fail": 2}
HOLD_BAND_C = 1.0  # |temp - setpoint| within which the heater is "holding"
SAG_BAND_C = 3.0  # a saturated heater this far below its setpoint: no margin left
MARGIN_SAMPLES = 6
MARGIN_EVERY_S = 0.15
MARGIN_WARN_X = 2.0
MARGIN_WARN_ABS = 0.05
SATURATED_DUTY = 0.9
RISING_C_S = 0.05  # still heating up faster than this (board time): margin not judged

#: what a board fault code means, for the technician (supervisor codes: the role's
#: fault name upper-cased; printer heater codes from control/thermal.py and the
#: thermistor driver, latch codes from control/latch.py)
FAULT_WHY = {
    "SENSOR_OPEN": "thermistor open (unplugged or broken wire)",
    "SENSOR_SHORT": "thermistor shorted",
    "SENSOR_LOST": "no valid thermistor reading",
    "HEATING_FAILED": "heater driven but the nozzle did not warm: open heater element or wiring, heater off "
                      "its block, or heat loss (a draught) beyond the heater's power",
    "STUCK_ON": "heater stuck on: the nozzle heated with the output off (shorted MOSFET or driver)",
    "RUNAWAY": "temperature ran away from the setpoint and did not come back",
    "MAX_TEMP": "temperature above the board's maximum",
    "MIN_TEMP": "temperature below the board's minimum",
    "HEATER_ERROR": "the heater loop raised an error",
    "CLOG": "extruder clog: the clog sensor tripped during an extrusion",
    "HOST_SILENT": "the host stopped talking during a job (dead-man)",
    "LATCH_JAM": "the bolt did not reach open within the release timeout",
    "LATCH_JAM_CLOSE": "the bolt did not reach the lock within the close timeout (the latch may NOT be locked)",
    "LATCH_SWITCHES": "both bolt switches closed at once: a bolt switch stuck or shorted",
    "LATCH_REGRAB_LIMIT": "the latch kept re-gripping (payload slipping or lock switch dropping) past its limit",
}


@dataclass
class Check:
    group: str
    name: str
    verdict: str  # ok | info | warn | fail
    value: Any = None
    detail: str = ""


@dataclass
class Report:
    port: str
    checks: list[Check] = field(default_factory=list)
    hello: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    faults: list[Any] = field(default_factory=list)
    #: the board's running config per section, where a rule needs it (printer: the heater model)
    config: dict[str, Any] = field(default_factory=dict)
    #: extra role-status samples (printer: taken while the heater holds a setpoint)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, group: str, name: str, verdict: str, value: Any = None, detail: str = "") -> None:
        self.checks.append(Check(group, name, verdict, value, detail))

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.verdict == "fail"]

    @property
    def passed(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "result": "PASS" if self.passed else "FAIL",
            "reasons": [f"{c.name}: {c.detail}" for c in self.failed],
            "warnings": [f"{c.name}: {c.detail}" for c in self.checks if c.verdict == "warn"],
            "checks": [asdict(c) for c in self.checks],
            "hello": self.hello,
            "status": self.status,
            "faults": self.faults,
            "samples": self.samples,
        }


def board_file(name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    from host_tools.boards import BoardError, load_board

    try:
        return load_board(name)
    except BoardError:
        return None


# ---- the report ---------------------------------------------------------------------------
def collect(client: Any, port: str, timeout: float = 2.0) -> Report:
    """Ask the board; raises ProtocolError when it does not answer hello."""
    rep = Report(port)
    rep.hello = client.request("hello", None, timeout=timeout)
    rep.status = client.request("status", None, timeout=timeout)
    try:
        rep.faults = list(client.request("faults", None, timeout=timeout).get("faults", []))
    except BoardError:
        rep.faults = []
    if rep.hello.get("role") == "printer":
        _printer_extra(client, rep, timeout)
    elif rep.hello.get("role") == "latch":
        try:
            rep.config["latch"] = client.request("config_get", {"section": "latch"}, timeout=timeout).get("config", {})
        except ProtocolError:  # firmware without config commands: not judged
            pass
    return rep


def _holding(r: dict[str, Any], band: float) -> bool:
    t, sp = r.get("temp"), r.get("target")
    return (isinstance(t, (int, float)) and isinstance(sp, (int, float)) and not r.get("fault")
            and sp - band <= t <= sp + HOLD_BAND_C)


def _printer_extra(client: Any, rep: Report, timeout: float) -> None:
    """The heater model (config) and, while the heater holds a setpoint, a few more
    status samples for the power-margin rule."""
    try:
        rep.config["printer"] = client.request("config_get", {"section": "printer"}, timeout=timeout).get("config", {})
    except ProtocolError:  # firmware without config commands: the margin rule is skipped
        rep.config.pop("printer", None)
    role = rep.status.get("role") or {}
    if not _holding(role, SAG_BAND_C):
        return
    rep.samples.append({"uptime_ms": rep.status.get("uptime_ms"), **role})
    for _ in range(MARGIN_SAMPLES - 1):
        time.sleep(MARGIN_EVERY_S)
        try:
            st = client.request("status", None, timeout=timeout)
        except ProtocolError:
            break
        rep.samples.append({"uptime_ms": st.get("uptime_ms"), **(st.get("role") or {})})


def evaluate(rep: Report, host_config: dict[str, Any] | None = None, board_config: dict[str, Any] | None = None,
             config_name: str = "") -> Report:
    h, s = rep.hello, rep.status
    bf = board_file(h.get("board")) or {}
    _identity(rep, h, bf, host_config, board_config, config_name)
    _board_state(rep, h, s)
    _platform(rep, s, bf)
    _config(rep)
    role = s.get("role") or {}
    if h.get("role") == "printer":
        _printer(rep, role, bf)
    elif h.get("role") == "latch":
        _latch(rep, role)
    elif h.get("role"):
        rep.add("sensors", "role", "info", h.get("role"), "no plausibility rules for this role")
    return rep


def _identity(rep: Report, h: dict[str, Any], bf: dict[str, Any], host_config: dict[str, Any] | None,
              board_config: dict[str, Any] | None, config_name: str) -> None:
    rep.add("identity", "firmware", "info", h.get("fw"), f"build {h.get('build')}")
    proto = h.get("proto")
    rep.add("identity", "protocol", "ok" if proto == PROTOCOL_VERSION else "fail", proto,
            "" if proto == PROTOCOL_VERSION else f"host tools speak protocol {PROTOCOL_VERSION}: update one side")
    rep.add("identity", "board", "info" if bf else "warn", h.get("board"),
            f"chip {h.get('chip')}" + ("" if bf else "; no boards/ file on this host: generic limits"))
    rep.add("identity", "role", "ok" if h.get("role") else "fail", h.get("role"),
            "" if h.get("role") else "the board runs no role (see problems)")
    for p in h.get("problems") or []:
        text = str(p)
        bad = any(w in text for w in ("failed", "unavailable", "rejected", "not valid JSON", "garbage", "foreign"))
        rep.add("identity", "problem", "fail" if bad else "info", None, text)
    rep.add("identity", "config_hash", "info", h.get("config_hash"))
    if host_config is not None:
        from host_tools.config_host import diff

        d = diff(host_config, board_config or {})
        if d:
            keys = ", ".join(x["key"] for x in d[:6]) + (" ..." if len(d) > 6 else "")
            rep.add("identity", "config_match", "fail", False, f"the board's config differs from {config_name}: {keys}")
        else:
            rep.add("identity", "config_match", "ok", True, f"same as {config_name}")


def _board_state(rep: Report, h: dict[str, Any], s: dict[str, Any]) -> None:
    cause = h.get("reset_cause")
    if cause == "wdt":
        rep.add("state", "reset_cause", "warn", cause, "the watchdog reset the board (a stuck loop): see the fault log")
    elif cause == "brownout":
        rep.add("state", "reset_cause", "warn", cause, "brown-out: check the supply and its hold-up")
    else:
        rep.add("state", "reset_cause", "ok" if cause in ("power_on", "soft", "hard") else "info", cause)
    up = s.get("uptime_ms")
    rep.add("state", "uptime", "info", up, "" if up is None else f"{up / 1000:.1f} s")
    st = s.get("state")
    lf = s.get("last_fault") or {}
    code = lf.get("code") if isinstance(lf, dict) else lf
    if st in ("READY", "SAFE", "ACTIVE"):
        rep.add("state", "board_state", "ok", st)
    elif st == "RECOVERY":
        rec = s.get("recovery") or h.get("recovery") or {}
        what = (f"interrupted print job {rec.get('job')} waits" if h.get("role") == "printer" and rec.get("job")
                else "the latch held a payload when it stopped; it stays locked" if rec.get("held")
                else "the board waits")
        rep.add("state", "board_state", "warn", st, f"{what}: `hearth recovery show` (then resume or discard)")
    elif st == "FAULT":
        why = FAULT_WHY.get(str(code), "")
        rep.add("state", "board_state", "fail", st, f"board in FAULT ({code or 'no fault code'})"
                + (f": {why}" if why else "") + "; `hearth call clear` once fixed")
    elif st == "POWERFAIL":
        rep.add("state", "board_state", "fail", st, "the board sees a failing supply (POWERFAIL)")
    else:
        rep.add("state", "board_state", "warn", st, "unexpected state")
    rec = s.get("recovery")
    if rec:
        from host_tools.humanize import recovery_line

        rep.add("state", "recovery", "warn", rec, recovery_line(rec, h.get("role")))
    else:
        rep.add("state", "recovery", "ok", rec)
    codes = [f.get("code", "?") if isinstance(f, dict) else str(f) for f in rep.faults]
    if codes:
        rep.add("state", "fault_log", "warn", len(codes), "logged: " + ", ".join(codes[-8:]))
    else:
        rep.add("state", "fault_log", "ok", 0, "empty")


def _config(rep: Report) -> None:
    """The running config of the role's section: values that contradict each other."""
    if not rep.config:
        return
    from host_tools.config_host import consistency

    problems = consistency(rep.config)
    if problems:
        rep.add("identity", "config", "fail", len(problems),
                "contradictory config: " + "; ".join(problems) + " (`hearth config set` to fix)")
    else:
        rep.add("identity", "config", "ok", None, "consistent")


def _platform(rep: Report, s: dict[str, Any], bf: dict[str, Any]) -> None:
    sup = bf.get("supply", {})
    mv = s.get("supply_mv")
    nominal = sup.get("nominal_mv")
    if mv is None:
        rep.add("power", "supply_mv", "info", None, "the board has no supply monitor")
    elif nominal:
        lo = max(nominal * (1 - SUPPLY_TOL), sup.get("good_mv", 0))
        hi = nominal * (1 + SUPPLY_TOL)
        ok = lo <= mv <= hi
        rep.add("power", "supply_mv", "ok" if ok else "fail", mv,
                f"{mv} mV, plausible {lo:.0f}..{hi:.0f} mV" + ("" if ok else (" (LOW)" if mv < lo else " (HIGH)")))
    else:
        rep.add("power", "supply_mv", "info", mv, "no nominal voltage in the board file")
    if s.get("power_ok") is False:
        rep.add("power", "power_ok", "fail", False, "the power monitor reports the supply failing")
    heap = s.get("heap_free")
    if heap is not None:
        rep.add("platform", "heap_free", "warn" if heap < HEAP_WARN else "ok", heap,
                f"{heap / 1024:.1f} KB free" + (f" (under {HEAP_WARN // 1000} KB)" if heap < HEAP_WARN else ""))
    loop = s.get("loop") or {}
    ticks, over = loop.get("ticks", 0) or 0, loop.get("overruns", 0) or 0
    worst, period = loop.get("worst_tick_us"), loop.get("period_ms")
    if ticks:
        ratio = over / ticks
        detail = f"{over} overruns in {ticks} ticks ({ratio:.1%}); worst tick {worst} us of a {period} ms period"
        clock_x = loop.get("clock_x", 1)
        if clock_x != 1:
            # A virtual board run faster than real time: each tick's work is this host's CPU
            # time counted clock_x times over, so the figures measure the host, not the firmware.
            rep.add("platform", "loop", "info", loop,
                    f"{detail}; not judged: board time runs at {clock_x:g}x real time (a virtual board)")
            return
        if ticks >= 100 and ratio > 0.25:
            verdict = "fail"
        elif (ticks >= 100 and ratio > 0.01) or (worst is not None and period and worst > period * 1000):
            verdict = "warn"
        else:
            verdict = "ok"
        rep.add("platform", "loop", verdict, loop, detail)


def _printer(rep: Report, r: dict[str, Any], bf: dict[str, Any]) -> None:
    lim = bf.get("limits", {})
    lo, hi = lim.get("min_c", 0), lim.get("max_c", bf.get("heater", {}).get("max_c", 100))
    t = r.get("temp")
    fault = r.get("fault")
    if t is None:
        why = {"sensor_open": "open (unplugged or broken wire)", "sensor_short": "shorted"}.get(str(fault), "no reading")
        rep.add("sensors", "thermistor", "fail", None, f"thermistor {why}")
    elif not lo <= t <= hi:
        rep.add("sensors", "thermistor", "fail", round(t, 2), f"{t:.1f} C outside the board's {lo}..{hi} C")
    else:
        rep.add("sensors", "thermistor", "ok", round(t, 2), f"{t:.2f} C (plausible {lo}..{hi} C)")
    if fault:
        why = FAULT_WHY.get(str(fault).upper(), "see the fault log")
        rep.add("sensors", "heater_fault", "fail", fault, f"thermal protection tripped: {fault}: {why}")
    duty, target = r.get("duty"), r.get("target")
    if duty and target is None:
        rep.add("sensors", "heater", "fail", duty, "heater driven with no setpoint")
    else:
        rep.add("sensors", "heater", "ok", duty, f"duty {duty}, setpoint {target}")
    _heater_margin(rep, rep.config.get("printer"))
    if r.get("clog"):
        rep.add("sensors", "clog_switch", "fail", True, "the clog sensor reports a blocked nozzle (extruder clog)")
    else:
        rep.add("sensors", "clog_switch", "ok", False)


def _heater_margin(rep: Report, cfg: dict[str, Any] | None) -> None:
    """The heater's power margin while it holds a setpoint (see the module doc)."""
    ss = rep.samples
    if not ss:
        rep.add("sensors", "heater_margin", "info", None, "the heater holds no setpoint: margin not judged")
        return
    try:
        power, loss, amb = (float((cfg or {})[k]) for k in ("model_power_w", "model_loss_w_k", "model_ambient_c"))
    except (KeyError, TypeError, ValueError):
        rep.add("sensors", "heater_margin", "info", None, "no heater model from the board: margin not judged")
        return
    temps = [float(t) for t in (s.get("temp") for s in ss) if isinstance(t, (int, float))]
    sp = ss[-1].get("target")
    if any(s.get("fault") for s in ss) or not isinstance(sp, (int, float)) or power <= 0 or len(temps) < len(ss):
        rep.add("sensors", "heater_margin", "info", None, "the heater stopped holding while sampled: not judged")
        return
    duty = float(statistics.median(float(s.get("duty") or 0.0) for s in ss))
    temp = float(statistics.median(temps))
    model = max(0.0, loss * (temp - amb) / power)
    t0, t1 = ss[0].get("uptime_ms"), ss[-1].get("uptime_ms")
    span = (t1 - t0) / 1000 if isinstance(t0, int) and isinstance(t1, int) and t1 > t0 else 0.0
    rate = (temps[-1] - temps[0]) / span if span else 0.0
    value = {"duty": round(duty, 3), "model_duty": round(model, 3), "temp": round(temp, 2), "setpoint": sp,
             "rate_c_s": round(rate, 3)}
    if rate > RISING_C_S:
        rep.add("sensors", "heater_margin", "info", value, f"still heating up ({rate:.2f} C/s): margin not judged")
    elif duty >= SATURATED_DUTY:
        rep.add("sensors", "heater_margin", "fail", value,
                f"heater power margin: the heater runs saturated ({duty:.0%} duty) and holds {temp:.1f} C for a "
                f"{sp} C setpoint, not rising; its model expects {model:.0%}: a draught or heat loss beyond the "
                "heater's power, or a weak heater: food leaves the nozzle too cold")
    elif abs(temp - sp) > HOLD_BAND_C:
        rep.add("sensors", "heater_margin", "info", value, f"{temp:.1f} C, not settled at {sp} C: margin not judged")
    elif duty > MARGIN_WARN_X * model + MARGIN_WARN_ABS:
        rep.add("sensors", "heater_margin", "warn", value,
                f"holding {sp} C takes {duty:.0%} duty where the heater model expects {model:.0%}: a draught "
                "(airflow on the nozzle, open enclosure) or a heater delivering less than its rated power; "
                "shield the nozzle or re-tune the model (printer.model_loss_w_k)")
    else:
        rep.add("sensors", "heater_margin", "ok", value, f"holding {sp} C at {duty:.0%} duty (model {model:.0%})")


def _latch_fault_why(rep: Report, r: dict[str, Any], fault: str) -> str:
    """What a latch fault points at, from the fault record's switch readings at the trip
    (status.last_fault.ctx) and the switches now."""
    lf = rep.status.get("last_fault")
    ctx = lf.get("ctx") if isinstance(lf, dict) and lf.get("code") == "LATCH_" + fault.upper() else None
    ctx = ctx if isinstance(ctx, dict) else {}
    if fault == "jam" and ctx:
        if ctx.get("lock_sw"):
            return "the bolt never left the lock (lock switch still closed): bolt or servo jammed"
        if not ctx.get("open_sw"):
            return ("the bolt left the lock but the open switch never closed: open switch dead or unplugged "
                    "(or the bolt stuck part-way)")
    if fault == "switches":
        if r.get("locked_sw") and r.get("open_sw"):
            return "the open switch reads closed with the bolt at lock: open switch stuck closed or shorted"
        if r.get("locked_sw"):
            return ("both bolt switches read closed at once, and the open switch has opened again with the bolt "
                    "back at lock: the lock switch is stuck closed or shorted")
    return FAULT_WHY.get("LATCH_" + fault.upper(), "see the fault log")


def _latch(rep: Report, r: dict[str, Any]) -> None:
    lock, opn, st = r.get("locked_sw"), r.get("open_sw"), r.get("state")
    if lock and opn:
        rep.add("sensors", "bolt_switches", "fail", {"lock": lock, "open": opn},
                "both bolt switches closed at once: a switch is stuck or shorted")
    elif st == "LOCKED" and not lock:
        rep.add("sensors", "bolt_switches", "fail", {"lock": lock, "open": opn},
                "latch LOCKED but its lock switch is open")
    elif st == "OPEN" and not opn:
        rep.add("sensors", "bolt_switches", "fail", {"lock": lock, "open": opn},
                "latch OPEN but its open switch is not closed")
    else:
        rep.add("sensors", "bolt_switches", "ok", {"lock": lock, "open": opn}, f"consistent with {st}")
    # The core latch keeps `fault` after clear_fault(): only a latch in FAULT fails.
    fault = r.get("fault")
    if st == "FAULT":
        rep.add("sensors", "latch", "fail", st,
                f"latch fault: {fault or 'unknown'}: {_latch_fault_why(rep, r, str(fault or ''))}")
    else:
        rep.add("sensors", "latch", "ok", st, (r.get("why") or "") + (f"; last fault {fault} (cleared)" if fault else ""))
    regrabs = r.get("regrabs") or 0
    held = f"payload {'present' if r.get('payload') else 'absent'}, held {r.get('held')}, grams {r.get('grams')}"
    if regrabs and not r.get("payload") and st in ("LOCKED", "ARMED", "CLOSING"):
        rep.add("sensors", "payload", "fail", r.get("payload"),
                f"payload lost while locked: the parcel slipped out (no parcel after {regrabs} re-grip(s) since the "
                "last clear, never released); check the hook and the bag, then reload")
    else:
        rep.add("sensors", "payload", "info", r.get("payload"), held)
        if regrabs:
            rep.add("sensors", "regrabs", "warn", regrabs,
                    f"{regrabs} re-grip(s) since the last clear: the payload slipped or the lock switch dropped")
    if r.get("supply") is False:
        rep.add("sensors", "latch_supply", "fail", False, "the latch sees an unhealthy supply (release interlock)")
    link, rx = r.get("link"), r.get("rx_bytes") or 0
    if link:
        rep.add("sensors", "fc_link", "ok", link, "flight controller heartbeat seen")
    elif rx:
        rep.add("sensors", "fc_link", "fail", link,
                f"flight controller link lost: MAVLink heard this boot ({rx} bytes) but no heartbeat within the "
                "link timeout: check the UART wiring and the flight controller (the latch will not arm)")
    else:
        rep.add("sensors", "fc_link", "info", link, "no flight controller heartbeat (normal on a bench)")
    crc = r.get("mav_crc_errors") or 0
    if crc:
        rep.add("sensors", "mavlink_crc", "warn", crc, f"{crc} MAVLink frames with bad CRC: check wiring and baud")


def render(rep: Report) -> str:
    marks = {"ok": "ok  ", "info": "    ", "warn": "WARN", "fail": "FAIL"}
    h = rep.hello
    lines = [f"hearth diag {rep.port}: {h.get('board')} ({h.get('role')}), fw {h.get('fw')}, proto {h.get('proto')}"
             if h else f"hearth diag {rep.port}: the hearth app does not answer"]
    group = None
    for c in rep.checks:
        if c.group != group:
            group = c.group
            lines.append(f"[{group}]")
        val = "" if c.value is None or isinstance(c.value, (dict, list)) else str(c.value)
        text = c.detail if c.detail else val
        if c.detail and val and val not in c.detail:
            text = f"{val}  {c.detail}"
        lines.append(f"  {marks.get(c.verdict, c.verdict):4} {c.name:<14} {text}")
    if rep.passed:
        nw = sum(1 for c in rep.checks if c.verdict == "warn")
        lines.append("PASS" + (f" ({nw} warning{'s' if nw != 1 else ''})" if nw else ""))
    else:
        lines.append("FAIL: " + "; ".join(f"{c.name}: {c.detail}" for c in rep.failed))
    return "\n".join(lines)


# ---- active tests -------------------------------------------------------------------------
@dataclass
class ActiveTest:
    name: str
    roles: tuple[str, ...]
    hazard: str  # "" = nothing moves or heats; else what happens (shown in the prompt)
    where: str  # "board and virtual" | "virtual only"
    summary: str
    #: run(port, bench, extra_args) -> (ok, result dict); None = delegates to `hearth diag <name>`
    run: Callable[[str, str | None, list[str]], tuple[bool, dict[str, Any]]] | None = None
    subcommand: str | None = None


REGISTRY: dict[str, ActiveTest] = {}


def register(t: ActiveTest) -> ActiveTest:
    REGISTRY[t.name] = t
    return t


def power_fail_selftest(port: str, bench: str | None, extra: list[str]) -> tuple[bool, dict[str, Any]]:
    """Cut the (virtual) supply with the bench: outputs safe within a tick, one flash
    program and no erase for the power-fail record, the board back and answering after."""
    import time

    from host_tools.protocol import BoardClient
    from host_tools.sim.bench import BenchClient, BenchError
    from host_tools.transport.serialport import open_port

    if not bench:
        raise ProtocolError("power-fail needs a controllable supply: on a virtual board pass --bench (or run it "
                            "on a `hearth sim` found by `hearth ports`); on real hardware use a bench PSU "
                            "and watch `hearth monitor` (not automated)")
    b = BenchClient(bench)
    try:
        rep = b.call(op="power", arg="fail", restore_after_ms=300)
    except BenchError as e:
        raise ProtocolError(f"bench: {e}") from e
    res: dict[str, Any] = {"bench": {k: v for k, v in rep.items() if k != "ok"}}
    deadline = time.monotonic() + 15
    hello: dict[str, Any] | None = None
    while time.monotonic() < deadline and hello is None:
        time.sleep(0.3)
        try:
            c = BoardClient(open_port(port))
        except Exception:  # noqa: BLE001 - the pty may not be back yet
            continue
        try:
            hello = c.request("hello", None, timeout=1.0, retries=1)
        except ProtocolError:
            hello = None
        finally:
            c.ser.close()
    res["hello_after"] = hello
    period_ms = 10.0
    safe = rep.get("safe_after_ms")
    checks = {
        "outputs_safe_within_a_tick": safe is not None and safe <= period_ms * 1.5,
        "no_erase_in_power_fail_path": rep.get("erases", 1) == 0,
        "at_most_one_program": (rep.get("programs") or 0) <= 1,
        "board_back": hello is not None,
    }
    res["checks"] = checks
    return all(checks.values()), res


register(ActiveTest("heater-test", ("printer",), "THE NOZZLE HEATS to the setpoint (32 C by default)",
                    "board and virtual", "heater step response: settle, overshoot, CSV and PNG",
                    subcommand="heater-test"))
register(ActiveTest("latch-cycle", ("latch",), "THE LATCH OPENS: take the parcel off first",
                    "board and virtual", "N verified open/lock cycles over MAVLink (needs --mavlink PORT)",
                    subcommand="latch-cycle"))
register(ActiveTest("power-fail", ("printer", "latch"), "the board loses power for ~0.3 s",
                    "virtual only", "cut the supply: outputs safe within a tick, 0 erases, board back",
                    run=power_fail_selftest))
