"""`make demo`: two virtual boards, flashed, asked who they are; the printer heats its
nozzle and prints a short job; the latch is power-cycled.

Everything goes through the same commands an engineer types: `hearth sim` in the
background, `hearth flash`, `hearth hello`, `hearth status`, `hearth print`,
`hearth bench`. The printer runs board time at 4x real time so its heat-up takes
seconds, not half a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

BIN = Path(sys.executable).parent
HEARTH = str(BIN / "hearth")
con = Console(width=max(100, Console().width))


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    con.print(f"[dim]$ hearth {' '.join(args)}[/dim]")
    r = subprocess.run([HEARTH, *args], capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        con.print(f"[red]{r.stderr or r.stdout}[/red]")
        raise SystemExit(r.returncode or 1)
    return r


SPEED = {"printer-s3": "4", "latch-esp32": "1"}
JOB = "; a small chocolate line\nM83\nM109 S32 ; heat, wait for 32 C\n" + "G1 E0.5 F120\n" * 10 + "M104 S0\n"


def start_sim(board: str, state: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    con.print(f"[dim]$ hearth sim --board {board} --state {state} --speed {SPEED[board]} &[/dim]")
    p = subprocess.Popen([HEARTH, "sim", "--board", board, "--state", str(state), "--speed", SPEED[board]],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    eps: dict[str, str] = {}
    assert p.stdout is not None
    want = 3 if board.startswith("latch") else 2
    while len(eps) < want:
        line = p.stdout.readline()
        if not line:
            raise SystemExit(f"hearth sim for {board} exited: {p.stderr.read() if p.stderr else ''}")
        k, _, v = line.strip().partition(": ")
        eps[k] = v
    return p, eps


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="hearth-demo-"))
    procs: list[subprocess.Popen[str]] = []
    try:
        boards = {}
        for name in ("printer-s3", "latch-esp32"):
            p, eps = start_sim(name, tmp / name)
            procs.append(p)
            boards[name] = eps
            con.print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in eps.items()))
        for name, eps in boards.items():
            r = run("flash", "--board", name, "--port", eps["console"])
            con.print(f"  {r.stdout.strip()}")
        table = Table(title="hello / status")
        for col in ("board", "role", "fw", "state", "reset", "config", "supply", "ticks", "heap free"):
            table.add_column(col, no_wrap=True)
        for eps in boards.values():
            h = json.loads(run("hello", "--port", eps["console"], "--json").stdout)
            s = json.loads(run("status", "--port", eps["console"], "--json").stdout)
            mv = s.get("supply_mv")
            table.add_row(h["board"], h["role"], h["fw"], h["state"], h["reset_cause"], h["config_hash"][:8],
                          "--" if mv is None else f"{mv / 1000:.1f} V", str(s["loop"]["ticks"]),
                          f"{s['heap_free'] / 1024:.1f} KB")
        con.print(table)

        eps = boards["printer-s3"]
        con.print(Panel("The printer: heat the nozzle to 32 C (dark chocolate) and print a short job"))
        job = tmp / "line.gcode"
        job.write_text(JOB)
        before = json.loads(run("status", "--port", eps["console"], "--json").stdout)["role"]
        r = run("print", "--port", eps["console"], str(job), "--json")
        res = json.loads(r.stdout)
        con.print(f"  job {res['job']}: {res['done']}/{res['lines']} lines; the nozzle heated from "
                  f"{before['temp']:.1f} C to 32 C (M109) first")
        con.print(f"  {res['danger_zone_s']} s of board time in the food-safety danger zone (5-57 C), "
                  "recorded for the HACCP log")
        st = json.loads(run("bench", eps["bench"], "state", "--json").stdout)["state"]
        printed = res["done"] == res["lines"]
        con.print(f"  extruded {st['extruded_steps']} steps (10 lines x 0.5 mm x 400 steps/mm = 2000)")
        con.print(f"  [{'green' if printed else 'red'}]job complete: {printed}[/]")

        eps = boards["latch-esp32"]
        con.print(Panel("Cutting power to the latch board on the bench, then restoring it"))
        run("bench", eps["bench"], "power", "off")
        st = json.loads(run("bench", eps["bench"], "state", "--json").stdout)["state"]
        con.print(f"  powered={st['powered']} interpreter={st['interpreter']} outputs={st['outputs']} pwm={st['pwm']}")
        run("bench", eps["bench"], "power", "on")
        # Watch the servo signal while the board boots: it may be silent (no pulses)
        # or at the locked pulse, never anywhere toward open.
        worst_us = 0.0
        t_end = time.monotonic() + 1.5
        from host_tools.sim.bench import BenchClient

        probe = BenchClient(eps["bench"])
        samples = 0
        while time.monotonic() < t_end:
            pwm = probe.call(op="state")["state"]["pwm"].get("servo")
            if pwm:
                worst_us = max(worst_us, pwm["duty_u16"] / 65535 * 1e6 / pwm["freq"])
            samples += 1
        h = json.loads(run("hello", "--port", eps["console"], "--json").stdout)
        st = json.loads(run("bench", eps["bench"], "state", "--json").stdout)["state"]
        safe = worst_us <= 1050 and st["outputs"].get("solenoid", 0) == 0
        rec = h.get("recovery") or {}
        why = ("the journal says it held a payload: LOCKED, waiting for resume/discard"
               if rec.get("held") else "nothing was interrupted")
        con.print(f"  after power-on: {h['state']} ({h['reset_cause']}): {why}")
        con.print(f"  servo pulse over {samples} probes during boot: at most {worst_us:.0f} us "
                  "(locked 1000 us, open 2000 us)")
        con.print("  solenoid off")
        con.print(f"  [{'green' if safe else 'red'}]latch came back locked and safe: {safe}[/]")
        return 0 if safe and printed else 1
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
        left = [p.pid for p in procs if p.poll() is None]
        con.print(f"stopped {len(procs)} virtual boards; still running: {left or 'none'}")
        os.environ.pop("HEARTH_DEMO", None)


if __name__ == "__main__":
    sys.exit(main())
