"""The printer toolhead on a virtual board: the real firmware (flashed with mpremote),
the printer plant (nozzle heater, thermistor, extruder) and the bench.

Most tests run the board at speed=20 (world and firmware clocks 20x real time), so a
heat-up that takes ~25 s on the bench takes ~1.5 s here; the host polls `job` often
because the job dead-man (10 s of board time) is only 0.5 s of real time.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from host_tools.protocol import BoardClient, BoardError
from tests.e2e.conftest import bench, flash_board, hello_or_none, wait_for

SPEED = 20
UNIX = 1767225600  # 2026-01-01


def _board(make_board, speed: float = SPEED):
    vb = make_board("printer-s3", speed=speed)
    flash_board(vb)
    c = BoardClient(vb.console_path)
    h = wait_for(lambda: hello_or_none(c), timeout=20)
    assert h["role"] == "printer" and h["state"] == "SAFE", h
    assert not [p for p in h["problems"] if "printer" in p], h
    return vb, c


def _world(vb) -> dict[str, Any]:
    return bench(vb).call(op="state")["state"]


def _heater_duty(vb) -> int:
    return vb.world.pwm.get(vb.world.pins["heater"], (0, 0))[1]


def _poll_until(c: BoardClient, pred, timeout: float = 20.0) -> dict[str, Any]:
    """Poll `job` (which also feeds the board's host dead-man) until pred(job)."""
    end = time.monotonic() + timeout
    while True:
        j = c.request("job")
        if pred(j):
            return j
        if time.monotonic() > end:
            raise AssertionError(f"job never got there: {j}; faults: {c.request('faults')}")
        time.sleep(0.05)


def _send(c: BoardClient, n: int, line: str) -> dict[str, Any]:
    while True:
        try:
            return c.request("gcode", {"n": n, "line": line})
        except BoardError as e:
            if e.code != "BUSY":
                raise
            c.request("job")
            time.sleep(0.05)


def test_heat_hold_cold_extrusion_and_bad_input(make_board) -> None:
    vb, c = _board(make_board)
    # bad requests: a clear err, nothing switches on
    for args, code in (({"c": 95}, "RANGE"), ({"material": "caramel"}, "BAD_ARGS"), ({"c": "hot"}, "BAD_ARGS")):
        with pytest.raises(BoardError) as e:
            c.request("heat", args)
        assert e.value.code == code
    assert _heater_duty(vb) == 0 and c.request("status")["state"] == "SAFE"

    # cold extrusion: refused, the motor never moves
    c.request("job_start", {"id": 1, "material": "dark", "unix": UNIX})
    with pytest.raises(BoardError) as e:
        c.request("gcode", {"n": 1, "line": "G1 E2 F120"})
    assert e.value.code == "COLD"
    with pytest.raises(BoardError) as e:
        c.request("gcode", {"n": 1, "line": "N1 G1 E1*99"})
    assert e.value.code == "BAD_CHECKSUM"
    with pytest.raises(BoardError) as e:
        c.request("gcode", {"n": 2, "line": "M83"})
    assert e.value.code == "BAD_LINE"
    time.sleep(0.2)
    w = _world(vb)
    assert w["extruded_steps"] == 0 and w["pwm"]["stepper_step"]["duty_u16"] == 0
    c.request("job_end")

    # heat to 32 C (dark chocolate) and hold it within +-0.5 C
    c.request("heat", {"material": "dark"})
    wait_for(lambda: abs(_world(vb)["nozzle_c"] - 32.0) < 0.3, timeout=15)
    temps = []
    for _ in range(20):   # ~2 s real = 40 s of board time
        temps.append(_world(vb)["nozzle_c"])
        c.request("job")
        time.sleep(0.1)
    assert max(temps) <= 32.5 and min(temps) >= 31.5, (min(temps), max(temps))
    st = c.request("status")
    assert st["state"] == "READY" and abs(st["role"]["temp"] - 32.0) < 0.6
    c.request("cool")
    c.close()


def test_thermistor_open_trips_fault_within_a_second(make_board) -> None:
    vb, c = _board(make_board, speed=1)
    c.request("heat", {"c": 40})
    wait_for(lambda: _heater_duty(vb) > 0, timeout=3)
    t0 = time.monotonic()
    bench(vb).call(op="fault", name="thermistor_open")
    wait_for(lambda: _heater_duty(vb) == 0, timeout=2, every=0.01)
    off_s = time.monotonic() - t0
    assert off_s <= 1.0, off_s
    st = c.request("status")
    assert st["state"] == "FAULT" and st["last_fault"]["code"] == "SENSOR_OPEN"
    with pytest.raises(BoardError) as e:
        c.request("heat", {"c": 32})
    assert e.value.code == "STATE"
    # the cause is still there: clear refuses and says so (the board stays in FAULT)
    with pytest.raises(BoardError) as e:
        c.request("clear")
    assert e.value.code == "STATE" and "thermistor still reads open" in e.value.message
    assert c.request("status")["state"] == "FAULT"
    bench(vb).call(op="fault", name="thermistor_open", off=True)
    time.sleep(0.3)
    assert c.request("clear") == {"state": "SAFE", "cleared": True}
    c.close()


def _run_job_until_cut(vb, c: BoardClient, job: int, material: str, sp: int) -> None:
    c.request("job_start", {"id": job, "material": material, "unix": UNIX})
    _send(c, 1, "M83")
    _send(c, 2, "M109 S%d" % sp)
    _poll_until(c, lambda j: j["done"] >= 2, timeout=30)
    for n in (3, 4, 5):
        _send(c, n, "G1 E1 F120")
    _poll_until(c, lambda j: j["done"] >= 4)
    c.close()
    rep = bench(vb).call(op="power", arg="fail", holdup_ms=60)
    assert rep["programs"] == 1, rep
    # every safe output of the board file, stepper DIR included, within the hold-up
    assert rep["safe_after_ms"] is not None and rep["safe_after_ms"] <= 60, rep
    vb.power_on()


def test_power_cut_mid_job_resumes_from_the_right_line(make_board) -> None:
    vb, c = _board(make_board)
    _run_job_until_cut(vb, c, 7, "dark", 32)
    c = BoardClient(vb.console_path)
    h = wait_for(lambda: hello_or_none(c), timeout=20)
    assert h["state"] == "RECOVERY" and h["recovery"]["job"] == 7, h
    assert _heater_duty(vb) == 0
    j = c.request("job")
    assert j["recovered"]["done"] >= 4 and j["recovered"]["material"] == "dark", j
    assert j["recovered"]["setpoint"] == 32.0
    with pytest.raises(BoardError):
        c.request("heat", {"c": 32})           # nothing switches on in RECOVERY
    done = j["recovered"]["done"]
    c.request("resume", {"token": h["recovery"]["token"]})
    j = c.request("job")
    nxt = j["next"]
    assert j["job"] == 7 and j["done"] == done and nxt == done + 1, j
    assert c.request("status")["role"]["target"] == 32.0   # never above the job's own
    steps0 = _world(vb)["extruded_steps"]
    _send(c, nxt, "G1 E1 F120")
    _poll_until(c, lambda j: j["done"] == nxt, timeout=20)
    time.sleep(0.1)
    assert abs(_world(vb)["extruded_steps"] - steps0 - 400) <= 12
    c.request("job_end")
    assert c.request("status")["state"] == "READY"
    c.close()


def test_resume_refused_for_food_safety(make_board) -> None:
    vb, c = _board(make_board)
    _run_job_until_cut(vb, c, 8, "puree", 65)
    c = BoardClient(vb.console_path)
    h = wait_for(lambda: hello_or_none(c), timeout=20)
    assert h["state"] == "RECOVERY", h
    # no wall time since the reboot: the outage length is unknown, unsafe for puree
    with pytest.raises(BoardError) as e:
        c.request("resume", {"token": h["recovery"]["token"]})
    assert e.value.code == "REFUSED" and "food safety" in e.value.message
    # the host says three hours passed: over the 120 min limit
    c.request("clock", {"unix": UNIX + 3 * 3600})
    with pytest.raises(BoardError) as e:
        c.request("resume", {"token": h["recovery"]["token"]})
    assert e.value.code == "REFUSED" and "danger zone" in e.value.message
    assert c.request("status")["state"] == "RECOVERY" and _heater_duty(vb) == 0
    c.request("discard", {"token": h["recovery"]["token"]})
    assert c.request("status")["state"] == "READY"
    c.close()


def test_cli_print(make_board, tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from host_tools.cli import main

    # real time (speed 1): the open-loop step count is judged as on a bench; the
    # nozzle starts warm so the job takes seconds
    vb, c = _board(make_board, speed=1)
    c.close()
    bench(vb).call(op="set", param="nozzle_c", value=32.0)
    job = tmp_path / "bar.gcode"
    job.write_text("; a small chocolate bar\nM83\nM109 S32 ; wait for the nozzle\n"
                   + "G1 E0.5 F120\n" * 6 + "G4 P200\nG1 E-0.2 F300\nG1 E0.2\nM104 S0\n")
    r = CliRunner().invoke(main, ["print", "--port", vb.console_path, str(job), "--material", "dark", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["done"] == res["lines"] == 12 and res["haccp"]["material"] == "dark"
    assert abs(_world(vb)["extruded_steps"] - 1200) <= 12   # 1 %


def test_cli_heater_test(make_board, tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from host_tools.cli import main

    vb, c = _board(make_board)
    c.close()
    # 20x: 3 s real = 60 s of board time
    out = tmp_path / "step"
    r = CliRunner().invoke(main, ["diag", "heater-test", "--port", vb.console_path, "--yes", "--setpoint", "32",
                                  "--seconds", "3", "--interval", "0.1", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert (tmp_path / "step.png").stat().st_size > 10000
    assert len((tmp_path / "step.csv").read_text().splitlines()) > 20
    assert m["overshoot_c"] <= 0.5 and m["reach_s"] is not None, m
