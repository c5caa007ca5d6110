"""Firmware heap: the smallest MicroPython heap each role needs for a real workload.

On the ESP32-faithful interpreter (32-bit objects, single floats: host_tools/interp),
from .mpy files on the filesystem (`hearth flash --format files`). Goals (issue 11):
the latch's smallest working heap at most 96 KiB on an ESP32 (stock heap 56+56 KiB), the
printer's at most 128 KiB on an ESP32-S3 (64+64 KiB). Rather than trusting a
gc.mem_alloc() sample, each role is run on a virtual board at decreasing fixed heaps
(no split-heap growth); a size passes when the whole workload completes with the
expected answers:

* printer: hello, heat to 32 °C (dark chocolate) and hold, a job with M83, M109 and
  extrusion moves, job end, status; at speed 20;
* latch: hello, a flight controller (pymavlink) heartbeating, arm + verified release,
  verified grab, status.

Baseline (same run): the stock chip's heap. The same workloads from ROMFS and frozen:
bench/heap_flash.py.

To iterate on one role: `python -m bench.heap --board latch-esp32 [--mode files|romfs|frozen]
[--heaps 104,96,88]` runs only that role at those heaps (all of them, not only down to the
first failure), prints each result and writes no results file.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import help_if_asked
from host_tools.flightcontroller import LatchLinkError
from host_tools.protocol import BoardClient, BoardError, ProtocolTimeout
from host_tools.sim.relay import VirtualBoard

ROOT = Path(__file__).resolve().parent.parent
HEAPS_K = [160, 144, 136, 132, 128, 124, 120, 116, 112, 108, 104, 100, 96, 92, 88, 80, 72, 64]
GOAL_K = {"latch-esp32": 96, "printer-s3": 128}
STOCK = {"latch-esp32": "esp32: 56+56 = 112 KiB", "printer-s3": "esp32s3: 64+64 = 128 KiB"}


def _hello(c: BoardClient, timeout: float = 15) -> dict[str, Any] | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            return c.request("hello", timeout=0.5, retries=0)
        except ProtocolTimeout:
            pass
    return None


def printer_workload(vb: VirtualBoard, c: BoardClient) -> str | None:
    h = _hello(c)
    if not h or h.get("role") != "printer" or h.get("problems"):
        return f"hello: {h}"
    c.request("heat", {"material": "dark"})
    end = time.monotonic() + 20
    while abs(vb.world.snapshot().get("nozzle_c", 0) - 32.0) > 0.4:
        if time.monotonic() > end:
            return "never reached 32 C"
        c.request("job")
        time.sleep(0.1)
    c.request("job_start", {"id": 1, "material": "dark", "unix": 1767225600})
    n = 0
    for line in ("M83", "M109 S32", "G1 E1 F120", "G1 E1 F120", "G1 E-0.5 F300", "G1 E0.5 F300", "G4 P100"):
        n += 1
        while True:
            try:
                c.request("gcode", {"n": n, "line": line})
                break
            except BoardError as e:
                if e.code != "BUSY":
                    return f"gcode {line}: {e}"
                c.request("job")
                time.sleep(0.05)
    end = time.monotonic() + 20
    while c.request("job").get("done", 0) < n:
        if time.monotonic() > end:
            return "job did not finish"
        time.sleep(0.05)
    c.request("job_end")
    st = c.request("status")
    return None if st["state"] in ("READY", "SAFE") else f"status: {st['state']}"


def latch_workload(vb: VirtualBoard, c: BoardClient) -> str | None:
    from host_tools.flightcontroller import FlightController

    h = _hello(c)
    if not h or h.get("role") != "latch" or h.get("problems"):
        return f"hello: {h}"
    with FlightController(vb.mavlink_path) as fc:
        if fc.wait_heartbeat(timeout=5) is None:
            return "no heartbeat"
        time.sleep(1.2)  # the latch must see the FC's heartbeat before it can arm
        r = fc.release_cycle()
        if r["result"] != "ACCEPTED":
            return f"release: {r}"
        g = fc.grab_cycle()
        if g["result"] != "ACCEPTED":
            return f"grab: {g}"
    st = c.request("status")
    return None if st["state"] in ("READY", "SAFE", "ACTIVE") else f"status: {st['state']}"


def run_role(board: str, workload: Any, speed: float) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        vb = VirtualBoard(board, Path(tmp) / "state", speed=speed, heap="512K")  # flashed with room to spare
        vb.start()
        try:
            _flash(board, vb)
            for k in HEAPS_K:
                vb.heap = f"{k}K"
                vb.power_off()
                vb.power_on()
                c = BoardClient(vb.console_path)
                try:
                    err = workload(vb, c)
                except (BoardError, ProtocolTimeout, OSError, LatchLinkError) as e:
                    err = f"{type(e).__name__}: {e}"
                finally:
                    c.close()
                rows.append({"heap_k": k, "ok": err is None, "why": err})
                print(f"  {board} {k}K: {'ok' if err is None else err}", file=sys.stderr, flush=True)
                if err is not None:
                    break
        finally:
            vb.stop()
    return rows


def _flash(board: str, vb: VirtualBoard) -> None:
    import subprocess

    hearth = str(Path(sys.executable).with_name("hearth"))
    subprocess.run([hearth, "flash", "--board", board, "--port", vb.console_path, "--format", "files"], check=True,
                   capture_output=True, timeout=300)


def _one(argv: list[str]) -> int:
    import argparse

    from bench import heap_flash

    ap = argparse.ArgumentParser(prog="python -m bench.heap")
    ap.add_argument("--board", required=True, choices=sorted(GOAL_K))
    ap.add_argument("--mode", default="files", choices=("files", "romfs", "frozen"))
    ap.add_argument("--heaps", help="KiB, comma-separated (default: the bench's list for the mode)")
    a = ap.parse_args(argv)
    heaps = [int(k) for k in a.heaps.split(",")] if a.heaps else (HEAPS_K if a.mode == "files" else heap_flash.HEAPS_K)
    wl, speed = (printer_workload, 20.0) if a.board.startswith("printer") else (latch_workload, 1.0)
    rows = heap_flash.run(a.board, wl, speed, a.mode, heaps=heaps, stop_at_failure=False)
    return 0 if all(r["ok"] for r in rows) else 1


def main() -> int:
    if sys.argv[1:]:
        return _one(sys.argv[1:])
    results = {"printer-s3": run_role("printer-s3", printer_workload, 20.0),
               "latch-esp32": run_role("latch-esp32", latch_workload, 1.0)}
    (ROOT / "bench/results").mkdir(exist_ok=True)
    (ROOT / "bench/results/heap.json").write_text(json.dumps(results, indent=1) + "\n")
    print("| role | smallest heap that ran the whole workload (.mpy files) | first heap that failed (why) "
          "| goal | stock chip heap |")
    print("|---|---|---|---|---|")
    ok_all = True
    for board, rows in results.items():
        good = [r["heap_k"] for r in rows if r["ok"]]
        bad = [r for r in rows if not r["ok"]]
        need = min(good) if good else None
        met = need is not None and need <= GOAL_K[board]
        ok_all &= met
        fail = f"{bad[0]['heap_k']} KiB ({(bad[0]['why'] or '')[:60]})" if bad else f"none down to {HEAPS_K[-1]} KiB"
        print(f"| {board} | {need} KiB{'' if met else ' (missed)'} | {fail} | <= {GOAL_K[board]} KiB | {STOCK[board]} |")
    print()
    print("Heap sizes tried: " + ", ".join(f"{k}K" for k in HEAPS_K) + ", down to the first failure. The firmware "
          "is the deployed .mpy build (`hearth flash --format files`); the interpreter is the ESP32-faithful "
          "32-bit, single-float build. From files, every function's bytecode is copied into the heap; from ROMFS "
          "it runs in place, and frozen modules keep their constants and qstrs in the image too (below).")
    print()
    from bench.heap_flash import section  # the same workloads with the firmware in flash

    ok_all &= section()
    return 0 if ok_all else 1


if __name__ == "__main__":
    help_if_asked(__doc__)
    sys.exit(main())
