"""`hearth calibrate pa` on a virtual printer toolhead with a virtual gantry (issue 14,
item 3: "a K in config, tuned by a calibration pattern"): the pattern prints, the bench
measures the bead along each row, the picked K lands near the plant's bead lag (the K
that cancels a first-order lag is its time constant), prints better than no pressure
advance, and is written to the board's config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.protocol import BoardClient
from tests.e2e.conftest import bench, flash_board, hello_or_none, wait_for

HEARTH = str(Path(sys.executable).with_name("hearth"))
# 2x real time: the toolhead's lag behind the gantry (host turnaround and link latency,
# real milliseconds) stays small in world time, as bench/print_quality.py runs it
SPEED = 2.0


@pytest.mark.parametrize("lag_s", [None, 0.45])
def test_calibration_picks_k_near_the_bead_lag_and_writes_it(make_board, lag_s: float | None) -> None:
    vb = make_board("printer-s3", speed=SPEED, gantry=True)
    flash_board(vb)
    c = BoardClient(vb.console_path)
    wait_for(lambda: hello_or_none(c), timeout=30)
    c.close()
    bench(vb).call(op="set", param="nozzle_c", value=32.0)
    if lag_s is not None:  # another paste: the pick must follow the plant, not the default
        bench(vb).call(op="set", param="bead_tau_s", value=lag_s)
    tau = next(p.bead_tau_s for p in vb.world.plants if hasattr(p, "bead_tau_s"))
    r = subprocess.run([HEARTH, "calibrate", "pa", "-p", vb.console_path, "--motion", vb.gantry.path, "--json",
                        "--write", "--bench", vb.bench_path], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)
    print(json.dumps(res, indent=1))
    assert res["measured"] is True and res["written"] is True
    ks = [row["k"] for row in res["rows"]]
    assert ks == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    # near the lag: within 15 % of it. (The pattern's best K sits 5-10 % under the lag: the
    # toolhead cannot pull the piston back at the end of a line, so too much K costs more
    # than too little; an offline replay of the pattern, the toolhead's planner driving the
    # plant's bead as bench/print_model.py does, picks 0.28 s for a 0.3 s lag.)
    assert abs(res["k_s"] - tau) <= 0.15 * tau, res
    # and better than none: the row nearest the picked K against the K=0 row
    near = min(res["rows"], key=lambda row: abs(row["k"] - res["k_s"]))
    assert near["median_abs_err_pct"] < 0.5 * res["rows"][0]["median_abs_err_pct"], res
    assert near["within_5pct"] > res["rows"][0]["within_5pct"], res
    # written: the board rebooted with it
    c = BoardClient(vb.console_path)
    try:
        wait_for(lambda: hello_or_none(c), timeout=30)
        cfg = c.request("config_get", {"section": "printer"})["config"]
    finally:
        c.close()
    assert cfg["pressure_advance_s"] == pytest.approx(res["k_s"], abs=1e-3)


def test_calibration_usage_errors_change_nothing(make_board, tmp_path: Path) -> None:
    # (a virtual board started by `hearth sim` is found from its console; this one runs in
    # the test's process, so its bench is named)
    # no board needed for these: exit 2, a message that says what to do
    r = subprocess.run([HEARTH, "calibrate", "pa", "--k-min", "0.5", "--k-max", "0.4"], capture_output=True, text=True)
    assert r.returncode == 2 and "need 0 <= min < max <= 1" in r.stderr
    r = subprocess.run([HEARTH, "calibrate", "pa"], capture_output=True, text=True)
    assert r.returncode == 2 and "--out FILE" in r.stderr
    out = tmp_path / "pa.gcode"
    r = subprocess.run([HEARTH, "calibrate", "pa", "--out", str(out), "--k-step", "0.2", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert [row["k"] for row in res["rows"]] == pytest.approx([0.0, 0.2, 0.4, 0.6])
    assert out.read_text().count("; row ") == 4
    vb = make_board("printer-s3", speed=SPEED, gantry=True)
    r = subprocess.run([HEARTH, "calibrate", "pa", "-p", vb.console_path], capture_output=True, text=True)
    assert r.returncode == 2 and "--motion PORT" in r.stderr


def test_without_a_bench_the_pattern_prints_for_the_technician(make_board) -> None:
    # a real board has no bench: the pattern prints, nothing is picked or written, and the
    # answer says how to read the rows (this in-process board is in no registry, so its
    # bench is not found from its console, as a real board's would not be)
    vb = make_board("printer-s3", speed=5.0, gantry=True)
    flash_board(vb)
    c = BoardClient(vb.console_path)
    wait_for(lambda: hello_or_none(c), timeout=30)
    c.close()
    bench(vb).call(op="set", param="nozzle_c", value=32.0)
    r = subprocess.run([HEARTH, "calibrate", "pa", "-p", vb.console_path, "--motion", vb.gantry.path, "--json",
                        "--k-max", "0.2"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)
    assert res["measured"] is False and "k_s" not in res
    assert [row["k"] for row in res["rows"]] == pytest.approx([0.0, 0.1, 0.2])
    assert "printer.pressure_advance_s=K" in res["read"]
    c = BoardClient(vb.console_path)
    try:
        cfg = c.request("config_get", {"section": "printer"})["config"]
        j = c.request("job")
    finally:
        c.close()
    assert cfg["pressure_advance_s"] == 0.0                 # nothing written
    assert j["job"] == res["job"] or not j.get("job")       # the pattern's job ran and ended
    moves = [s for s in bench(vb).call(op="gantry", arg="history")["history"] if s["line"].startswith("G1 X")]
    assert len(moves) >= 3 * 3                               # three rows of three lines
