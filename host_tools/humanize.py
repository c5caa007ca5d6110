"""Board answers in words, with units and sensible decimals: `hello`, `status` and a
recovery record as a person reads them (`--json` gives the raw answers)."""

from __future__ import annotations

from typing import Any

from host_tools.diag import FAULT_WHY


def _c(v: Any) -> str:
    return "--" if not isinstance(v, (int, float)) else f"{v:.1f} °C"


def _secs(s: float) -> str:
    s = int(s)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def hello_text(h: dict[str, Any]) -> str:
    lines = [f"{h.get('board')}: {h.get('role') or 'no'} role on an {h.get('chip')}, firmware {h.get('fw')} "
             f"(build {h.get('build') or 'unknown'}), protocol {h.get('proto')}",
             f"state {h.get('state')}, last reset: {h.get('reset_cause')}, config {h.get('config_hash')}"]
    rec = h.get("recovery")
    if rec:
        lines.append("recovery: " + recovery_line(rec, h.get("role")))
    for p in h.get("problems") or []:
        lines.append(f"problem: {p}")
    return "\n".join(lines)


def recovery_line(rec: dict[str, Any], role: str | None) -> str:
    cause = {"POWERFAIL": "a power failure", "STATE": "a cut or reset (no power-fail record)",
             "HOLD": "the host pausing it"}.get(str(rec.get("kind")), str(rec.get("kind")))
    if role == "latch" or not rec.get("job"):
        what = "the latch held a payload" if rec.get("held") else "the board was interrupted"
        return f"{what} when it stopped ({cause}); it stays locked until resumed or discarded"
    return f"print job {rec.get('job')} was interrupted by {cause}"


def recovery_text(h: dict[str, Any], detail: dict[str, Any] | None) -> str:
    """`hearth recovery show`: the record in words, and what to do."""
    rec = h.get("recovery")
    if not rec:
        return f"{h.get('board')}: nothing to recover (state {h.get('state')})"
    role = h.get("role")
    lines = [f"{h.get('board')}: {recovery_line(rec, role)}."]
    d = detail or {}
    if role == "printer" and rec.get("job"):
        lines.append(f"  done: line {d.get('done')}" + (f" of {d['lines']}" if d.get("lines") else "")
                     + (f" (file {d['file']})" if d.get("file") else "") + f"; material {d.get('material')}")
        lines.append(f"  setpoint {_c(d.get('setpoint'))}, nozzle {_c(d.get('temp'))} when recorded; "
                     f"{_secs((d.get('danger_zone_ms') or 0) / 1000)} in the danger zone before the stop")
        lines.append("  resume: `hearth print --resume FILE` (the job's own file; food-safety rules are checked "
                     "on the board); drop it: `hearth recovery discard`")
    elif role == "latch":
        if d:
            lines.append(f"  latch {d.get('latch')}, lock switch {'closed' if d.get('locked_sw') else 'open'}, "
                         f"payload {'present' if d.get('present') else 'absent'}")
        lines.append("  `hearth recovery resume` re-arms it (the latch must read locked), "
                     "`hearth recovery discard` forgets the held payload")
    else:
        lines.append("  `hearth recovery resume` or `hearth recovery discard`")
    return "\n".join(lines)


def status_text(s: dict[str, Any], role: str | None = None) -> str:
    lines = [f"state {s.get('state')}, up {_secs((s.get('uptime_ms') or 0) / 1000)}"]
    mv = s.get("supply_mv")
    heap = s.get("heap_free")
    loop = s.get("loop") or {}
    worst = loop.get("worst_tick_us")
    lines.append(f"supply {'--' if mv is None else f'{mv / 1000:.2f} V'} ({'ok' if s.get('power_ok') else 'FAILING'}), "
                 f"heap {'--' if heap is None else f'{heap / 1024:.1f} KB'} free, "
                 f"loop {loop.get('period_ms')} ms: {loop.get('ticks')} ticks, {loop.get('overruns')} overruns, "
                 f"worst {'--' if worst is None else f'{worst / 1000:.1f} ms'}")
    lf = s.get("last_fault")
    if isinstance(lf, dict) and lf.get("code"):
        why = FAULT_WHY.get(str(lf["code"]), "")
        lines.append(f"last fault: {lf['code']}" + (f" ({why})" if why else ""))
    r = s.get("role") or {}
    if "temp" in r:
        duty = r.get("duty")
        lines.append(f"nozzle {_c(r.get('temp'))} -> {'off' if r.get('target') is None else _c(r.get('target'))}, "
                     f"heater {'--' if duty is None else f'{duty * 100:.0f} %'}"
                     + (f", FAULT {r['fault']}" if r.get("fault") else "") + (", CLOG" if r.get("clog") else ""))
        if r.get("job"):
            lines.append(f"job {r['job']}: line {r.get('done')} done, {'moving' if r.get('moving') else 'still'}, "
                         f"{r.get('step_hz')} steps/s, {r.get('danger_zone_s')} s in the danger zone")
    elif "locked_sw" in r:
        g = r.get("grams")
        lines.append(f"latch {r.get('state')}: lock switch {'closed' if r.get('locked_sw') else 'open'}, open switch "
                     f"{'closed' if r.get('open_sw') else 'open'}, payload "
                     f"{'present' if r.get('payload') else 'absent'}" + ("" if g is None else f" ({g} g)")
                     + f", flight controller link {'up' if r.get('link') else 'down'}")
        if r.get("fault"):
            lines.append(f"latch fault: {r['fault']}")
    if s.get("recovery"):
        lines.append("recovery: " + recovery_line(s["recovery"], role or ("printer" if "temp" in r else "latch")))
    return "\n".join(lines)
