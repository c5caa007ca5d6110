"""`hearth`: the host toolkit's verbs. Thin: each verb parses, calls a module, reports.

Exit codes: 0 ok, 1 a check failed, 2 usage or connection error.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def die(msg: str, code: int = EXIT_USAGE) -> NoReturn:
    click.secho(f"error: {msg}", fg="red", err=True)
    sys.exit(code)


def emit(obj: Any, as_json: bool, human: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(obj, indent=1, sort_keys=True))
    else:
        click.echo(human if human is not None else json.dumps(obj, indent=1, sort_keys=True))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hearth")
def main() -> None:
    """Build, flash, configure, test and diagnose hearth boards (real or virtual)."""


# ---- virtual board -----------------------------------------------------------------------
@main.command()
@click.option("--board", required=True, help="Board name (a file in boards/).")
@click.option("--state", "state_dir", default=None, help="State folder (filesystem and journal images). Default: state/BOARD.")
@click.option("--baud", type=int, default=None, help="Throttle the console to this baud rate (default: unthrottled).")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Virtual time runs at this multiple of real time.")
@click.option("--heap", default="256K", show_default=True, help="MicroPython heap size of the board.")
def sim(board: str, state_dir: str | None, baud: int | None, speed: float, heap: str) -> None:
    """Run a virtual board until interrupted.

    Prints one `name: value` line per endpoint (console first, then bench, then mavlink
    for latch boards), then serves them until SIGINT or SIGTERM.
    """
    from host_tools.sim.relay import VirtualBoard, run_forever
    from host_tools.sim.state import ROOT, SimError

    if speed <= 0 or speed > 1000:
        die("--speed must be in (0, 1000]")
    if baud is not None and not 300 <= baud <= 4_000_000:
        die("--baud must be between 300 and 4000000")
    try:
        vb = VirtualBoard(board, state_dir or (ROOT / "state" / board), baud=baud, speed=speed, heap=heap)
    except SimError as e:
        die(str(e))
    run_forever(vb)


@main.command()
@click.argument("endpoint")
@click.argument("what", type=click.Choice(["power", "fault", "state", "set", "log"]))
@click.argument("args", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--tear", type=int, default=1, show_default=True, help="power cut-at: bytes of the torn program that land.")
def bench(endpoint: str, what: str, args: tuple[str, ...], as_json: bool, tear: int) -> None:
    """Drive a virtual board's lab bench (ENDPOINT is the `bench:` path `hearth sim` printed).

    \b
      hearth bench EP power off|on|cycle|brownout
      hearth bench EP power cut-at N        cut power in the middle of the Nth flash program from now
      hearth bench EP power cut-random [MIN_MS MAX_MS]
      hearth bench EP fault NAME|clear
      hearth bench EP state [--json]
      hearth bench EP set PARAM VALUE
    """
    from host_tools.sim.bench import BenchClient, BenchError

    c = BenchClient(endpoint)
    req: dict[str, Any] = {"op": what}
    if what == "power":
        if not args:
            die("power needs off, on, cycle, brownout, cut-at N or cut-random")
        req["arg"] = args[0]
        if args[0] == "cut-at":
            if len(args) < 2 or not args[1].isdigit():
                die("power cut-at needs a flash program count, e.g. `power cut-at 3`")
            req["program"] = int(args[1])
            req["tear"] = tear
        if args[0] == "cut-random" and len(args) >= 3:
            req["min_ms"], req["max_ms"] = float(args[1]), float(args[2])
    elif what == "fault":
        if not args:
            die("fault needs a fault name or `clear`")
        req["name"] = args[0]
    elif what == "set":
        if len(args) != 2:
            die("set needs PARAM VALUE")
        try:
            value: Any = json.loads(args[1])
        except json.JSONDecodeError:
            value = args[1]
        req["param"], req["value"] = args[0], value
    try:
        res = c.call(**req)
    except BenchError as e:
        die(str(e))
    res.pop("ok", None)
    if what == "state" and not as_json:
        st = res["state"]
        for k in sorted(st):
            click.echo(f"{k:>16}: {st[k]}")
        return
    emit(res, as_json)


# ---- talking to the app ------------------------------------------------------------------
def _client(port: str, timeout: float) -> Any:
    from host_tools.protocol import BoardClient
    from host_tools.transport.serialport import PortError, open_port

    try:
        ser = open_port(port)
    except PortError as e:
        die(str(e))
    return BoardClient(ser)


def _request(port: str, cmd: str, args: dict[str, Any] | None, as_json: bool, timeout: float) -> None:
    from host_tools.protocol import BoardError, ProtocolTimeout

    client = _client(port, timeout)
    try:
        res = client.request(cmd, args, timeout=timeout)
    except BoardError as e:
        if as_json:
            emit({"error": e.code, "message": e.message}, True)
        else:
            click.secho(f"board refused: {e.code} {e.message}", fg="red", err=True)
        sys.exit(EXIT_FAIL)
    except ProtocolTimeout as e:
        die(str(e))
    finally:
        client.close()
    emit(res, as_json)


_port = click.option("--port", "-p", required=True, help="Serial port of the board (a virtual board's console too).")
_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
_timeout = click.option("--timeout", type=float, default=2.0, show_default=True, help="Seconds to wait per try.")


@main.command()
@_port
@_json
@_timeout
def hello(port: str, as_json: bool, timeout: float) -> None:
    """Identity: firmware and protocol version, board, role, config hash, reset and recovery state."""
    _request(port, "hello", None, as_json, timeout)


@main.command()
@_port
@_json
@_timeout
def status(port: str, as_json: bool, timeout: float) -> None:
    """Board state, uptime, supply, loop timing and the role's readings."""
    _request(port, "status", None, as_json, timeout)


