"""Putting firmware on boards: `hearth build`, `flash` (over the console, or esptool's
--base/--image), `image`, `test` (the firmware's unit tests on a board), and `hearth
firmware board|build` (the production MicroPython image)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from host_tools.boards import board_format
from host_tools.cli.common import EXIT_FAIL, EXIT_OK, die, emit, opt

_target = click.option(
    "--target", default="auto", show_default=True,
    help="What to build for: board (the board file's chip), sim (the virtual board: unix-port bytecode, "
    "native parts for this host's arch), or a chip name. flash: auto = ask the board (virtual or ESP32).",
)


def _format(f: Any) -> Any:
    # --format, and --romfs / --frozen as its short forms (the last one given wins)
    f = click.option("--frozen", "fmt", flag_value="frozen", help="Short for --format frozen.")(f)
    f = click.option("--romfs", "fmt", flag_value="romfs", help="Short for --format romfs.")(f)
    return click.option(
        "--format", "fmt", type=click.Choice(["files", "romfs", "frozen"]), default=None,
        help="Where the firmware runs from: files (.mpy on the filesystem), romfs (an image for the "
             "board's romfs partition: bytecode runs in place), frozen (in the MicroPython image: "
             "`hearth firmware build`). romfs/frozen leave only boot.py, main.py, board.json, config.json "
             "and the manifest on the filesystem. Default: the board file's \"firmware\" (frozen for both "
             "boards: from .mpy files they do not fit a stock chip's heap).")(f)


@click.command()
@click.option("--board", required=True, help="Board name (a file in boards/).")
@_target
@click.option("--out", default=None, help="Output folder (default build/BOARD, build/BOARD-sim for --target sim; "
              "-romfs / -frozen added for those formats).")
@_format
@opt.json
def build(board: str, target: str, out: str | None, fmt: str | None, as_json: bool) -> None:
    """Compile the firmware (mpy-cross) for a board, with board.json, config and manifest."""
    from host_tools.cli.deploy_run import UsageError, build_summary, do_build

    try:
        path, man = do_build(board, "board" if target == "auto" else target, out, fmt or board_format(board))
    except UsageError as e:
        die(str(e))
    d = {"path": str(path), "build": man.build, "target": man.target, "files": len(man.files),
         "bytes": man.total_bytes(), "fw": man.fw, "mpy": man.mpy, "native": man.native,
         "format": fmt or board_format(board)}
    if man.romfs:
        d["romfs"] = {"image": str(path / "romfs.img"), "bytes": man.romfs[0], "files": len(man.rom)}
    emit(d, as_json, build_summary(path, man))


@click.command()
@click.option("--board", default=None, help="Board name (a file in boards/); with --all, virtual boards know theirs.")
@click.option("--port", "-p", "ports", multiple=True,
              help="Serial port of a board; repeat for several boards; `auto`: the one board there is.")
@click.option("--all", "all_ports", is_flag=True,
              help="Every board found: ESP32 USB serial ports, running `hearth sim`s, farm boards (--farm) and "
                   "labgrid places (--coordinator; acquired for the flash, released after), in parallel.")
@opt.remote
@opt.tag
@_target
@click.option("--build-dir", default=None, help="Flash this prebuilt folder (from `hearth build`) instead of building.")
@click.option("--base", "base", default=None, metavar="FIRMWARE.bin",
              help="First erase and write this MicroPython base image with esptool (its chip is checked).")
@click.option("--image", "image", is_flag=True, help="Write the whole app filesystem as one LittleFS image with esptool.")
@click.option("--size", type=int, default=None, help="--image: vfs partition size in bytes (default: the chip's).")
@click.option("--dry-run", is_flag=True, help="--base/--image: print the esptool commands, run nothing.")
@click.option("--frame", type=int, default=128, show_default=True, help="Transfer frame size (bytes).")
@click.option("--window", type=int, default=2, show_default=True, help="Frames in flight (frame*window <= 256 for an ESP32 UART).")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds of board silence before giving up.")
@_format
@click.option("--force", is_flag=True,
              help="Flash even a board file for another chip, or another role than the installed one.")
@opt.json
def flash(board: str | None, ports: tuple[str, ...], all_ports: bool, tags: tuple[str, ...], target: str,
          build_dir: str | None,
          base: str | None, image: bool, size: int | None, dry_run: bool, frame: int, window: int,
          timeout: float, fmt: str | None, force: bool, as_json: bool) -> None:
    """Flash boards: build, send only the files that differ, verify every hash on the board,
    write the manifest last, reset, check `hello` reports the new build.

    A board file whose chip differs from the board's, or whose role differs from the
    installed board file's, is refused before anything is written (--force overrides;
    the firmware still drives no pin of a board file for another chip).

    \b
    Exit code: 0 ok; one board: 1 a check failed, 2 usage or connection error;
    several boards: the number that failed (at most 125).
    """
    from host_tools import labgrid
    from host_tools.cli import deploy_run as c
    from host_tools.ports import PortError, list_remote, list_virtual, parse_tags, resolve

    plist: list[str] = []
    try:
        want = parse_tags(tags)
        if want and not all_ports:
            die("--tag picks among the boards --all finds: pass --all too")
        for p in ports:
            p = resolve(p)  # `auto`: the one board there is; a farm board's name: its URL
            if p not in plist:
                plist.append(p)
        # a running `hearth sim` and a farm board know their board: no --board needed
        # (the coordinator is asked only when a place was named: a plain port needs no labgrid)
        asked = list_remote(places=any(p.startswith(labgrid.PREFIX) for p in plist))
        known: dict[str, str] = {v.device: v.board for v in list_virtual() + asked if v.board}
        if all_ports:
            found, found_known = c.all_ports(want)
            known.update(found_known)
            plist += [p for p in found if p not in plist]
            if not plist:
                die("--all found no boards" + (f" tagged {' '.join(tags)}" if tags else "")
                    + ": plug one in, start `hearth sim`, or name a farm file (--farm FILE) or a labgrid "
                      "coordinator (--coordinator HOST:PORT)")
    except PortError as e:
        die(str(e))
    if not plist:
        die("no port given: pass --port PORT (repeat for several boards) or --all")
    if base and image:
        die("--base and --image are separate steps: run them one after the other")
    if image and fmt not in (None, "files"):
        die("--image writes the filesystem with esptool: it has no ROMFS or frozen form (flash over the console)")
    from contextlib import ExitStack

    places = [p[len(labgrid.PREFIX):] for p in plist if p.startswith(labgrid.PREFIX)]
    with ExitStack() as held:
        if places:
            # labgrid places: all acquired (or none, and nothing is written), flashed through
            # their exporters' ser2net, released whatever happens (an error, Ctrl-C, SIGTERM)
            try:
                urls = held.enter_context(labgrid.Hold(places))
            except PortError as e:
                die(str(e))
            for name, url in urls.items():
                dev = labgrid.PREFIX + name
                plist[plist.index(dev)] = url
                if dev in known:
                    known[url] = known[dev]
        try:
            if base or image:
                if not board:
                    die("--base and --image need --board NAME")
                code = c.esptool_flash("base" if base else "image", board, plist, base, target, size, dry_run,
                                       as_json)
                if code or image or dry_run:
                    sys.exit(code)
                time.sleep(2.0)  # the board boots MicroPython for the first time (it makes its filesystem)
            if board is not None:
                from host_tools.boards import BoardError, load_board

                try:
                    load_board(board)
                except BoardError as e:
                    die(str(e))
            code = c.flash_ports(board, plist, known, target, build_dir, as_json, frame, window, timeout,
                                 fmt or board_format(board or known.get(plist[0])), force)
        except c.UsageError as e:
            die(str(e))
    sys.exit(code)


@click.command()
@click.option("--board", required=True, help="Board name (a file in boards/).")
@click.option("--target", default="board", show_default=True, help="board (the chip's vfs partition) or sim (the virtual board's).")
@click.option("--size", type=int, default=None, help="vfs partition size in bytes (default: the chip's stock partition table).")
@click.option("--out", "-o", default=None, help="Image file (default build/BOARD.img or build/BOARD-sim.img).")
@opt.json
def image(board: str, target: str, size: int | None, out: str | None, as_json: bool) -> None:
    """Make a LittleFS image of the app filesystem for the board's vfs partition."""
    from host_tools.boards import load_board
    from host_tools.cli.deploy_run import UsageError, do_build
    from host_tools.deploy.image import ImageError, make_image, vfs_partition

    try:
        path, man = do_build(board, target, None)
        offset, part = vfs_partition(load_board(board), man.target)
        data, man, nbytes = make_image(path, size or part)
    except UsageError as e:
        die(str(e))
    except ImageError as e:
        die(str(e), EXIT_FAIL)
    dest = Path(out) if out else path.parent / f"{path.name}.img"
    dest.write_bytes(data)
    emit({"image": str(dest), "bytes": len(data), "offset": offset, "files": len(man.files), "data_bytes": nbytes,
          "build": man.build, "target": man.target}, as_json,
         f"{dest}: {len(data)} bytes LittleFS image ({len(man.files)} files, {nbytes} bytes of data, build {man.build}) "
         f"for the vfs partition at 0x{offset:x}")


