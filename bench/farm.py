"""Board farms (issue 15): full flashes over every transport a farm uses, and many remote
boards flashed in parallel.

1. FLASHES (50) consecutive full flashes of one virtual printer-s3 over each transport:
   its pty (local), `rfc2217://` through Debian's ser2net, `rfc2217://` through pyserial's
   server (serial.rfc2217.PortManager), `socket://` through ser2net's raw TCP accepter.
   "Full": before each flash the files `hearth flash` writes are removed over the local
   pty (not timed), so every one is sent again, and the flash ends with the confirmed
   reset and `hello` reporting the new build. Lost = a flash that did not end that way.
   Baseline: the pty, same board, same run.
2. 8 virtual boards, each behind its own ser2net (RFC 2217, loopback), full-flashed in
   parallel (host_tools/deploy/multi.flash_many, as `hearth flash --all`), against one of
   them flashed alone in the same run. Goal: parallel <= 1.5x one.

3. Through labgrid (labgrid 26 from .venv-labgrid, in a network namespace: its
   exporter's ser2net listens on every interface): LABGRID_FLASHES (10) full flashes of
   one virtual board, each a `hearth flash` process, (a) on a plain ser2net's
   `rfc2217://` (chardelay: false), (b) on the `rfc2217://` of labgrid's exporter for a
   place held throughout (its ser2net: no chardelay setting), (c) `hearth flash --port
   PLACE`, which acquires the place, flashes and releases it: a line's whole job. Then
   BOARDS places flashed by one `hearth flash --all --tag` (acquired in parallel) against
   one place's whole job. Goal: <= 1.5x.

HEARTH_BENCH_FARM_N sets the flash count (default 50), HEARTH_BENCH_FARM_BOARDS the
parallel boards (default 8), HEARTH_BENCH_FARM_LABGRID_N the labgrid flashes (default
10). `python -m bench.farm --labgrid` runs part 3 alone and updates its part of
bench/results/farm.json.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import help_if_asked
from host_tools.deploy.flashfw import build_format, flash_frozen
from host_tools.deploy.multi import Job, flash_many
from host_tools.sim.install import install
from host_tools.sim.netports import PyserialRfc2217, Ser2net
from host_tools.sim.relay import VirtualBoard
from host_tools.transport.rawrepl import RawRepl

ROOT = Path(__file__).resolve().parent.parent
FLASHES = int(os.environ.get("HEARTH_BENCH_FARM_N", "50"))
BOARDS = int(os.environ.get("HEARTH_BENCH_FARM_BOARDS", "8"))
LABGRID_FLASHES = int(os.environ.get("HEARTH_BENCH_FARM_LABGRID_N", "10"))
HEARTH = str(Path(sys.executable).with_name("hearth"))
GOAL_RATIO = 1.5
WIPE = ("import os\nfor f in ('boot.py','main.py','board.json','manifest.json'):\n"
        " try:os.remove(f)\n except OSError:pass\n")


def wipe(vb: VirtualBoard) -> None:
    with RawRepl.open(vb.console_path) as r:
        r.enter()
        r.run(WIPE)
        r.reset()


def board(tmp: Path, name: str) -> VirtualBoard:
    vb = VirtualBoard("printer-s3", tmp / name, frozen=True)
    vb.start()
    install(vb)
    return vb


def flash_once(build_dir: Path, url: str) -> tuple[bool, float, str]:
    t0 = time.monotonic()
    r = flash_frozen(build_dir, url)
    ok = r.ok and not r.unchanged and bool(r.sent_files) and (r.hello or {}).get("state") not in (None, "NO_APP")
    return ok, time.monotonic() - t0, r.message


def consecutive(tmp: Path, build_dir: Path) -> list[dict[str, Any]]:
    vb = board(tmp, "consecutive")
    rows: list[dict[str, Any]] = []
    try:
        servers: dict[str, Any] = {}
        for kind in ("pty", "ser2net rfc2217://", "pyserial rfc2217://", "ser2net socket://"):
            if kind.startswith("ser2net") and "ser2net" not in servers:
                servers["ser2net"] = Ser2net(vb.console_path, tmp / "s2n").start()
            if kind.startswith("pyserial"):
                servers["pyserial"] = PyserialRfc2217(vb.console_path, tmp / "py").start()
            url = {"pty": vb.console_path,
                   "ser2net rfc2217://": servers.get("ser2net") and servers["ser2net"].rfc2217_url,
                   "ser2net socket://": servers.get("ser2net") and servers["ser2net"].socket_url,
                   "pyserial rfc2217://": servers.get("pyserial") and servers["pyserial"].url}[kind]
            secs, lost, why = [], 0, []
            for _ in range(FLASHES):
                wipe(vb)
                ok, s, msg = flash_once(build_dir, url)
                secs.append(s)
                if not ok:
                    lost += 1
                    why.append(msg)
            rows.append({"transport": kind, "flashes": FLASHES, "lost": lost, "median_s": statistics.median(secs),
                         "max_s": max(secs), "why": why[:3]})
            print(f"{kind}: {FLASHES - lost}/{FLASHES} in {sum(secs):.0f} s", file=sys.stderr, flush=True)
        for s in servers.values():
            s.stop()
    finally:
        vb.stop()
    return rows


def parallel(tmp: Path, build_dir: Path) -> dict[str, Any]:
    vbs: list[VirtualBoard] = []
    servers: list[Ser2net] = []
    try:
        for i in range(BOARDS):
            vbs.append(board(tmp, f"par{i}"))
            servers.append(Ser2net(vbs[-1].console_path, tmp / f"par-s2n{i}").start())
        urls = [s.rfc2217_url for s in servers]
        wipe(vbs[0])
        ok1, one, _ = flash_once(build_dir, urls[0])
        for vb in vbs:
            wipe(vb)
        t0 = time.monotonic()
        res = flash_many([Job(u, build_dir) for u in urls], flasher=flash_frozen)
        wall = time.monotonic() - t0
        ok = sum(r.ok and not r.unchanged for r in res)
        return {"boards": BOARDS, "one_s": one, "one_ok": ok1, "parallel_s": wall, "parallel_ok": ok,
                "ratio": wall / one, "per_board_s": [r.seconds for r in res]}
    finally:
        for s in servers:
            s.stop()
        for vb in vbs:
            vb.stop()


def through_labgrid(tmp: Path, build_dir: Path) -> dict[str, Any]:
    """Part 3 (see the module's docstring): rows of `hearth flash` runs, or why not run."""
    import subprocess

    from host_tools import labgrid
    from host_tools.ports import PortError
    from host_tools.sim.labgridfarm import LabgridFarm
    from host_tools.sim.netports import NetNS

    if not NetNS.available():
        return {"not_run": f"no network namespace ({NetNS.why_not})"}
    try:
        labgrid.client_path()
    except PortError as e:
        return {"not_run": str(e)}
    ns = NetNS().start()
    vb = board(tmp, "labgrid")
    farm: LabgridFarm | None = None
    s2n: Ser2net | None = None
    rows: list[dict[str, Any]] = []
    try:
        farm = LabgridFarm({"bench-1": (vb.console_path, {"board": "printer-s3"})}, tmp / "lg", ns.prefix).start()
        s2n = Ser2net(vb.console_path, tmp / "lg-s2n", ns.prefix).start()
        env = {**os.environ, "LG_COORDINATOR": farm.address}

        def series(kind: str, port: str, held: bool = False) -> None:
            secs, lost, why = [], 0, []
            for _ in range(LABGRID_FLASHES):
                if not held and farm is not None:  # not timed: the last job's ser2net must be gone
                    farm.wait_released("bench-1")
                wipe(vb)
                t0 = time.monotonic()
                r = subprocess.run([*ns.prefix, HEARTH, "flash", "--board", "printer-s3", "--frozen", "--build-dir",
                                    str(build_dir), "--port", port, "--json"], capture_output=True, text=True,
                                   env=env, timeout=300)
                secs.append(time.monotonic() - t0)
                try:
                    (one,) = json.loads(r.stdout)["boards"]
                    ok = r.returncode == 0 and one["ok"] and bool(one["sent_files"])
                except (ValueError, KeyError, TypeError):
                    ok = False
                if not ok:
                    lost += 1
                    why.append((r.stderr or r.stdout)[-300:])
            rows.append({"transport": kind, "flashes": LABGRID_FLASHES, "lost": lost,
                         "median_s": statistics.median(secs), "max_s": max(secs), "why": why[:3]})
            print(f"{kind}: {LABGRID_FLASHES - lost}/{LABGRID_FLASHES} in {sum(secs):.0f} s", file=sys.stderr,
                  flush=True)

        series("ser2net rfc2217:// (chardelay: false), hearth flash", s2n.rfc2217_url)
        farm.client("-p", "bench-1", "acquire")
        url = ""
        for _ in range(50):
            ports = labgrid.serial_ports(farm.client("-p", "bench-1", "show").stdout)
            if ports and ports[0]["params"].get("port"):
                url = f"rfc2217://{ports[0]['params']['host']}:{ports[0]['params']['port']}"
                break
            time.sleep(0.2)
        # (held by this user: the wipes before each flash happen while its ser2net serves the
        # board, but with no client connected ser2net does not read the console)
        series("labgrid exporter's ser2net rfc2217:// (place held), hearth flash", url, held=True)
        farm.client("-p", "bench-1", "release")
        series("labgrid place: hearth flash --port PLACE (acquire, flash, release)", "bench-1")
        if s2n:
            s2n.stop()
            s2n = None
        farm.stop()
        farm = None
        vb.stop()
        par = labgrid_parallel(tmp, build_dir, ns.prefix)
    finally:
        if s2n:
            s2n.stop()
        if farm:
            farm.stop()
        vb.stop()
        ns.stop()  # also when a series failed: the namespace's holder process must not outlive the bench
    return {"rows": rows, "parallel": par}


def labgrid_parallel(tmp: Path, build_dir: Path, prefix: list[str]) -> dict[str, Any]:
    """BOARDS places flashed by one `hearth flash --all --tag`, against one of them by
    `hearth flash --port PLACE`: both whole jobs (acquire, flash, release)."""
    import subprocess

    from host_tools.sim.labgridfarm import LabgridFarm

    vbs = [board(tmp, f"lgpar{i}") for i in range(BOARDS)]
    farm: LabgridFarm | None = None
    try:
        farm = LabgridFarm({f"par-{i}": (vb.console_path, {"board": "printer-s3", "bench": "par"})
                            for i, vb in enumerate(vbs)}, tmp / "lgpar", prefix).start()
        env = {**os.environ, "LG_COORDINATOR": farm.address}

        def job(*args: str) -> tuple[float, int, str]:
            t0 = time.monotonic()
            r = subprocess.run([*prefix, HEARTH, "flash", "--frozen", "--build-dir", str(build_dir), *args, "--json"],
                               capture_output=True, text=True, env=env, timeout=600)
            try:
                ok = sum(b["ok"] and bool(b["sent_files"]) for b in json.loads(r.stdout)["boards"])
            except (ValueError, KeyError, TypeError):
                ok = 0
            return time.monotonic() - t0, ok, r.stderr[-300:]

        wipe(vbs[0])
        one, one_ok, _ = job("--port", "par-0")
        farm.wait_released("par-0")
        for vb in vbs:
            wipe(vb)
        wall, ok, why = job("--all", "--tag", "bench=par")
        return {"boards": BOARDS, "one_s": one, "one_ok": bool(one_ok), "parallel_s": wall, "parallel_ok": ok,
                "ratio": wall / one, "why": why if ok != BOARDS else ""}
    finally:
        if farm:
            farm.stop()
        for vb in vbs:
            vb.stop()


def print_labgrid(lg: dict[str, Any]) -> None:
    print()
    if "not_run" in lg:
        print(f"_labgrid part not run: {lg['not_run']}_")
        return
    rows = lg["rows"]
    base = rows[0]["median_s"]
    print("| through labgrid (each a `hearth flash` process) | full flashes ok | median s (vs plain ser2net) "
          "| worst s |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['transport']} | {r['flashes'] - r['lost']}/{r['flashes']} | "
              f"{r['median_s']:.2f} ({r['median_s'] / base:.2f}x) | {r['max_s']:.2f} |")
    par = lg["parallel"]
    print()
    print("| through labgrid, whole jobs | value | goal |")
    print("|---|---|---|")
    print(f"| one place: hearth flash --port PLACE | {par['one_s']:.2f} s | |")
    print(f"| {par['boards']} places: hearth flash --all --tag | {par['parallel_s']:.2f} s "
          f"({par['parallel_ok']}/{par['boards']} ok) | |")
    print(f"| {par['boards']} places / one | {par['ratio']:.2f}x | <= {GOAL_RATIO}x |")
    print()
    print("labgrid 26 coordinator and exporter (RawSerialPort on the virtual board's pty) in a network "
          "namespace; the first row is Debian's ser2net as docs/farm.md configures it, in the same "
          "namespace, for the same board. Each figure includes starting hearth (and, in the last row, "
          "labgrid-client listing the places, acquiring, reading the port and releasing).")


def labgrid_only() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="hearth-bench-farm-lg-"))
    os.environ["HEARTH_RUNTIME"] = str(tmp / "rt")
    build_dir, _ = build_format("printer-s3", "sim", "frozen", tmp / "build")
    lg = through_labgrid(tmp, build_dir)
    res = ROOT / "bench/results/farm.json"
    data = json.loads(res.read_text()) if res.exists() else {}
    data["labgrid"] = lg
    res.parent.mkdir(exist_ok=True)
    res.write_text(json.dumps(data, indent=1) + "\n")
    print_labgrid(lg)
    return 1 if labgrid_missed(lg) else 0


