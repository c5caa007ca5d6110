"""`hearth recovery show|resume|discard` (issue 12): the record in words, and no raw
`call` with a token. A latch talks about the payload it held, never about a job."""

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


def ask(vb: Any, cmd: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    c = BoardClient(vb.console_path)
    try:
        return c.request(cmd, args, timeout=1.0, retries=10)
    finally:
        c.close()


def test_printer_held_job_shown_in_words_then_discarded(make_board) -> None:
    vb = make_board("printer-s3")
    flash_board(vb)
    port = vb.console_path
    r = hearth("recovery", "show", "--port", port)
    assert r.exit_code == 0 and "nothing to recover" in r.stdout, r.output
    bench(vb).call(op="set", param="nozzle_c", value=32.0)
    ask(vb, "job_start", {"id": 77, "material": "dark", "unix": 1767225600, "file": "0a1b2c3d", "lines": 120})
    ask(vb, "gcode", {"n": 1, "line": "M83"})
    ask(vb, "gcode", {"n": 2, "line": "M104 S32"})
    wait_for(lambda: ask(vb, "job")["done"] == 2)
    ask(vb, "job_hold")
    r = hearth("recovery", "show", "--port", port)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "print job 77 was interrupted by the host pausing it" in out, out
    assert "line 2 of 120 (file 0a1b2c3d)" in out and "setpoint 32.0 °C" in out and "--resume" in out, out
    r = hearth("recovery", "resume", "--port", port)
    assert r.exit_code == 2 and "print --resume FILE" in r.stderr, r.output
    assert ask(vb, "hello")["state"] == "RECOVERY"
    r = hearth("recovery", "discard", "--port", port, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["state"] == "READY", r.output
    assert ask(vb, "job")["job"] == 0
    r = hearth("recovery", "discard", "--port", port)
    assert r.exit_code == 0 and "nothing to discard" in r.stdout, r.output


def test_latch_recovery_speaks_of_the_payload_not_a_job(make_board) -> None:
    os.environ["MAVLINK20"] = "1"
    from host_tools.flightcontroller import FlightController

    vb = make_board("latch-esp32")
    flash_board(vb)
    fc = FlightController(vb.mavlink_path)
    try:
        wait_for(lambda: ask(vb, "latch")["held"] is True, 20)
        bench(vb).call(op="power", arg="off")
        bench(vb).call(op="power", arg="on")
        wait_for(lambda: ask(vb, "latch")["state"] == "LOCKED", 20)
        port = vb.console_path
        for cmd in (["recovery", "show"], ["hello"], ["status"], ["diag"]):
            r = hearth(*cmd, "--port", port)
            text = r.stdout + r.stderr
            assert "job" not in text.lower(), (cmd, text)
            assert "held a payload" in text, (cmd, text)
        r = hearth("recovery", "resume", "--port", port)
        assert r.exit_code == 0 and "resumed: board READY" in r.stdout, r.output
    finally:
        fc.close()
