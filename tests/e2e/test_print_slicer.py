"""Real slicer files print to completion on a virtual printer toolhead with a virtual
gantry (issue 14): `hearth print -p TOOLHEAD --motion GANTRY FILE`, the board and the
gantry at SPEED x real time (firmware and world clocks alike), nozzle started warm.
A motion port that goes silent pauses the job with the reason, and the toolhead stops
extruding within one move."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from host_tools.protocol import BoardClient
from host_tools.slicer import job
from tests.e2e.conftest import bench, flash_board, hello_or_none, wait_for

HEARTH = str(Path(sys.executable).with_name("hearth"))
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "slicer"
SPEED = 5.0


def _board(make_board):
    vb = make_board("printer-s3", speed=SPEED, gantry=True)
    flash_board(vb)
    c = BoardClient(vb.console_path)
    wait_for(lambda: hello_or_none(c), timeout=30)
    c.close()
    bench(vb).call(op="set", param="nozzle_c", value=32.0)
    return vb


def _print(vb, f: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HEARTH, "print", "-p", vb.console_path, "--motion", vb.gantry.path, str(f), "--json",
                           *extra], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("name", ["prusaslicer_4x4x2", "cura_hex2", "pancakepainter_heart"])
def test_real_slicer_file_prints_to_completion(make_board, name: str) -> None:
    vb = _board(make_board)
    f = DATA / f"{name}.gcode"
    plan = job.build(f, job.Material.preset("dark"))
    r = _print(vb, f)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)
    assert res["done"] == res["lines"] == len(plan.tool_lines())
    assert res["motion_lines"] == sum(1 for s in plan.steps if s.motion)
    g = bench(vb).call(op="gantry", arg="history")
    moves = [s for s in g["history"] if s["line"].startswith("G1")]
    assert len(moves) == sum(1 for s in plan.steps if s.kind in ("move", "travel"))
    # the gantry ends where the file's last move ends
    last = [s for s in plan.steps if s.kind in ("move", "travel")][-1]
    assert moves[-1]["line"] == last.motion
    # the toolhead was asked for what the file asks (E steps commanded, signed, 400 steps/mm)
    # (the board rounds each move to whole steps: half a step per E line at most)
    e_lines = sum(1 for t in plan.tool_lines() if t.startswith("G1"))
    assert res["steps"] == pytest.approx(plan.e_mm * 400, abs=0.5 * e_lines + 1), res
    w = bench(vb).call(op="state")["state"]
    print(f"{name}: steps commanded {res['steps']}, made {res.get('steps_made')}, plant {w['extruded_steps']}")


def test_silent_motion_port_pauses_the_job_and_stops_the_toolhead(make_board) -> None:
    vb = _board(make_board)
    f = DATA / "prusaslicer_4x4x2.gcode"
    b = bench(vb)

    def silence() -> None:
        wait_for(lambda: b.call(op="gantry")["gantry"]["segments"] >= 40, timeout=60, every=0.02)
        b.call(op="gantry", arg="silent")

    t = threading.Thread(target=silence, daemon=True)
    t.start()
    r = _print(vb, f)
    t.join(timeout=5)
    assert r.returncode == 1, r.stdout + r.stderr
    res = json.loads(r.stdout)
    assert res["paused"] is True and res["reason"] == "motion port silent", res
    assert "stopped answering" in res["error"]
    # the toolhead got nothing past the move whose gantry move started last
    g = b.call(op="gantry", arg="history")
    taken = g["gantry"]["lines"]  # motion lines the gantry took (and answered ok)
    plan = job.build(f, job.Material.preset("dark"))
    sent = [s for s in plan.steps if s.motion][:taken]
    tool_lines = sum(1 for s in plan.steps[: plan.steps.index(sent[-1]) + 1] if s.tool)
    assert res["tool_line"] <= tool_lines
    # and the job is held on the board, heater off, with the reason given
    c = BoardClient(vb.console_path)
    try:
        h = c.request("hello", timeout=1.0, retries=5)
    finally:
        c.close()
    assert h["state"] == "RECOVERY" and h["recovery"]["kind"] == "HOLD", h


def test_pause_line_holds_the_heater_then_continue_finishes(make_board, tmp_path) -> None:
    vb = _board(make_board)
    lines = (DATA / "prusaslicer_4x4x2.gcode").read_text().splitlines(keepends=True)
    at = next(i for i, ln in enumerate(lines) if ln.startswith(";LAYER_CHANGE") and i > 100)
    lines.insert(at, "M0 ; check the first layers\n")  # the pause a maker's guided file has
    f = tmp_path / "paused.gcode"
    f.write_text("".join(lines))
    r = _print(vb, f)
    assert r.returncode == 1, r.stdout + r.stderr
    assert '"paused": true' in r.stdout and f'"file_line": {at + 1}' in r.stdout, r.stdout
    c = BoardClient(vb.console_path)
    try:
        j = c.request("job", timeout=1.0, retries=5)
        assert j["paused"] == "M0" and j["target"] == 32.0 and j["state"] == "ACTIVE", j
        steps0 = j["steps"]
        time.sleep(0.5)
        assert c.request("job", timeout=1.0, retries=5)["steps"] == steps0  # nothing extrudes while paused
    finally:
        c.close()
    r = _print(vb, f, "--continue")
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)
    plan = job.build(f, job.Material.preset("dark"))
    assert res["done"] == res["lines"] == len(plan.tool_lines())
    g = bench(vb).call(op="gantry", arg="history")
    assert sum(1 for s in g["history"] if s["line"].startswith("G1")) == sum(
        1 for s in plan.steps if s.kind in ("move", "travel"))