@click.command(name="test")
@opt.port
@click.argument("modules", nargs=-1)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds a single test may run.")
@opt.json
def test_cmd(port: str, modules: tuple[str, ...], timeout: float, as_json: bool) -> None:
    """Run the firmware's unit tests (tests/firmware, as CI runs them) on a board.

    MODULES: test module names (default: all). The board keeps its firmware; the tests
    go to /_hearth_test. Exit code: 0 all passed, 1 a test failed or timed out, 2 connection.
    """
    from host_tools.cli.deploy_run import UsageError, test_board

    try:
        sys.exit(test_board(port, modules, timeout, as_json))
    except UsageError as e:
        die(str(e))


# ---- the production MicroPython image ------------------------------------------------------
@click.group()
def firmware() -> None:
    """The production MicroPython image: the hearth package frozen in, ROMFS on, the
    board's partition table (board definitions in boards/micropython/)."""


@firmware.command("board")
@click.option("--board", "boards", multiple=True, help="Board name (a file in boards/); repeat; default: every board.")
@click.option("--check", is_flag=True, help="Change nothing: exit 1 if a definition differs from its board file.")
@opt.json
def board_cmd(boards: tuple[str, ...], check: bool, as_json: bool) -> None:
    """Write (or --check) the MicroPython board definition of each board, from its board file."""
    from host_tools.boards import BoardError, board_names
    from host_tools.deploy import boarddef

    names = list(boards) or board_names()
    out = {}
    try:
        for name in names:
            d = boarddef.def_dir(name)
            if check:
                out[name] = {"path": boarddef.relative(d), "stale": boarddef.stale(name)}
            else:
                boarddef.write(name)
                out[name] = {"path": boarddef.relative(d), "stale": []}
    except (BoardError, boarddef.BoardDefError) as e:
        die(str(e))
    bad = {n: v for n, v in out.items() if v["stale"]}
    if as_json:
        click.echo(json.dumps({"ok": not bad, "boards": out}, indent=1, sort_keys=True))
    else:
        for n, v in out.items():
            if v["stale"]:
                click.echo(f"{n}: {v['path']} differs from boards/{n}.json ({', '.join(v['stale'])}): "
                           f"run `hearth firmware board --board {n}`")
            else:
                click.echo(f"{n}: {v['path']} {'is current' if check else 'written'}")
    sys.exit(EXIT_FAIL if bad else EXIT_OK)