def labgrid_missed(lg: dict[str, Any]) -> bool:
    if "not_run" in lg:
        return True
    par = lg["parallel"]
    return any(r["lost"] for r in lg["rows"]) or par["parallel_ok"] != par["boards"] or par["ratio"] > GOAL_RATIO


def main() -> int:
    if "--labgrid" in sys.argv[1:]:
        return labgrid_only()
    if not Ser2net.available():
        print("_not run: ser2net is not installed (Debian: apt-get install ser2net)_")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="hearth-bench-farm-"))
    os.environ["HEARTH_RUNTIME"] = str(tmp / "rt")  # a registry of our own
    build_dir, _ = build_format("printer-s3", "sim", "frozen", tmp / "build")
    rows = consecutive(tmp, build_dir)
    par = parallel(tmp, build_dir)
    lg = through_labgrid(tmp, build_dir)
    (ROOT / "bench/results").mkdir(exist_ok=True)
    (ROOT / "bench/results/farm.json").write_text(json.dumps({"consecutive": rows, "parallel": par, "labgrid": lg},
                                                             indent=1) + "\n")
    base = rows[0]["median_s"]
    print("| transport | full flashes ok | lost | median s (vs pty) | worst s |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['transport']} | {r['flashes'] - r['lost']}/{r['flashes']} | {r['lost']} | "
              f"{r['median_s']:.2f} ({r['median_s'] / base:.2f}x) | {r['max_s']:.2f} |")
    print()
    print("| measure | value | goal |")
    print("|---|---|---|")
    print(f"| one remote board (ser2net RFC 2217), full flash | {par['one_s']:.2f} s | |")
    print(f"| {par['boards']} remote boards in parallel, full flash | {par['parallel_s']:.2f} s "
          f"({par['parallel_ok']}/{par['boards']} ok) | |")
    print(f"| parallel / one | {par['ratio']:.2f}x | <= {GOAL_RATIO}x |")
    print()
    print("Each flash: the frozen printer-s3 firmware's filesystem part (boot.py, main.py, board.json, "
          "config.json, manifest.json) to a virtual board whose copies were removed first, with the raw-REPL "
          "agent, hash checks, the reset confirmed by the soft-reboot banner and `hello` reporting the new "
          f"build. Servers and boards share this machine's {os.cpu_count()} cores with the flasher, so the "
          f"parallel figure also measures {par['boards']} interpreters and {par['boards']} ser2nets on the "
          "same CPUs.")
    print_labgrid(lg)
    missed = (any(r["lost"] for r in rows) or par["parallel_ok"] != par["boards"] or par["ratio"] > GOAL_RATIO
              or labgrid_missed(lg))
    return 1 if missed else 0


if __name__ == "__main__":
    help_if_asked(__doc__)
    sys.exit(main())
