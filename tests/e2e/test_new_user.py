"""A new technician's session, scripted (issue 12): only `hearth` commands, `mpremote`
and Ctrl-C, against a `hearth sim` found with `--port auto`.

flash --port auto, print, Ctrl-C (the job is held, heater off), print --resume, mpremote
(the app stops), hello (says so), reset, a second print held, recovery show and
discard, and a flash of the wrong board type refused. The only shortcut: the bench
warms the nozzle first, so the job does not wait half a minute for its heat-up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import wait_for

BIN = Path(sys.executable).parent
HEARTH = str(BIN / "hearth")
MPREMOTE = str(BIN / "mpremote")


def test_new_user_session(tmp_path: Path) -> None:
    env = dict(os.environ, HEARTH_RUNTIME=str(tmp_path / "runtime"))  # only this session's boards

    def hearth(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HEARTH, *args], capture_output=True, text=True, timeout=timeout, env=env)

    sim = subprocess.Popen([HEARTH, "sim", "--board", "printer-s3", "--state", str(tmp_path / "state")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        eps: dict[str, str] = {}
        assert sim.stdout is not None
        while len(eps) < 2:
            k, _, v = sim.stdout.readline().strip().partition(": ")
            eps[k] = v
        bench = eps["bench"]

        def world() -> dict[str, Any]:
            return json.loads(hearth("bench", bench, "state", "--json").stdout)["state"]

        # the README's own command
        r = hearth("flash", "--board", "printer-s3", "--port", "auto")
        assert r.returncode == 0, r.stdout + r.stderr
        r = hearth("hello", "--port", "auto")
        assert r.returncode == 0 and "printer-s3: printer role on an esp32s3" in r.stdout, r.stdout + r.stderr

        job = tmp_path / "bar.gcode"
        job.write_text("; a chocolate bar\nM83\nM109 S32\n" + "G1 E0.5 F120\n" * 40 + "M104 S0\n")
        hearth("bench", bench, "set", "nozzle_c", "32")

        def print_until_ctrl_c(lines_done: int) -> str:
            p = subprocess.Popen([HEARTH, "print", "--port", "auto", str(job)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
            steps0 = world()["extruded_steps"]
            wait_for(lambda: world()["extruded_steps"] - steps0 >= lines_done * 200, timeout=40, every=0.2)
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=30)
            assert p.returncode == 1, err
            return err

        # Ctrl-C: the job is held on the board, heater off, one line says so
        err = print_until_ctrl_c(6)
        held = [ln for ln in err.splitlines() if ln.startswith("interrupted:")]
        assert len(held) == 1 and "held on the board" in held[0] and "heater off" in held[0], err
        time.sleep(0.3)
        w = world()
        assert w["pwm"]["heater"]["duty_u16"] == 0 and w["outputs"]["stepper_enable"] == 1, w
        r = hearth("print", "--port", "auto", str(job), "--resume")
        assert r.returncode == 0 and "43/43 lines done (resumed at line" in r.stdout, r.stdout + r.stderr

        # mpremote leaves the app stopped: hello says so, reset brings it back
        r = subprocess.run([MPREMOTE, "connect", eps["console"], "exec", "print('hi')"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and "hi" in r.stdout
        r = hearth("hello", "--port", "auto", "--timeout", "0.5")
        assert r.returncode == 1 and "hearth reset" in r.stderr, r.stderr
        r = hearth("reset", "--port", "auto")
        assert r.returncode == 0 and "the app answers: printer-s3 state SAFE" in r.stdout, r.stdout + r.stderr

        # a second job held, then dropped: the recovery verbs, no token to copy
        print_until_ctrl_c(3)
        r = hearth("recovery", "show", "--port", "auto")
        assert r.returncode == 0 and "interrupted by the host pausing it" in r.stdout, r.stdout
        r = hearth("recovery", "discard", "--port", "auto")
        assert r.returncode == 0 and "discarded" in r.stdout and "board READY" in r.stdout, r.stdout + r.stderr

        # the latch's board file on this printer: refused, nothing written, the printer runs on
        r = hearth("flash", "--board", "latch-esp32", "--port", "auto")
        assert r.returncode == 1 and "refused" in r.stderr and "esp32s3" in r.stderr, r.stdout + r.stderr
        r = hearth("hello", "--port", "auto", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["board"] == "printer-s3"
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=15)
        except subprocess.TimeoutExpired:
            sim.kill()
            raise
    assert sim.returncode is not None