@firmware.command("build")
@click.option("--board", required=True, help="Board name (a file in boards/).")
@click.option("--image", "idf_image", default=None, help="ESP-IDF container image (default: the pinned release).")
@click.option("--dry-run", is_flag=True, help="Print the container command, run nothing.")
@opt.json
def build_cmd(board: str, idf_image: str | None, dry_run: bool, as_json: bool) -> None:
    """Build the board's MicroPython firmware in the ESP-IDF container (needs Docker with a
    running engine). Result: build/firmware/BOARD.bin, for `hearth flash --base`.

    \b
    Exit code: 0 built; 1 the build failed; 2 Docker (or its engine) missing, unknown
    board, or a board definition that differs from its board file.
    """
    from host_tools.boards import BoardError
    from host_tools.deploy import idfbuild

    image = idf_image or idfbuild.IDF_IMAGE
    try:
        if dry_run:
            p = idfbuild.plan(board, image)
            if as_json:
                click.echo(json.dumps({"command": p.command, "output": str(p.output)}, indent=1))
            else:
                click.echo(idfbuild.shell(p.command))
            sys.exit(EXIT_OK)
        from rich.console import Console

        status = Console(stderr=True)
        with status.status(f"building the {board} firmware in the ESP-IDF container", spinner="dots"):
            out = idfbuild.build(board, image, log=lambda s: status.print(s) if not as_json else None)
    except BoardError as e:
        die(str(e))
    except idfbuild.FirmwareBuildError as e:
        if as_json:
            click.echo(json.dumps({"ok": False, "error": str(e), "exit_code": e.code}, indent=1))
        die(str(e), e.code)
    if as_json:
        click.echo(json.dumps({"ok": True, "firmware": str(out)}, indent=1))
    else:
        click.echo(f"built {out}: write it with `hearth flash --base {out} --board {board} --port PORT`")



COMMANDS = [build, flash, image, test_cmd, firmware]
