"""Deploy benchmark: `hearth flash` vs `mpremote cp -r` vs the wire limit, at 115200 baud.

Virtual latch boards (`hearth sim`, each its own process, as boards on their own cables)
behave as an ESP32 DevKitC behind its USB-UART bridge: the console at 115200 baud (10
bits a byte, 11,520 B/s), the bridge's 16 ms latency timer on every answer, the USB
frame on every request, the chip's 260-byte RX ring, and flash writes that stall the
chip. (The .mpy firmware does not fit a stock ESP32's heap yet; these boards run it in a
fixed 160 KiB heap, which changes nothing about the link.) Every row is measured in this
run:

* full deploy to an empty board, unchanged redeploy, one changed module;
* the baseline: `mpremote fs cp -r` of the same firmware sources (what the first flash
  pipeline did), to its own empty board, then again unchanged, then the one file;
* the wire limit: the file bytes that had to move / 11,520 B/s;
* N = 1, 4, 8 boards flashed in parallel (full deploy each).

Writes bench/results/flash.json (with the table under "markdown") and prints the
markdown section on stdout. Takes a few minutes, most of it mpremote.
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

from bench import help_if_asked
from host_tools.deploy.build import FIRMWARE, build
from host_tools.deploy.mpremote_flash import mpremote_cmd, stage
from host_tools.deploy.multi import Job, flash_many
from host_tools.deploy.sync import FRAME, WINDOW, flash_build

ROOT = Path(__file__).resolve().parent.parent
BAUD = 115200
WIRE = BAUD / 10  # bytes per second
BOARD = "latch-esp32"
HEAP = "160K"
REAL_MPREMOTE_KBS = 1.9  # mpremote cp to a real ESP32 over a USB-UART bridge, measured before
HEARTH = str(Path(sys.executable).with_name("hearth"))


class Sim:
    def __init__(self, state: Path) -> None:
        self.proc = subprocess.Popen([HEARTH, "sim", "--board", BOARD, "--no-frozen", "--baud", str(BAUD), "--heap", HEAP,
                                      "--state", str(state)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("console: "):
            raise SystemExit(f"hearth sim did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.port = line.split(": ", 1)[1].strip()
        time.sleep(0.3)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def mpremote_cp(port: str, root: Path, only: list[str] | None = None) -> float:
    args = [*mpremote_cmd(), "connect", port]
    items = only or [p.name for p in sorted(root.iterdir())]
    for name in items:
        item = root / name
        if item.is_dir():
            args += ["fs", "cp", "-r", str(item), ":", "+"]
        else:
            args += ["fs", "cp", str(item), ":" + name, "+"]
    t0 = time.monotonic()
    p = subprocess.run(args[:-1], capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise SystemExit(f"mpremote failed: {p.stderr[-2000:]}")
    return time.monotonic() - t0


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="hearth-bench-flash-"))
    sims: list[Sim] = []
    rows: dict[str, dict[str, float | int]] = {}
    try:
        out, man = build(BOARD, "sim", tmp / "build")
        src2 = tmp / "fw2"
        shutil.copytree(FIRMWARE, src2, ignore=shutil.ignore_patterns("__pycache__"))
        pid = src2 / "hearth" / "control" / "pid.py"
        pid.write_text(pid.read_text() + "\nBENCH_CHANGED = 1  # one changed module (a comment alone leaves the .mpy as it was)\n")
        out2, man2 = build(BOARD, "sim", tmp / "build2", src=src2)
        (tmp / "stage").mkdir()
        staged = stage(BOARD, tmp / "stage")
        staged_bytes = sum(f.stat().st_size for f in staged.rglob("*") if f.is_file())
        staged2 = tmp / "stage2"
        staged2.mkdir()
        (staged2 / "hearth" / "control").mkdir(parents=True)
        shutil.copy(pid, staged2 / "hearth" / "control" / "pid.py")

        # ---- hearth flash on one board
        s = Sim(tmp / "h1")
        sims.append(s)
        r_full = flash_build(out, s.port)
        r_same = flash_build(out, s.port)
        r_one = flash_build(out2, s.port)
        for r in (r_full, r_same, r_one):
            if not r.ok:
                raise SystemExit(f"hearth flash failed: {r.message}")
        # ---- mpremote on its own board
        m = Sim(tmp / "m1")
        sims.append(m)
        mp_full = mpremote_cp(m.port, staged)
        mp_same = mpremote_cp(m.port, staged)
        mp_one_t0 = time.monotonic()
        # the baseline for one module: mpremote copies the one file, then resets the board
        p = subprocess.run([*mpremote_cmd(), "connect", m.port, "fs", "cp", str(staged2 / "hearth/control/pid.py"),
                            ":hearth/control/pid.py", "+", "soft-reset"], capture_output=True, text=True, timeout=300)
        mp_one = time.monotonic() - mp_one_t0
        if p.returncode != 0:
            raise SystemExit(f"mpremote failed: {p.stderr[-2000:]}")
        one_src = pid.stat().st_size
        for s in sims:
            s.stop()
        sims.clear()

        rows["full"] = {"hearth_s": r_full.seconds, "bytes": r_full.payload_bytes, "wire_bytes": r_full.wire_bytes,
                        "deflated_bytes": r_full.sent_bytes,
                        "mpremote_s": mp_full, "mpremote_bytes": staged_bytes}
        rows["unchanged"] = {"hearth_s": r_same.seconds, "bytes": r_same.payload_bytes, "wire_bytes": r_same.wire_bytes,
                             "mpremote_s": mp_same, "mpremote_bytes": 0}
        rows["one_file"] = {"hearth_s": r_one.seconds, "bytes": r_one.payload_bytes, "wire_bytes": r_one.wire_bytes,
                            "deflated_bytes": r_one.sent_bytes,
                            "mpremote_s": mp_one, "mpremote_bytes": one_src}

        # ---- N boards in parallel
        par: dict[int, float] = {}
        for n in (1, 4, 8):
            boards = [Sim(tmp / f"p{n}-{i}") for i in range(n)]
            sims.extend(boards)
            t0 = time.monotonic()
            res = flash_many([Job(b.port, out) for b in boards])
            par[n] = time.monotonic() - t0
            bad = [r.message for r in res if not r.ok]
            if bad:
                raise SystemExit(f"parallel flash failed: {bad[0]}")
            for b in boards:
                b.stop()
            sims.clear()
    finally:
        for s in sims:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def wire_s(b: float) -> float:
        return b / WIRE

    full, same, one = rows["full"], rows["unchanged"], rows["one_file"]
    goals = {
        "full_vs_mpremote_ge_4x": full["mpremote_s"] / full["hearth_s"] >= 4,
        "full_within_1_5x_wire": full["hearth_s"] / wire_s(full["bytes"]) <= 1.5,
        "unchanged_le_2s": same["hearth_s"] <= 2.0,
        "one_module_le_mpremote_cp_and_reset": one["hearth_s"] <= one["mpremote_s"],
        "eight_boards_le_1_5x_one": par[8] / par[1] <= 1.5,
    }
    lines = [
        f"Virtual {BOARD} boards at {BAUD} baud ({WIRE:,.0f} B/s); build {man.build} "
        f"({len(man.files)} files, {man.total_bytes():,} bytes of .mpy/boot/main/board.json); "
        f"frames of {FRAME} bytes, {WINDOW} in flight.",
        "",
        "| deploy | hearth flash | bytes moved | wire limit | hearth / wire | mpremote cp -r | mpremote / hearth |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in (("full (empty board)", full), ("unchanged redeploy", same),
                      ("one module changed (mpremote: cp + soft-reset)", one)):
        wl = wire_s(row["bytes"])
        ratio = f"{row['hearth_s'] / wl:.2f}x" if wl else "n/a (nothing to move)"
        lines.append(
            f"| {name} | {row['hearth_s']:.2f} s | {int(row['bytes']):,} | {wl:.2f} s | {ratio} | "
            f"{row['mpremote_s']:.2f} s | {row['mpremote_s'] / row['hearth_s']:.1f}x |"
        )
    lines.append(f"| mpremote's own wire limit (full) | | {int(full['mpremote_bytes']):,} | "
                 f"{wire_s(full['mpremote_bytes']):.2f} s | | | |")
    mp_kbs = full["mpremote_bytes"] / full["mpremote_s"] / 1000
    lines += ["", "| mpremote cp -r, full | here (virtual board with bridge latency) | real ESP32 (measured before) |",
              "|---|---|---|", f"| throughput | {mp_kbs:.2f} KB/s | ~{REAL_MPREMOTE_KBS} KB/s |"]
    lines += [
        "",
        "| boards in parallel (full deploy each) | wall time | vs one board |",
        "|---|---|---|",
    ]
    for n, secs in par.items():
        lines.append(f"| {n} | {secs:.2f} s | {secs / par[1]:.2f}x |")
    lines += [
        "",
        "Goals: full deploy >= 4x faster than mpremote: **{}**; full deploy within 1.5x of the wire limit: **{}**; "
        "unchanged redeploy <= 2 s: **{}**; one module no slower than mpremote's cp of it plus a reset: **{}**; "
        "8 boards <= 1.5x one: **{}**.".format(
            *("met" if goals[k] else "MISSED" for k in goals)),
        "",
        f"\"bytes moved\" is the file bytes that had to cross the wire (the manifest included) and the wire "
        "limit is those bytes / 11,520 B/s, as the issue defines it. hearth deflates what it sends (several "
        f"files as one stream with a 4 KiB window, inflated and sha256-checked file by file on the board): "
        f"the full deploy sent "
        f"{int(full['deflated_bytes']):,} deflated bytes and wrote {int(full['wire_bytes']):,} bytes on the wire "
        "(escape encoding ~4 %, frame headers, the on-board agent and inventory programs), which is why it "
        "beats the uncompressed wire limit. mpremote copies the sources "
        f"({staged_bytes:,} bytes; it cannot compile) with a round trip per chunk and repr-encoded data. "
        "hearth times include connecting, the on-board hash inventory, verification of every hash, the "
        "soft reset and the `hello` check; the unchanged redeploy is mostly that reset and `hello`. "
        "The virtual board now models the USB-UART bridge's latency timer and the flash-write stalls: "
        "mpremote's round trip per chunk pays them on every chunk, as on a real board, while hearth "
        "streams with a window of frames and pays them once per window. A one-module change also reads "
        "the old manifest, commits a new one, soft-resets and checks `hello`; mpremote does none of that.",
    ]
    md = "\n".join(lines)
    result = {"baud": BAUD, "board": BOARD, "build": man.build, "rows": rows,
              "parallel_s": {str(k): v for k, v in par.items()}, "goals": goals, "markdown": md,
              "frame": FRAME, "window": WINDOW, "one_file_build": man2.build}
    dest = ROOT / "bench" / "results" / "flash.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    help_if_asked(__doc__)
    sys.exit(main())
