"""hello/status/recovery in words (issue 12): units, sensible decimals, and a latch that
never talks about a job."""

from __future__ import annotations

from host_tools.humanize import hello_text, recovery_text, status_text

HELLO = {"fw": "0.1.0", "proto": 1, "board": "printer-s3", "chip": "esp32s3", "role": "printer",
         "config_hash": "defaults", "build": "ea08f2f6", "reset_cause": "power_on", "state": "SAFE",
         "recovery": None, "problems": []}


def test_hello_text() -> None:
    t = hello_text(HELLO)
    assert t.splitlines() == [
        "printer-s3: printer role on an esp32s3, firmware 0.1.0 (build ea08f2f6), protocol 1",
        "state SAFE, last reset: power_on, config defaults"]
    t = hello_text({**HELLO, "problems": ["no /config.json: running on defaults"]})
    assert t.endswith("problem: no /config.json: running on defaults")


def test_status_text_printer_units_and_decimals() -> None:
    s = {"state": "ACTIVE", "uptime_ms": 754_321, "supply_mv": 11987, "power_ok": True, "heap_free": 33510,
         "loop": {"ticks": 75000, "overruns": 3, "worst_tick_us": 8123, "period_ms": 10}, "last_fault": None,
         "role": {"temp": 31.9234, "target": 32.0, "duty": 0.1234, "fault": None, "job": 7, "done": 12,
                  "moving": True, "step_hz": 800, "danger_zone_s": 41, "clog": False}}
    assert status_text(s).splitlines() == [
        "state ACTIVE, up 12 min 34 s",
        "supply 11.99 V (ok), heap 32.7 KB free, loop 10 ms: 75000 ticks, 3 overruns, worst 8.1 ms",
        "nozzle 31.9 °C -> 32.0 °C, heater 12 %",
        "job 7: line 12 done, moving, 800 steps/s, 41 s in the danger zone"]


def test_latch_words_never_mention_a_job() -> None:
    rec = {"job": 0, "held": True, "seq": 2, "token": "0:2", "kind": "POWERFAIL", "t_ms": 1, "was": "READY"}
    h = {**HELLO, "board": "latch-esp32", "role": "latch", "chip": "esp32", "state": "RECOVERY", "recovery": rec}
    detail = {"latch": "LOCKED", "locked_sw": True, "present": True}
    for text in (hello_text(h), recovery_text(h, detail)):
        assert "job" not in text.lower() and "held a payload" in text, text
    s = {"state": "RECOVERY", "uptime_ms": 900, "supply_mv": 5000, "power_ok": True, "heap_free": 20000,
         "loop": {}, "recovery": rec,
         "role": {"state": "LOCKED", "locked_sw": True, "open_sw": False, "payload": True, "grams": 512,
                  "link": False, "fault": None}}
    t = status_text(s)
    assert "job" not in t.lower() and "payload present (512 g)" in t and "link down" in t, t


def test_printer_recovery_text() -> None:
    rec = {"job": 9, "held": False, "seq": 5, "token": "9:5", "kind": "STATE", "t_ms": 1, "was": "ACTIVE"}
    h = {**HELLO, "state": "RECOVERY", "recovery": rec}
    d = {"done": 138, "lines": 500, "file": "0a1b2c3d", "material": "dark", "setpoint": 32.0, "temp": 31.8,
         "danger_zone_ms": 190_000}
    t = recovery_text(h, d)
    assert "print job 9 was interrupted by a cut or reset" in t
    assert "line 138 of 500 (file 0a1b2c3d)" in t and "3 min 10 s in the danger zone" in t, t
