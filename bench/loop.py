"""The control loop under a host that misbehaves: worst tick, overruns, resets.

Faithful virtual boards (the firmware frozen in, the stock chip heap, the board's own
console link: latch-esp32 behind a USB-UART bridge at 115200, printer-s3 on USB-CDC),
each running its workload at real time (speed 1: a tick's cost is real CPU time):

* printer: heated to 32 °C (dark chocolate) with a job open, holding;
* latch: a flight controller (pymavlink) heartbeating over its MAVLink UART.

Meanwhile one host per board, on the console:

* polite (the baseline, same run): asks `status` every 100 ms and reads every answer;
* lazy: asks `status` every 100 ms but reads its port only every 5 s;
* flood: writes malformed lines as fast as the port takes them and never reads.

Every host also sends one valid request a second (`job` on the printer: its host
dead-man counts the job's own commands).

After the window (200 s per host by default, 10 minutes of job per board; --seconds) a
fresh client reads the board's own
figures: worst tick and overruns since the window opened (`stats_reset`), the console's
dropped lines and slowest write, the worst planned collection, and the bench's log of
watchdog resets. Goal: a tick's work never takes more than one tick (10 ms)
and no watchdog reset, under every host.

Usage: python -m bench.loop [--seconds N]. Writes bench/results/loop.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MAVLINK20", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host_tools.protocol import BoardClient, ProtocolTimeout, encode_request  # noqa: E402
from host_tools.sim.install import write_firmware  # noqa: E402
from host_tools.transport.serialport import open_port  # noqa: E402

HOSTS = ("polite", "lazy", "flood")


def _client(sim: Any, timeout: float = 20) -> BoardClient:
    c = BoardClient(open_port(sim.console))
    end = time.monotonic() + timeout
    while True:
        try:
            c.request("hello", timeout=0.5, retries=0)
            return c
        except ProtocolTimeout:
            if time.monotonic() > end:
                raise
    return c


def _printer_setup(sim: Any) -> None:
    c = _client(sim)
    try:
        c.request("heat", {"material": "dark"})
        end = time.monotonic() + 120
        while abs(sim.state().get("nozzle_c", 0) - 32.0) > 0.5 and time.monotonic() < end:
            c.request("job")
            time.sleep(0.5)
        c.request("job_start", {"id": 7, "material": "dark", "unix": 1767225600})
        c.request("stats_reset")
    finally:
        c.close()


def _latch_setup(sim: Any, stop: threading.Event) -> threading.Thread:
    from host_tools.flightcontroller import FlightController

    def fc() -> None:
        with FlightController(sim.mavlink) as f:
            while not stop.is_set():
                f.wait_heartbeat(timeout=1.0)  # it heartbeats back at 1 Hz itself

    t = threading.Thread(target=fc, daemon=True)
    t.start()
    c = _client(sim)
    try:
        c.request("stats_reset")
    finally:
        c.close()
    return t


def _host(kind: str, port: str, seconds: float, out: dict[str, Any], keepalive: str) -> None:
    # keepalive: a command sent once a second by every host (the printer's job counts
    # only its own commands as the host being there: `job`)
    ser = open_port(port)
    rng = random.Random(1)
    seq = 1
    sent = answers = 0
    end = time.monotonic() + seconds
    next_read = time.monotonic() + 5
    next_valid = time.monotonic()
    got = bytearray()
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            if kind == "flood":
                junk = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(10, 120))) + b"\n"
                ser.write(junk)
                sent += 1
                if now >= next_valid:
                    ser.write(encode_request(seq, keepalive))
                    seq += 1
                    next_valid = now + 1.0
                continue
            if now >= next_valid:
                ser.write(encode_request(seq, keepalive))
                seq += 1
                next_valid = now + 1.0
            ser.write(encode_request(seq, "status"))
            seq += 1
            sent += 1
            if kind == "polite" or now >= next_read:
                got += ser.read(ser.in_waiting or 1)
                next_read = now + 5
            time.sleep(0.1)
        answers = got.count(b"\n=")
    finally:
        ser.close()
    out.update(sent=sent, answers_read=answers)


class _Sim:
    """A virtual board in its own `hearth sim` process, as a board on its own cable: its
    world's round trips then cost what one process costs, not a share of six."""

    def __init__(self, board: str, state: Path) -> None:
        import subprocess

        from host_tools.boards import load_board

        write_firmware(state, load_board(board), "frozen")
        hearth = str(Path(sys.executable).with_name("hearth"))
        self.proc = subprocess.Popen([hearth, "sim", "--board", board, "--frozen", "--state", str(state)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        assert self.proc.stdout is not None
        eps: dict[str, str] = {}
        while len(eps) < (3 if board.startswith("latch") else 2):
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"hearth sim {board} did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
            k, _, v = line.strip().partition(": ")
            eps[k] = v
        self.console, self.bench, self.mavlink = eps["console"], eps["bench"], eps.get("mavlink", "")
        self.board = board

    def state(self) -> dict[str, Any]:
        from host_tools.sim.bench import BenchClient

        return BenchClient(self.bench).call(op="state")["state"]

    def events(self) -> list[str]:
        from host_tools.sim.bench import BenchClient

        return [e for _, e in BenchClient(self.bench).call(op="log")["events"]]

    def stop(self) -> None:
        import signal

        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except Exception:  # noqa: BLE001
            os.killpg(self.proc.pid, signal.SIGKILL)


# The firmware's tick histogram (runtime/ticker.py): ticks whose work took < 1, 2, 5,
# 10, 20, 50 ms, and the rest.
HIST_EDGES_MS = (1, 2, 5, 10, 20, 50)


def _quantile_edge(hist: list[int], q: float) -> float | None:
    """The upper edge (ms) of the bucket holding the q-quantile tick; None if open."""
    total = sum(hist)
    if not total:
        return None
    seen = 0
    for i, n in enumerate(hist):
        seen += n
        if seen >= q * total:
            return float(HIST_EDGES_MS[i]) if i < len(HIST_EDGES_MS) else None
    return None


def run_board(board: str, host: str, seconds: float, results: dict[str, Any]) -> None:
    tmp = tempfile.mkdtemp(prefix=f"hearth-loop-{board}-{host}-")
    stop = threading.Event()
    row: dict[str, Any] = {"board": board, "host": host}
    sim = None
    try:
        sim = _Sim(board, Path(tmp) / "state")
        row["link"] = sim.state()["link"]["kind"]
        fc = None
        if board.startswith("printer"):
            _printer_setup(sim)
        else:
            fc = _latch_setup(sim, stop)
        _host(host, sim.console, seconds, row, "job" if board.startswith("printer") else "hello")
        stop.set()
        if fc is not None:
            fc.join(3)
        time.sleep(1.0)
        c = _client(sim, 30)
        try:
            st = c.request("status", timeout=2.0, retries=5)
        finally:
            c.close()
        loop = st["loop"]
        hist = loop.get("hist") or []
        row.update(worst_tick_ms=round(loop["worst_tick_us"] / 1000, 2), overruns=loop["overruns"],
                   ticks=loop["ticks"], period_ms=loop["period_ms"], tick_hist=hist,
                   p999_tick_ms=_quantile_edge(hist, 0.999),
                   console_dropped=st["console"]["dropped_lines"],
                   slowest_write_ms=round(st["console"]["worst_write_us"] / 1000, 2),
                   gc_worst_ms=round(st["gc"]["worst_us"] / 1000, 2), state=st["state"],
                   link=sim.state()["link"],
                   watchdog_resets=sum(1 for e in sim.events() if "watchdog" in e))
    except Exception as e:  # noqa: BLE001 - a board that stopped answering is a result
        row.update(error=f"{type(e).__name__}: {e}", link=row.get("link", "?"),
                   watchdog_resets=sum(1 for e in sim.events() if "watchdog" in e) if sim else 0)
    finally:
        stop.set()
        if sim is not None:
            sim.stop()
    results[f"{board}/{host}"] = row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=200)
    ap.add_argument("--report", action="store_true",
                    help="Print the table of the last run (bench/results/loop.json) without running.")
    a = ap.parse_args()
    if a.report:
        saved = json.loads((ROOT / "bench/results/loop.json").read_text())
        return 0 if report(saved, float(saved.get("_seconds", a.seconds))) else 1
    from host_tools.deploy.flashfw import frozen_interpreter

    frozen_interpreter()  # built once here, not by six boards at once
    results: dict[str, Any] = {}
    # One host kind at a time, the two boards side by side: two interpreters on this
    # machine's two cores, so that the host's scheduler adds as little as it can.
    for h in HOSTS:
        threads = [threading.Thread(target=run_board, args=(b, h, a.seconds, results))
                   for b in ("printer-s3", "latch-esp32")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    (ROOT / "bench/results").mkdir(exist_ok=True)
    (ROOT / "bench/results/loop.json").write_text(json.dumps({**results, "_seconds": a.seconds}, indent=1) + "\n")
    return 0 if report(results, a.seconds) else 1


def report(results: dict[str, Any], seconds: float) -> bool:
    """The markdown table and what it means; True when the goal is met."""
    print("| board (link) | host | worst tick | 99.9 % of ticks within | ticks > 10 ms | overruns / ticks "
          "| console lines dropped | slowest console write | worst planned gc | watchdog resets "
          "| answers afterwards |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for key in sorted(k for k in results if not k.startswith("_")):
        r = results[key]
        if "error" in r:
            ok = False
            print(f"| {r['board']} ({r['link']}) | {r['host']} | - | - | - | - | - | - | - | {r['watchdog_resets']} "
                  f"| no: {r['error'][:60]} |")
            continue
        budget = r["period_ms"]
        ok &= r["worst_tick_ms"] <= budget and r["watchdog_resets"] == 0
        hist = r.get("tick_hist") or []
        over = sum(hist[4:]) if len(hist) > 4 else "?"
        p999 = r.get("p999_tick_ms")
        print(f"| {r['board']} ({r['link']['kind']}) | {r['host']} | {r['worst_tick_ms']} ms | "
              f"{'-' if p999 is None else f'{p999:g} ms'} | {over} | {r['overruns']} / {r['ticks']} | {r['console_dropped']} | {r['slowest_write_ms']} ms | "
              f"{r['gc_worst_ms']} ms | {r['watchdog_resets']} | yes ({r['state']}) |")
    print()
    print(f"{seconds:.0f} s per board and host at real time ({3 * seconds / 60:.0f} min of job per board), "
          "the two boards side by side on this machine (2 cores, shared: a tick's time includes the host "
          "scheduler's, which the polite baseline shows). "
          "A tick is 10 ms; the goal is a worst tick within one tick of budget (its work done in "
          "<= 10 ms) and no watchdog reset under any host: "
          + ("**met**." if ok else "**missed**."))
    print("Worst tick: the longest a tick's work took (the firmware's own ticks_us), since `stats_reset` "
          "after boot and set-up. The polite host is the baseline measured in the same run. "
          "The firmware also counts its ticks by time taken (1/2/5/10/20/50 ms buckets): '99.9 % within' is "
          "the bucket edge that 99.9 % of ticks stay under. The slowest console write and the worst planned "
          "collection are timed by the firmware around those calls alone: a worst tick far above them, "
          "seen as a handful of ticks out of tens of thousands under the polite host as well, is the "
          "virtual board's process waiting for this shared machine's CPU, which a chip does not do.")
    return ok


if __name__ == "__main__":
    sys.exit(main())
