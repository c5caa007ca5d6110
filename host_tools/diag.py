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
* printer: the thermistor reads a temperature (None = open or short), inside the board's
  `limits` min_c..max_c; no heater fault; no heater duty without a setpoint; no clog;
* latch: never both bolt switches closed at once; a LOCKED latch has its lock switch
  closed and an OPEN one its open switch; no latch fault; the supply flag healthy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from host_tools.protocol import PROTOCOL_VERSION, BoardError, ProtocolError

ROOT = Path(__file__).resolve().parent.parent
HEAP_WARN = 20_000
SUPPLY_TOL = 0.15
ORDER = {"ok": 0, "info": 0, "warn": 1, "fail": 2}


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
        }


def board_file(name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    p = ROOT / "boards" / f"{name}.json"
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
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
    return rep


def evaluate(rep: Report, host_config: dict[str, Any] | None = None, board_config: dict[str, Any] | None = None,
             config_name: str = "") -> Report:
    h, s = rep.hello, rep.status
    bf = board_file(h.get("board")) or {}
    _identity(rep, h, bf, host_config, board_config, config_name)
    _board_state(rep, h, s)
    _platform(rep, s, bf)
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
        rep.add("state", "board_state", "warn", st, "an interrupted job waits for `resume` or `discard`")
    elif st == "FAULT":
        rep.add("state", "board_state", "fail", st, f"board in FAULT ({code or 'no fault code'})")
    elif st == "POWERFAIL":
        rep.add("state", "board_state", "fail", st, "the board sees a failing supply (POWERFAIL)")
    else:
        rep.add("state", "board_state", "warn", st, "unexpected state")
    rec = s.get("recovery")
    rep.add("state", "recovery", "warn" if rec else "ok", rec, "" if not rec else json.dumps(rec)[:200])
    codes = [f.get("code", "?") if isinstance(f, dict) else str(f) for f in rep.faults]
    if codes:
        rep.add("state", "fault_log", "warn", len(codes), "logged: " + ", ".join(codes[-8:]))
    else:
        rep.add("state", "fault_log", "ok", 0, "empty")


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
        rep.add("sensors", "heater_fault", "fail", fault, f"thermal protection tripped: {fault}")
    duty, target = r.get("duty"), r.get("target")
    if duty and target is None:
        rep.add("sensors", "heater", "fail", duty, "heater driven with no setpoint")
    else:
        rep.add("sensors", "heater", "ok", duty, f"duty {duty}, setpoint {target}")
    if r.get("clog"):
        rep.add("sensors", "clog_switch", "fail", True, "the clog sensor reports a blocked nozzle")
    else:
        rep.add("sensors", "clog_switch", "ok", False)


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
    fault = r.get("fault")
    if fault or st == "FAULT":
        rep.add("sensors", "latch", "fail", st, f"latch fault: {fault or 'unknown'}")
    else:
        rep.add("sensors", "latch", "ok", st, r.get("why") or "")
    rep.add("sensors", "payload", "info", r.get("payload"),
            f"payload {'present' if r.get('payload') else 'absent'}, held {r.get('held')}, grams {r.get('grams')}")
    if r.get("supply") is False:
        rep.add("sensors", "latch_supply", "fail", False, "the latch sees an unhealthy supply (release interlock)")
    link = r.get("link")
    rep.add("sensors", "fc_link", "ok" if link else "info", link,
            "flight controller heartbeat seen" if link else "no flight controller heartbeat (normal on a bench)")
    crc = r.get("mav_crc_errors") or 0
    if crc:
        rep.add("sensors", "mavlink_crc", "warn", crc, f"{crc} MAVLink frames with bad CRC: check wiring and baud")


def render(rep: Report) -> str:
    marks = {"ok": "ok  ", "info": "    ", "warn": "WARN", "fail": "FAIL"}
    h = rep.hello
    lines = [f"hearth diag {rep.port}: {h.get('board')} ({h.get('role')}), fw {h.get('fw')}, proto {h.get('proto')}"]
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
