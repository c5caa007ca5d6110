"""The work behind the deploy verbs (host_tools/cli/deploy.py): the per-board flash
progress and result table, the esptool steps of `flash --base/--image`, and the
firmware test report. The flashing itself is host_tools/deploy/."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from host_tools.boards import BoardError
from host_tools.cli.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE
from host_tools.deploy.build import BuildError, Manifest

err = Console(stderr=True)
# flash progress: each phase's share of the bar, in percent (sending gets most of it)
PHASE_PCT = {"waiting": 0, "connect": 2, "inventory": 5, "reset": 92, "hello": 96, "done": 100}
SEND_FROM, SEND_TO = 8, 90


class UsageError(Exception):
    """Bad arguments: exit code 2."""


def do_build(board: str, target: str, out: str | None, fmt: str = "files") -> tuple[Path, Manifest]:
    from host_tools.deploy.flashfw import build_format

    try:
        return build_format(board, target, fmt, Path(out) if out else None)
    except (BuildError, BoardError) as e:
        raise UsageError(str(e)) from e


def build_summary(path: Path, man: Manifest) -> str:
    nat = f", native: {', '.join(man.native)}" if man.native else ""
    note = " (virtual board: unix-port bytecode; native parts for this host's arch)" if man.target == "sim" else ""
    where = ""
    if man.romfs:
        where = f"; ROMFS image romfs.img: {man.romfs[0]} bytes, {len(man.rom)} files"
    elif man.frozen:
        where = "; the hearth package is frozen into the MicroPython image (`hearth firmware build`)"
    return (f"built {man.board} for {man.target}{note} in {path}: {len(man.files)} files, "
            f"{man.total_bytes()} bytes, fw {man.fw}, mpy {man.mpy}, build {man.build}{nat}{where}")


# ---- flash --------------------------------------------------------------------------------
def flash_ports(board: str | None, ports: list[str], boards_for: dict[str, str], target: str,
                build_dir: str | None, as_json: bool, frame: int, window: int, timeout: float,
                fmt: str = "files", force: bool = False) -> int:
    from host_tools.deploy.flashfw import FLASHERS
    from host_tools.deploy.multi import Builds, Job, exit_code, flash_many

    builds = Builds(target, fmt)

    def resolver_for(port: str) -> Any:
        name = board or boards_for.get(port)
        if not name:
            raise UsageError(f"which board is on {port}? pass --board NAME")
        try:
            resolve = builds.resolver(name)
        except BoardError as e:
            raise UsageError(str(e)) from e
        return Path(build_dir) if build_dir else resolve

    jobs = [Job(p, resolver_for(p)) for p in ports]
    from host_tools.ports import PortError, list_remote

    try:  # a farm board prints by its name: a URL alone says little, and is long
        names = {p.device: p.label for p in list_remote(places=False)}  # places: labgrid.label
    except PortError:
        names = {}

    def label(port: str) -> str:
        from host_tools import labgrid

        return labgrid.label(port) or names.get(port, port)

    console = err
    # One bar per board, in percent of the whole flash from the start (how many bytes
    # must move is known only once the board listed its files): each phase has its share.
    width = max(len(label(j.port)) for j in jobs)
    prog = Progress(
        TextColumn(f"{{task.fields[port]:<{width}}}"), TextColumn("{task.fields[phase]:<9}"), BarColumn(),
        TaskProgressColumn(), TextColumn("{task.fields[bytes]}"), TimeElapsedColumn(),
        console=console, disable=as_json, transient=False,
    )
    tasks: dict[int, TaskID] = {}
    with prog:
        for i, j in enumerate(jobs):
            tasks[i] = prog.add_task("", total=100, port=label(j.port), phase="waiting", bytes="")

        def on(i: int, phase: str, done: int, total: int) -> None:
            pct = PHASE_PCT.get(phase)
            if phase == "send" and total:
                pct = SEND_FROM + (SEND_TO - SEND_FROM) * done / total
            upd: dict[str, Any] = {"phase": phase}
            if pct is not None:
                upd["completed"] = pct
            if total:
                upd["bytes"] = f"{done / 1024:.1f}/{total / 1024:.1f} KiB"
            prog.update(tasks[i], **upd)

        t0 = time.monotonic()
        results = flash_many(jobs, on, flasher=FLASHERS[fmt], frame=frame, window=window, timeout=timeout,
                             force=force)
        wall = time.monotonic() - t0
    if as_json:
        click.echo(json.dumps({"ok": all(r.ok for r in results), "seconds": round(wall, 3),
                               "boards": [{**r.as_dict(), "label": label(r.port)} for r in results]}, indent=1, sort_keys=True))
    else:
        t = Table(title=f"flash: {sum(r.ok for r in results)}/{len(results)} ok in {wall:.1f} s")
        t.add_column("port", overflow="fold")  # a URL is never cut to `rfc2217:/…`
        for col in ("board", "build", "result", "files sent", "bytes", "time"):
            t.add_column(col)
        for r in results:
            what = ("unchanged" if r.unchanged else "ok") if r.ok else "FAILED"
            t.add_row(label(r.port), r.board, r.build, what, str(len(r.sent_files)), str(r.payload_bytes), f"{r.seconds:.1f} s")
        if len(results) > 1:
            err.print(t)
        for r in results:
            if r.ok:
                h = r.hello
                click.echo(f"{label(r.port)}: {r.board} build {r.build} "
                           f"{'unchanged' if r.unchanged else f'({len(r.sent_files)} files, {r.payload_bytes} bytes)'} "
                           f"in {r.seconds:.1f} s; hello: fw {h.get('fw')}, state {h.get('state')}"
                           + (f" [{r.message}]" if r.message else ""))
            else:
                click.secho(f"error: {label(r.port)}: {_without_port(r.message, r.port)}", fg="red", err=True)
    return exit_code(results)


def _without_port(msg: str, port: str) -> str:
    """The message without the port name(s) it starts with (the caller prints it once)."""
    while msg.startswith(f"{port}: "):
        msg = msg[len(port) + 2:]
    return msg


def esptool_flash(kind: str, board: str, ports: list[str], file: str | None, target: str, size: int | None,
                  dry_run: bool, as_json: bool) -> int:
    from host_tools.deploy import esp, partitions
    from host_tools.deploy.image import ImageError

    try:
        cmds, notes = esp.plan(kind, board, ports, Path(file) if file else None, target, size, dry_run,
                               check_port=_refuse_virtual)
    except BoardError as e:
        raise UsageError(str(e)) from e
    except (esp.EspError, ImageError, BuildError, partitions.PartitionError) as e:
        click.secho(f"error: {e}", fg="red", err=True)
        return EXIT_FAIL
    if dry_run or as_json:
        click.echo(json.dumps({"commands": cmds, "dry_run": dry_run, "notes": notes}, indent=1) if as_json
                   else "\n".join([*("# " + n for n in notes), *(" ".join(c) for c in cmds)]))
        if dry_run:
            return EXIT_OK
    try:
        esp.run(cmds)
    except esp.EspError as e:
        click.secho(f"error: {e}", fg="red", err=True)
        return EXIT_FAIL
    return EXIT_OK


def _refuse_virtual(port: str) -> None:
    from host_tools.ports import is_virtual

    if is_virtual(port):
        raise UsageError(f"{port} is a virtual board: esptool needs a real ESP32 (use `hearth sim --image` instead)")


def all_ports(tags: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    from host_tools.ports import candidates

    found = [p for p in candidates() if p.matches(tags or {})]
    found.sort(key=lambda p: p.kind != "virtual")  # virtual boards first, as listed before
    return [p.device for p in found], {p.device: p.board for p in found if p.board}


# ---- test ---------------------------------------------------------------------------------
def test_board(port: str, modules: tuple[str, ...], timeout: float, as_json: bool) -> int:
    from host_tools.deploy.fwtest import ModuleResult, run_tests, select_modules
    from host_tools.transport.rawrepl import ReplError
    from host_tools.transport.serialport import PortError

    try:
        mods = select_modules(modules)
    except ValueError as e:
        raise UsageError(str(e)) from e

    def show(m: ModuleResult) -> None:
        if as_json:
            return
        mark = "ok" if m.ok else "FAIL"
        click.echo(f"{mark:>4} {m.module}: {len(m.passed)} passed, {len(m.failed)} failed"
                   + (f", TIMEOUT {m.timeout}" if m.timeout else "") + f" ({m.seconds:.1f} s)")
        for name, text in m.failed.items():
            click.echo(f"     FAIL {name}\n" + "\n".join("       " + ln for ln in text.splitlines()[-8:]))
        if m.crashed:
            click.echo("     module crashed:\n" + "\n".join("       " + ln for ln in m.crashed.splitlines()[-8:]))

    t0 = time.monotonic()
    try:
        res = run_tests(port, mods, timeout, show)
    except (PortError, ReplError) as e:
        click.secho(f"error: {e}", fg="red", err=True)
        return EXIT_USAGE
    passed = sum(len(m.passed) for m in res)
    failed = sum(len(m.failed) for m in res)
    bad = [m for m in res if not m.ok]
    if as_json:
        click.echo(json.dumps({"ok": not bad, "passed": passed, "failed": failed, "seconds": round(time.monotonic() - t0, 2),
                               "modules": [{"module": m.module, "passed": m.passed, "failed": m.failed,
                                            "timeout": m.timeout, "crashed": m.crashed, "seconds": round(m.seconds, 3)}
                                           for m in res]}, indent=1))
    else:
        click.echo(f"{passed} passed, {failed} failed, {sum(1 for m in res if m.timeout)} timed out, "
                   f"{sum(1 for m in res if m.crashed)} crashed, in {time.monotonic() - t0:.1f} s on {port}")
    return EXIT_FAIL if bad else EXIT_OK

