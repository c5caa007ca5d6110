"""Test commands that move or heat things ask first, as `diag run` does, unless --yes
(issue 12): `diag latch-cycle` opened a latch holding a payload, even from RECOVERY;
`diag heater-test` heated at once. Without a terminal and without --yes nothing runs."""

from __future__ import annotations

import json
import os
from typing import Any

from click.testing import CliRunner

from host_tools.cli import main
from host_tools.protocol import BoardClient
from tests.e2e.conftest import bench, flash_board, wait_for


def hearth(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def ask(vb: Any, cmd: str) -> dict[str, Any]:
    c = BoardClient(vb.console_path)
    try:
        return c.request(cmd, None, timeout=1.0, retries=10)
    finally:
        c.close()


def test_heater_test_asks_first_and_warns_when_not_from_ambient(make_board, tmp_path) -> None:
    vb = make_board("printer-s3", speed=10)
    flash_board(vb)
    port = vb.console_path
    r = hearth("diag", "heater-test", "--port", port, "--seconds", "1", "--out", str(tmp_path / "a"))
    assert r.exit_code == 2 and "--yes" in r.stderr and "HEATS" in r.stderr, r.output
    assert ask(vb, "status")["role"]["target"] is None and not (tmp_path / "a.csv").exists()
    bench(vb).call(op="set", param="nozzle_c", value=45.0)
    wait_for(lambda: ask(vb, "status")["role"]["temp"] > 40, 5)
    r = hearth("diag", "heater-test", "--port", port, "--yes", "--setpoint", "50", "--seconds", "1",
               "--interval", "0.1", "--out", str(tmp_path / "b"), "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert "not at ambient" in res["warning"], res
    assert "not at ambient" in r.stderr


def test_latch_cycle_asks_and_refuses_a_payload_and_recovery(make_board) -> None:
    os.environ["MAVLINK20"] = "1"
    vb = make_board("latch-esp32")
    flash_board(vb)
    port, mav = vb.console_path, vb.mavlink_path

    def opens() -> int:
        return bench(vb).call(op="state")["state"]["latch"]["servo_open_writes"]

    def cycle(*extra: str) -> Any:
        return hearth("diag", "latch-cycle", "--mavlink", mav, "-n", "1", *extra)

    wait_for(lambda: ask(vb, "latch")["payload"] is True, 10)
    r = cycle()
    assert r.exit_code == 2 and "--yes" in r.stderr and "OPENS" in r.stderr, r.output
    r = cycle("--yes")
    assert r.exit_code == 2 and "--port" in r.stderr and "--with-payload" in r.stderr, r.output
    r = cycle("--yes", "--port", port)
    assert r.exit_code == 2 and "holds a payload" in r.stderr, r.output
    # held through a power cut: RECOVERY, and latch-cycle will not be the resume
    wait_for(lambda: ask(vb, "latch")["held"] is True, 10)
    bench(vb).call(op="power", arg="off")
    bench(vb).call(op="power", arg="on")
    wait_for(lambda: ask(vb, "hello")["state"] == "RECOVERY", 20)
    r = cycle("--yes", "--port", port, "--with-payload")
    assert r.exit_code == 2 and "RECOVERY" in r.stderr, r.output
    assert opens() == 0
    assert hearth("recovery", "discard", "--port", port).exit_code == 0
    # the technician took the parcel off... or says it may open with it: it runs
    r = cycle("--yes", "--port", port, "--with-payload")
    assert r.exit_code == 0, r.output
    assert opens() >= 1
    # diag run confirms once and passes --yes and --port on
    r = hearth("diag", "run", "latch-cycle", "--port", port, "--yes", "--", "--mavlink", mav, "-n", "1",
               "--with-payload")
    assert r.exit_code == 0, r.output
