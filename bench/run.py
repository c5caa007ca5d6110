"""`make bench`: run every benchmark, each against its baseline measured in the same run,
and write docs/benchmarks.md. Results as JSON in bench/results/.

A benchmark is a script that prints its markdown section (tables first, then what the
figures mean) on stdout and writes bench/results/NAME.json. Wall-clock figures are
noisy on shared machines; each table carries its own baseline from the same run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench import help_if_asked
from host_tools import interp
from host_tools.sim import MICROPY_PATH

ROOT = Path(__file__).resolve().parent.parent

# The faithful interpreter (32-bit, single float) runs the control benchmark, as the
# firmware runs on a chip; a large fixed heap, since the plants and the sweep are not
# firmware.
_MP, _MP_ENV = interp.command(None, "4M", build_if_missing=True)

# (name, title, command, env additions)
BENCHES: list[tuple[str, str, list[str], dict[str, str]]] = [
    ("heater_control", "Heater control: model-based PID vs Ziegler-Nichols baseline",
     [*_MP, "bench/heater_control.py"],
     {"MICROPYPATH": f"firmware:{MICROPY_PATH}", **_MP_ENV}),
    ("power_fail", "Power-fail path on a virtual board",
     [sys.executable, "-m", "bench.power_fail"], {}),
    ("flash", "Deploy at 115200 baud vs mpremote cp -r and the wire limit",
     [sys.executable, "-m", "bench.flash"], {}),
    ("latch", "Payload latch over MAVLink at 57600 baud",
     [sys.executable, "-m", "bench.latch"], {}),
    ("heap", "Firmware heap: smallest heap each role runs its workload in",
     [sys.executable, "-m", "bench.heap"], {}),
    ("protocol", "Console protocol exchanges per second at 115200 baud vs the wire limit",
     [sys.executable, "-m", "bench.protocol"], {}),
    ("loop", "The control loop under a lazy and a flooding host",
     [sys.executable, "-m", "bench.loop"], {}),
    ("resume", "Job progress in the journal: programs per minute, resume after an instant cut",
     [sys.executable, "-m", "bench.resume"], {}),
    ("print_quality", "Print quality: extrusion error along the path, with and without pressure advance",
     [sys.executable, "-m", "bench.print_quality"], {}),
    ("print_model", "Print quality, offline: the error taken apart (toolhead tick, piston pull-back)",
     [sys.executable, "-m", "bench.print_model"], {}),
    ("farm", "Board farms: full flashes over ser2net, pyserial RFC 2217 and raw TCP; boards in parallel",
     [sys.executable, "-m", "bench.farm"], {}),
]


def main(argv: list[str]) -> int:
    only = set(argv)
    sections = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py); every figure is compared with a baseline "
        "measured in the same run on the same machine. Raw results: bench/results/*.json.",
        "",
    ]
    failed = 0
    for name, title, cmd, env_add in BENCHES:
        if only and name not in only:
            continue
        script = ROOT / "bench" / f"{name}.py"
        if not script.exists():
            sections += [f"## {title}", "", f"_not run: {script.name} is not written yet_", ""]
            continue
        env = dict(os.environ, **env_add)
        t0 = time.monotonic()
        print(f"bench {name} ...", file=sys.stderr, flush=True)
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
        secs = time.monotonic() - t0
        sections += [f"## {title}", ""]
        if r.returncode != 0 and not r.stdout.strip():
            failed += 1
            sections += [f"_failed (exit {r.returncode}):_", "", "```", (r.stderr or r.stdout)[-3000:], "```", ""]
        elif r.returncode != 0:
            # The benchmark ran and reports a goal it missed: show its table and say so.
            failed += 1
            text = "\n".join(ln for ln in r.stdout.strip().splitlines() if ln.strip(".") != "" or not ln)
            sections += [text, "", f"_({name}: a goal is missed (exit {r.returncode}); {secs:.0f} s of wall time)_", ""]
        else:
            text = "\n".join(ln for ln in r.stdout.strip().splitlines() if ln.strip(".") != "" or not ln)
            sections += [text, "", f"_({name}: {secs:.0f} s of wall time)_", ""]
    out = ROOT / "docs" / "benchmarks.md"
    if only and out.exists():
        # Re-running one benchmark keeps the others' sections.
        old = out.read_text().split("\n## ")
        keep = {s.split("\n", 1)[0]: s for s in old[1:]}
        new = "\n".join(sections).split("\n## ")
        for s in new[1:]:
            keep[s.split("\n", 1)[0]] = s
        text = new[0] + "".join("\n## " + s for s in keep.values())
    else:
        text = "\n".join(sections)
    out.write_text(text.rstrip() + "\n")
    print(f"wrote {out.relative_to(ROOT)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    help_if_asked(__doc__)
    sys.exit(main(sys.argv[1:]))
