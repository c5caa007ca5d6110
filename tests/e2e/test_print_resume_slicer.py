"""A slicer job survives a power cut of the toolhead (issue 14 with issue 12's journal):
`hearth print --motion GANTRY FILE --resume` takes the job up from the board's next line,
brings the gantry back to where that line's move starts (up, across, down), waits for
the nozzle, and prints to the end. The motion controller keeps its power (the virtual
gantry runs on)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.protocol import BoardClient
from host_tools.slicer import job
from host_tools.slicer.stream import approach, resume_point
from tests.e2e.conftest import bench, flash_board, hello_or_none, wait_for

HEARTH = str(Path(sys.executable).with_name("hearth"))
DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "slicer"
SPEED = 5.0


def _cmd(vb, f: Path, *extra: str) -> list[str]:
    return [HEARTH, "print", "-p", vb.console_path, "--motion", vb.gantry.path, str(f), "--json", *extra]


def test_power_cut_then_resume_finishes_the_slicer_job(make_board) -> None:
    vb = make_board("printer-s3", speed=SPEED, gantry=True)
    flash_board(vb)
    c = BoardClient(vb.console_path)
    wait_for(lambda: hello_or_none(c), timeout=30)
    c.close()
    b = bench(vb)
    b.call(op="set", param="nozzle_c", value=32.0)
    f = DATA / "prusaslicer_4x4x2.gcode"
    plan = job.build(f, job.Material.preset("dark"))
    p = subprocess.Popen(_cmd(vb, f), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: b.call(op="gantry")["gantry"]["segments"] >= 120, timeout=120, every=0.02)
        # the supply collapses; the hold-up keeps the chip up for its power-fail record
        b.call(op="power", arg="fail", restore_after_ms=300)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    # the host lost the board, or (back within a line) saw it hold the job: either way it
    # stops and says how to go on
    assert p.returncode in (1, 2), out + err
    assert "RECOVERY" in out + err or "recovery" in out + err, out + err
    c = BoardClient(vb.console_path)
    try:
        h = wait_for(lambda: hello_or_none(c), timeout=30)
    finally:
        c.close()
    assert h["state"] == "RECOVERY", h
    n_before = len(b.call(op="gantry", arg="history")["history"])
    # another file is refused, nothing resumed
    other = DATA / "cura_hex2.gcode"
    r = subprocess.run(_cmd(vb, other, "--resume"), capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "not this file" in r.stdout + r.stderr, r.stdout + r.stderr
    r = subprocess.run(_cmd(vb, f, "--resume"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)
    tool = plan.tool_lines()
    assert res["done"] == res["lines"] == len(tool)
    assert 1 < res["resumed_at"] <= len(tool), res
    # the gantry went back to where the resumed line's move starts, then on from there
    rp = resume_point(plan, res["resumed_at"])
    back = approach(plan, rp)
    hist = b.call(op="gantry", arg="history")["history"][n_before:]
    lines = [s["line"] for s in hist]
    across = next(i for i, ln in enumerate(lines) if ln.startswith("G1 X"))
    assert lines[across] == back[3], (lines[:6], back)
    x, y, z = plan.steps[rp - 1].pos
    assert hist[across + 1]["end"][2] == pytest.approx(z, abs=1e-3)
    assert hist[across]["end"][:2] == pytest.approx([x, y], abs=1e-3)
    # every move from the resume point on, in order, after the approach
    rest = [s.motion for s in plan.steps[rp:] if s.kind in ("move", "travel")]
    assert [ln for ln in lines[across + 2:] if ln.startswith("G1")] == rest
