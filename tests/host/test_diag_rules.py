"""`hearth diag`'s verdicts on hand-made board answers (host_tools/diag.py evaluate):
the rules the e2e bench-fault tests exercise, plus the ones a bench cannot reach
cheaply (a saturated heater, a heater still heating up)."""

from __future__ import annotations

from typing import Any

from host_tools.diag import Report, evaluate

PRINTER_CFG = {"model_power_w": 20.0, "model_loss_w_k": 0.1, "model_ambient_c": 22.0}


def _printer(role: dict[str, Any], samples: list[dict[str, Any]] | None = None, state: str = "READY",
             last_fault: dict[str, Any] | None = None) -> Report:
    rep = Report("test")
    rep.hello = {"proto": 1, "board": "printer-s3", "role": "printer", "reset_cause": "power_on"}
    rep.status = {"state": state, "role": role, "supply_mv": 12000, "power_ok": True, "last_fault": last_fault}
    rep.config["printer"] = PRINTER_CFG
    rep.samples = samples or []
    return evaluate(rep)


def _holding(duty: float, temps: list[float], sp: float = 32.0, every_ms: int = 1500) -> list[dict[str, Any]]:
    return [{"uptime_ms": 10_000 + i * every_ms, "temp": t, "target": sp, "duty": duty, "fault": None}
            for i, t in enumerate(temps)]


def _check(rep: Report, name: str) -> Any:
    return next(c for c in rep.checks if c.name == name)


def test_margin_ok_warn_and_fail() -> None:
    role = {"temp": 32.0, "target": 32.0, "duty": 0.06, "fault": None}
    rep = _printer(role, _holding(0.06, [32.0] * 6))
    assert rep.passed and _check(rep, "heater_margin").verdict == "ok"
    # a draught: three times the model's holding duty, temperature held
    rep = _printer(role, _holding(0.21, [31.8] * 6))
    c = _check(rep, "heater_margin")
    assert rep.passed and c.verdict == "warn" and "a draught" in c.detail
    # saturated and sagging: no margin left
    rep = _printer(role, _holding(1.0, [30.5, 30.4, 30.4, 30.3, 30.3, 30.2]))
    c = _check(rep, "heater_margin")
    assert not rep.passed and c.verdict == "fail" and c.detail.startswith("heater power margin")


def test_margin_not_judged_while_heating_up_or_idle() -> None:
    role = {"temp": 30.0, "target": 32.0, "duty": 1.0, "fault": None}
    rep = _printer(role, _holding(1.0, [29.5, 29.9, 30.3, 30.7, 31.1, 31.5]))
    assert rep.passed and _check(rep, "heater_margin").verdict == "info"
    rep = _printer({"temp": 22.0, "target": None, "duty": 0.0, "fault": None})
    assert rep.passed and _check(rep, "heater_margin").verdict == "info"


def test_heater_fault_explained() -> None:
    rep = _printer({"temp": 31.0, "target": None, "duty": 0.0, "fault": "heating_failed"}, state="FAULT",
                   last_fault={"code": "HEATING_FAILED"})
    reasons = [f"{c.name}: {c.detail}" for c in rep.failed]
    assert any("heating_failed: heater driven but the nozzle did not warm" in r for r in reasons), reasons
    assert any("board in FAULT (HEATING_FAILED)" in r for r in reasons), reasons


def _latch(role: dict[str, Any], state: str = "READY", last_fault: dict[str, Any] | None = None) -> Report:
    rep = Report("test")
    rep.hello = {"proto": 1, "board": "latch-esp32", "role": "latch", "reset_cause": "power_on"}
    base = {"state": "LOCKED", "locked_sw": True, "open_sw": False, "fault": None, "payload": True, "regrabs": 0,
            "supply": True, "link": False, "rx_bytes": 0}
    rep.status = {"state": state, "role": {**base, **role}, "last_fault": last_fault, "power_ok": True}
    return evaluate(rep)


def _reasons(rep: Report) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in rep.failed]


def test_latch_jam_and_dead_open_switch_told_apart() -> None:
    jam = {"code": "LATCH_JAM", "ctx": {"lock_sw": True, "open_sw": False, "why": "jam"}}
    rep = _latch({"state": "FAULT", "fault": "jam"}, "FAULT", jam)
    assert any("the bolt never left the lock" in r for r in _reasons(rep)), _reasons(rep)
    dead = {"code": "LATCH_JAM", "ctx": {"lock_sw": False, "open_sw": False, "why": "jam"}}
    rep = _latch({"state": "FAULT", "fault": "jam"}, "FAULT", dead)
    assert any("open switch dead" in r for r in _reasons(rep)), _reasons(rep)


def test_latch_switch_fault_names_the_stuck_switch() -> None:
    sw = {"code": "LATCH_SWITCHES", "ctx": {"lock_sw": True, "open_sw": True}}
    rep = _latch({"state": "FAULT", "fault": "switches"}, "FAULT", sw)
    assert any("lock switch is stuck closed" in r for r in _reasons(rep)), _reasons(rep)
    rep = _latch({"state": "FAULT", "fault": "switches", "open_sw": True}, "FAULT", sw)
    assert any("open switch stuck closed" in r for r in _reasons(rep)), _reasons(rep)


