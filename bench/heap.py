"""Firmware heap: the smallest MicroPython heap each role needs for a real workload.

The design goal is a peak of at most 160 KiB per role in the 64-bit unix port (about
80 KB on the ESP32's 32-bit objects; an ESP32 without PSRAM has ~100-150 KB free).
Rather than trusting a gc.mem_alloc() sample, each role is run on a virtual board
(firmware built to .mpy by `hearth flash`, as deployed) at decreasing heap sizes; a
size passes when the whole workload completes with the expected answers:

* printer: hello, heat to 32 °C (dark chocolate) and hold, a job with M83, M109 and
  extrusion moves, job end, status; at speed 20;
* latch: hello, a flight controller (pymavlink) heartbeating, arm + verified release,
  verified grab, status.

Baseline (same run): the 256 KiB heap the firmware tests use, and the 160 KiB goal.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from host_tools.protocol import BoardClient, BoardError, ProtocolTimeout
from host_tools.sim.relay import VirtualBoard

ROOT = Path(__file__).resolve().parent.parent
HEAPS_K = [256, 224, 208, 192, 176, 160, 144, 128, 112, 96]


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
    for line in ("M83", "M109 S32", "G1 E1 F120", "G1 E1 F120", "G1 E-0.5 F600", "G1 E0.5 F600", "G4 P100"):
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
                except (BoardError, ProtocolTimeout, OSError) as e:
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
    subprocess.run([hearth, "flash", "--board", board, "--port", vb.console_path], check=True,
                   capture_output=True, timeout=300)


def main() -> int:
    results = {"printer-s3": run_role("printer-s3", printer_workload, 20.0),
               "latch-esp32": run_role("latch-esp32", latch_workload, 1.0)}
    (ROOT / "bench/results").mkdir(exist_ok=True)
    (ROOT / "bench/results/heap.json").write_text(json.dumps(results, indent=1) + "\n")
    print("| role | smallest heap that ran the whole workload | first heap that failed (why) | goal |")
    print("|---|---|---|---|")
    ok_all = True
    for board, rows in results.items():
        good = [r["heap_k"] for r in rows if r["ok"]]
        bad = [r for r in rows if not r["ok"]]
        need = min(good) if good else None
        ok_all &= need is not None and need <= 160
        fail = f"{bad[0]['heap_k']} KiB ({(bad[0]['why'] or '')[:60]})" if bad else f"none down to {HEAPS_K[-1]} KiB"
        print(f"| {board} | {need} KiB | {fail} | <= 160 KiB (baseline: the tests' 256 KiB) |")
    print()
    print("Goal: " + ("**met**" if ok_all else "**missed**: module imports alone take ~125-140 KiB here, because "
                      ".mpy bytecode is copied into RAM; on an ESP32 the fix is executing from flash (a ROMFS "
                      "partition, `mpremote romfs deploy`, or frozen modules), which the unix port cannot emulate."))
    print()
    print("Heap sizes tried: " + ", ".join(f"{k}K" for k in HEAPS_K) + ". The firmware is the deployed .mpy build; "
          "the unix port's objects are 64-bit, about twice the ESP32's.")
    print()
    from bench.heap_flash import section  # the same workloads with the firmware in flash

    ok_all &= section()
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
