"""`hearth firmware ...`: the production MicroPython image (board definitions in
boards/micropython/, built in the ESP-IDF container). Registered into cli.main by
`register_firmware(main)`; the logic lives in boarddef.py and idfbuild.py."""

from __future__ import annotations

import json
import sys

import click

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _die(msg: str, code: int = EXIT_USAGE) -> None:
    click.secho(f"error: {msg}", fg="red", err=True)
    sys.exit(code)


@click.group()
def firmware() -> None:
    """The production MicroPython image: the hearth package frozen in, ROMFS on, the
    board's partition table (board definitions in boards/micropython/)."""


@firmware.command("board")
@click.option("--board", "boards", multiple=True, help="Board name (a file in boards/); repeat; default: every board.")
@click.option("--check", is_flag=True, help="Change nothing: exit 1 if a definition differs from its board file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
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
        _die(str(e))
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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
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
        _die(str(e))
    except idfbuild.FirmwareBuildError as e:
        if as_json:
            click.echo(json.dumps({"ok": False, "error": str(e), "exit_code": e.code}, indent=1))
        _die(str(e), e.code)
    if as_json:
        click.echo(json.dumps({"ok": True, "firmware": str(out)}, indent=1))
    else:
        click.echo(f"built {out}: write it with `hearth flash --base {out} --board {board} --port PORT`")


def register_firmware(main: click.Group) -> None:
    main.add_command(firmware)