def test_cleared_latch_fault_does_not_fail() -> None:
    rep = _latch({"fault": "jam"}, "SAFE")  # core latch keeps `fault` after clear_fault()
    assert rep.passed, _reasons(rep)


def test_slip_fails_until_reloaded() -> None:
    rep = _latch({"payload": False, "regrabs": 1})
    assert any(r.startswith("payload: payload lost while locked") for r in _reasons(rep)), _reasons(rep)
    rep = _latch({"payload": True, "regrabs": 1})
    assert rep.passed and _check(rep, "regrabs").verdict == "warn"
    rep = _latch({"payload": False, "regrabs": 0})  # an empty latch on the bench
    assert rep.passed


def test_link_lost_only_after_one_was_heard() -> None:
    assert _latch({"link": False, "rx_bytes": 0}).passed
    rep = _latch({"link": False, "rx_bytes": 42})
    assert any(r.startswith("fc_link: flight controller link lost") for r in _reasons(rep)), _reasons(rep)
    assert _latch({"link": True, "rx_bytes": 42}).passed


def test_contradictory_config_on_the_board_flagged() -> None:
    # issue 12: a board (older firmware, or a file copied by hand) running values that
    # contradict each other
    role = {"temp": 22.0, "target": None, "duty": 0.0, "fault": None}
    rep = Report("test")
    rep.hello = {"proto": 1, "board": "printer-s3", "role": "printer", "reset_cause": "power_on"}
    rep.status = {"state": "SAFE", "role": role, "supply_mv": 12000, "power_ok": True}
    rep.config["printer"] = {**PRINTER_CFG, "max_c": 70.0, "dark_c": 32.0, "dark_min_c": 30.0, "dark_max_c": 79.0}
    evaluate(rep)
    c = _check(rep, "config")
    assert not rep.passed and c.verdict == "fail" and "printer.dark_max_c=79.0 is above printer.max_c=70.0" in c.detail
    rep.checks.clear()
    rep.config["printer"]["dark_max_c"] = 34.0
    evaluate(rep)
    assert rep.passed and _check(rep, "config").verdict == "ok"


def test_monitor_plots_what_a_latch_does_not_its_counters(tmp_path: Any) -> None:
    # issue 12: the latch `monitor --plot` showed flat counters
    from host_tools.monitor import panels, plot

    rows = [{"t_s": i * 0.5, "state": "READY" if i > 2 else "SAFE", "supply_mv": 5000, "role.state": s,
             "role.locked_sw": s == "LOCKED", "role.open_sw": s == "OPEN", "role.payload": i < 4,
             "role.link": i > 1, "role.releases": i // 3, "role.rx_bytes": 100 * i, "role.grams": None}
            for i, s in enumerate(["LOCKED", "LOCKED", "ARMED", "RELEASING", "OPEN", "CLOSING", "LOCKED"])]
    shown = {s.key: (p.ylabel, s.label) for p in panels(rows) for s in p.series}
    assert set(shown) == {"role.state", "role.locked_sw", "role.open_sw", "role.payload", "role.link", "supply_mv",
                          "state"}, shown
    assert shown["role.link"] == ("FC link (1 = up)", "flight controller heartbeat")
    printer = [{"t_s": 0.0, "state": "READY", "supply_mv": 12000, "role.temp": 22.0, "role.target": 32.0,
                "role.duty": 1.0, "role.step_hz": 0}]
    shown = {s.key: p.ylabel for p in panels(printer) for s in p.series}
    assert shown == {"role.temp": "nozzle (°C)", "role.target": "nozzle (°C)", "role.duty": "heater duty (%)",
                     "supply_mv": "supply (V)", "state": "board state"}, shown
    png = plot(rows, tmp_path / "latch.png", "latch")
    assert png.read_bytes()[:4] == b"\x89PNG"


def _loop(loop: dict[str, Any]) -> Report:
    rep = Report("test")
    rep.hello = {"proto": 1, "board": "latch-esp32", "role": "latch", "reset_cause": "power_on"}
    rep.status = {"state": "READY", "supply_mv": None, "power_ok": True, "last_fault": None, "loop": loop}
    return evaluate(rep)


def test_loop_overruns_fail_on_a_real_time_clock_and_are_not_judged_on_an_accelerated_one() -> None:
    slow = {"ticks": 454, "overruns": 205, "worst_tick_us": 115312, "period_ms": 10}
    c = _check(_loop(slow), "loop")
    assert c.verdict == "fail"
    # the same figures from a virtual board run at 8x: the host's CPU time counted 8 times over
    c = _check(_loop({**slow, "clock_x": 8}), "loop")
    assert c.verdict == "info" and "not judged: board time runs at 8x real time" in c.detail
    assert c.detail.startswith("205 overruns in 454 ticks")
    assert _check(_loop({"ticks": 454, "overruns": 0, "worst_tick_us": 900, "period_ms": 10}), "loop").verdict == "ok"