@main.command()
@_port
@_json
@_timeout
@click.option("--reason", default="host", show_default=True)
def estop(port: str, as_json: bool, timeout: float, reason: str) -> None:
    """Emergency stop: every output safe now, the board goes to FAULT."""
    _request(port, "estop", {"reason": reason}, as_json, timeout)


@main.command()
@_port
@_json
@_timeout
@click.argument("command")
@click.argument("args_json", required=False)
def call(port: str, as_json: bool, timeout: float, command: str, args_json: str | None) -> None:
    """Send one framed COMMAND with optional JSON arguments and print the answer."""
    args = None
    if args_json:
        try:
            args = json.loads(args_json)
        except json.JSONDecodeError as e:
            die(f"ARGS_JSON is not valid JSON: {e}")
        if not isinstance(args, dict):
            die("ARGS_JSON must be a JSON object, e.g. '{\"c\": 32}'")
    _request(port, command, args, as_json, timeout)


# ---- deploy ---------------------------------------------------------------------------------
@main.command()
@click.option("--board", required=True, help="Board name (a file in boards/).")
@_port
@_timeout
def flash(board: str, port: str, timeout: float) -> None:
    """Copy the firmware and the board file to a board with mpremote, restart it, check `hello`."""
    from host_tools.deploy.mpremote_flash import FlashError
    from host_tools.deploy.mpremote_flash import flash as do_flash
    from host_tools.protocol import BoardError, ProtocolTimeout
    from host_tools.sim.state import SimError, load_board
    from host_tools.transport.serialport import PortError, open_port

    try:
        load_board(board)
        open_port(port).close()
    except (SimError, PortError) as e:
        die(str(e))
    click.echo(f"flashing {board} to {port} ...")
    try:
        secs = do_flash(board, port)
    except FlashError as e:
        die(str(e))
    client = _client(port, timeout)
    try:
        h = client.request("hello", None, retries=5)
    except (BoardError, ProtocolTimeout) as e:
        die(f"firmware copied but the board does not answer `hello`: {e}", EXIT_FAIL)
    finally:
        client.close()
    if h.get("board") != board:
        die(f"board answers as {h.get('board')!r}, expected {board!r}", EXIT_FAIL)
    click.echo(f"flashed {board} in {secs:.1f} s; hello: fw {h.get('fw')}, role {h.get('role')}, state {h.get('state')}")


if __name__ == "__main__":
    main()
