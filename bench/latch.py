"""Payload latch over MAVLink at 57600 baud: ACK latency and command-to-confirmed-release
latency, on a virtual latch board with pymavlink as the flight controller.

Each cycle: reload a 500 g parcel (bench), arm, RELEASE, wait for the final ACK
(ACCEPTED only when the open switch confirms), GRAB, wait for the lock switch's ACK.
Times are measured on the flight controller's side, from the moment the command was
written to the serial port to the moment the ACK frame was decoded.

Baselines, from the same run:
* the wire: the frames' own time at 57600 baud (10 bits a byte), sizes from pymavlink;
* the bolt: the plant's travel time from locked to the open switch (the physics floor
  of a *verified* release);
* what flight stacks do instead of verifying (issue #5): report success after a fixed
  0.5 s or 3 s whether or not the latch moved.

Usage: python -m bench.latch [--cycles N]. Writes bench/results/latch.json (with a
"markdown" key) and prints the markdown section on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ["MAVLINK20"] = "1"

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import help_if_asked  # noqa: E402
from host_tools.flightcontroller import FlightController, LatchLinkError, stats  # noqa: E402
from host_tools.sim.bench import BenchClient  # noqa: E402
from host_tools.sim.plants.latch_world import LatchWorldPlant  # noqa: E402
from host_tools.sim.relay import VirtualBoard  # noqa: E402

BAUD = 57600


def frame_bytes() -> dict[str, int]:
    from pymavlink.dialects.v20 import common as m2

    fc = m2.MAVLink(None, srcSystem=1, srcComponent=1)
    latch = m2.MAVLink(None, srcSystem=1, srcComponent=158)
    cmd = fc.command_long_encode(1, 158, 211, 0, 1.0, 0.0, 0, 0, 0, 0, 0).pack(fc)
    ack = latch.command_ack_encode(211, 5, 0, 0, 1, 1).pack(latch)
    hb = latch.heartbeat_encode(48, 8, 0, 0, 3, 3).pack(latch)
    return {"command_long": len(cmd), "command_ack": len(ack), "heartbeat": len(hb)}


def wire_ms(nbytes: int) -> float:
    return nbytes * 10 * 1000 / BAUD


def run(cycles: int) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="hearth-bench-latch-")
    vb = VirtualBoard("latch-esp32", tmp, frozen=True)  # the stock ESP32 heap
    plant = next(p for p in vb.world.plants if isinstance(p, LatchWorldPlant))
    vb.start()
    from host_tools.sim.install import install

    install(vb)
    bench = BenchClient(vb.bench_path)
    fc = FlightController(vb.mavlink_path, baud=BAUD)
    rel: list[float] = []
    ack: list[float] = []
    arm_ack: list[float] = []
    lock: list[float] = []
    failures: list[str] = []
    try:
        if fc.wait_heartbeat(timeout=20) is None:
            raise LatchLinkError("no heartbeat from the latch")
        time.sleep(1.5)
        for i in range(cycles):
            bench.call(op="set", param="payload_g", value=500)
            time.sleep(0.4)  # presence debounce: the parcel is on the hook
            r = fc.release_cycle()
            if r["result"] == "ACCEPTED":
                rel.append(r["done_ms"])
                ack.append(r["ack_ms"])
                arm_ack.append(r["arm_ack_ms"])
            else:
                failures.append(f"cycle {i + 1}: release {r['result']}")
            g = fc.grab_cycle()
            if g["result"] == "ACCEPTED":
                lock.append(g["done_ms"])
            else:
                failures.append(f"cycle {i + 1}: grab {g['result']}")
            print(f"  cycle {i + 1}/{cycles}: ack {r['ack_ms']:.1f} ms, confirmed {r['done_ms']:.1f} ms",
                  file=sys.stderr, flush=True)
    finally:
        fc.close()
        vb.stop()
    cfg = plant.plant.cfg
    travel_ms = cfg["travel_ms"]
    floor_ms = travel_ms * (1000 - cfg["sw_band"]) / 1000
    fb = frame_bytes()
    return {
        "cycles": cycles, "baud": BAUD, "failures": failures,
        "release_ack_ms": stats(ack), "arm_ack_ms": stats(arm_ack),
        "release_confirmed_ms": stats(rel), "lock_confirmed_ms": stats(lock),
        "frames_bytes": fb,
        "wire_ms": {"command_long": round(wire_ms(fb["command_long"]), 2),
                    "command_ack": round(wire_ms(fb["command_ack"]), 2),
                    "round_trip": round(wire_ms(fb["command_long"] + fb["command_ack"]), 2)},
        "bolt_floor_ms": round(floor_ms, 1), "plant_travel_ms": travel_ms,
        "tick_ms": 10, "switch_debounce_ms": 20,
    }


def markdown(r: dict[str, Any]) -> str:
    def row(label: str, s: dict[str, float] | None, base: str) -> str:
        if not s:
            return f"| {label} | – | – | – | {base} |"
        return f"| {label} | {s['median']} | {s['p95']} | {s['max']} | {base} |"

    w = r["wire_ms"]
    rel = r["release_confirmed_ms"]
    ack = r["release_ack_ms"]
    lines = [
        f"{r['cycles']} arm/release/grab cycles over MAVLink 2 at {r['baud']} baud, pymavlink as the flight "
        "controller, a 500 g parcel reloaded before each release; times measured at the flight controller "
        "from writing the command to decoding the ACK.",
        "",
        "| ms | median | p95 | max | baseline (same run) |",
        "|---|---|---|---|---|",
        row("RELEASE → first ACK (IN_PROGRESS)", ack,
            f"wire: command {w['command_long']} + ACK {w['command_ack']} = {w['round_trip']} ms"),
        row("ARM → ACK", r["arm_ack_ms"], f"wire round trip ≈ {w['round_trip']} ms"),
        row("RELEASE → ACCEPTED (open switch confirmed)", rel,
            f"bolt travel to the open switch {r['bolt_floor_ms']} ms; unverified stacks: fixed 500 / 3000"),
        row("GRAB → ACCEPTED (lock switch confirmed)", r["lock_confirmed_ms"],
            f"bolt travel to the lock switch {r['bolt_floor_ms']} ms"),
        "",
    ]
    if rel:
        over = rel["median"] - r["bolt_floor_ms"]
        lines.append(
            f"A verified release costs {over:.0f} ms over the bolt's own travel (median): the 20 ms switch "
            f"debounce, up to one 10 ms tick on each side, and the ACK on the wire. Flight stacks that do not "
            f"verify report success after a fixed 500 ms or 3 s, moved or not; here the ACK says the open switch "
            f"closed, {500 - rel['median']:.0f} ms sooner than the shorter of those guesses.")
    lines.append("")
    lines.append(
        "The virtual board's relay paces only the latch→flight controller direction to the baud rate; the "
        f"command itself arrives unpaced, so on a real UART add about {w['command_long']} ms "
        "(the command frame's wire time) to the ACK figures.")
    if r["failures"]:
        lines.append("")
        lines.append("**Failures:** " + "; ".join(r["failures"]))
    else:
        lines.append("")
        lines.append(f"Every release of the {r['cycles']} cycles was confirmed by the open switch; none failed.")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="Payload latch MAVLink latency benchmark (57600 baud).")
    ap.add_argument("--cycles", type=int, default=20)
    a = ap.parse_args(argv)
    r = run(a.cycles)
    md = markdown(r)
    r["markdown"] = md
    out = ROOT / "bench" / "results" / "latch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=1) + "\n")
    print(md)
    return 1 if r["failures"] else 0


if __name__ == "__main__":
    help_if_asked(__doc__)
    sys.exit(main(sys.argv[1:]))
