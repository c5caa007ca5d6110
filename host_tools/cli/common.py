"""What every `hearth` verb shares, defined once: the exit codes, die/emit, the --port,
--json, --timeout and --yes options, the confirmation before anything moves or heats,
and opening a client on a board.

Exit codes everywhere: 0 ok, 1 a check failed, 2 usage or connection error.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

PORT_HELP = ("Serial port of the board: a device, a virtual board's console, a URL (rfc2217://, socket://), "
             "a farm board's or labgrid place's name; `auto`: the one board there is.")


def die(msg: str, code: int = EXIT_USAGE) -> NoReturn:
    click.secho(f"error: {msg}", fg="red", err=True)
    sys.exit(code)


def emit(obj: Any, as_json: bool, human: str | None = None) -> None:
    """`obj` as JSON with --json (or when there is no human form), else the human text."""
    if as_json or human is None:
        click.echo(json.dumps(obj, indent=1, sort_keys=True))
    else:
        click.echo(human)


def board_refused(e: Any, as_json: bool) -> NoReturn:
    """The board answered with an error (a BoardError): say so, exit 1."""
    if as_json:
        emit({"error": e.code, "message": e.message}, True)
    else:
        click.secho(f"board refused: {e.code} {e.message}", fg="red", err=True)
    sys.exit(EXIT_FAIL)


def resolve_port_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback for --port: `auto` becomes the one board there is, a farm board's
    name its URL; a labgrid place is acquired for this command (released when the
    command ends, however it ends) and becomes its serial port's URL."""
    if value is None:
        return None
    from host_tools import labgrid
    from host_tools.ports import PortError, resolve

    try:
        port = resolve(value)
        if port.startswith(labgrid.PREFIX):
            hold = labgrid.Hold([port[len(labgrid.PREFIX):]])
            port = next(iter(hold.__enter__().values()))
            ctx.call_on_close(hold.release)
        return port
    except PortError as e:
        die(str(e))


def _farm_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--farm FILE: the farm file every board lookup of this run reads (as HEARTH_FARM)."""
    if value is None:
        return None
    import os

    from host_tools.ports import FARM_ENV, PortError, load_farm

    try:
        load_farm(value)  # a bad file stops here, before any board is touched
    except PortError as e:
        die(str(e))
    os.environ[FARM_ENV] = os.path.abspath(value)
    return value


def _coordinator_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--coordinator HOST:PORT: the labgrid coordinator whose places count as boards (as LG_COORDINATOR)."""
    if value is None:
        return None
    import os

    from host_tools.labgrid import COORDINATOR_ENV

    host, colon, port = value.rpartition(":")
    if not colon or not host or not port.isdigit():
        die(f"--coordinator {value!r}: write HOST:PORT, e.g. --coordinator coordinator.lan:20408")
    os.environ[COORDINATOR_ENV] = value
    return value


def _remote(f: Any) -> Any:
    """--farm and --coordinator: where remote boards come from (eager: read before --port)."""
    f = click.option("--coordinator", default=None, metavar="HOST:PORT", is_eager=True, expose_value=False,
                     callback=_coordinator_callback,
                     help="A labgrid coordinator whose places (tags; board=NAME names the board file) count "
                          "as boards; a place is acquired for the command and released after "
                          "(default: $LG_COORDINATOR; needs labgrid-client: docs/farm.md).")(f)
    return click.option("--farm", default=None, metavar="FILE", is_eager=True, expose_value=False,
                        callback=_farm_callback,
                        help="A farm file (TOML: name, url, board, tags per board) whose remote boards "
                             "count as found (default: $HEARTH_FARM).")(f)


class opt:  # noqa: N801 - a namespace of decorators, read as @opt.port
    """The options every verb shares, defined once: @opt.port (required), @opt.port_for(HELP)
    (optional, where the verb can do without a board), @opt.json, @opt.timeout, @opt.yes;
    @opt.remote (--farm, --coordinator) comes with every --port, and @opt.tag."""

    json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    timeout = click.option("--timeout", type=float, default=2.0, show_default=True, help="Seconds to wait per try.")
    yes = click.option("--yes", "-y", is_flag=True, help="Do not ask before anything moves or heats (automation).")
    remote = staticmethod(_remote)
    tag = click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
                       help="Only boards with this tag (repeatable; board=NAME matches the board file).")

    @staticmethod
    def port(f: Any) -> Any:
        return _remote(click.option("--port", "-p", required=True, callback=resolve_port_callback, help=PORT_HELP)(f))

    @staticmethod
    def port_for(help: str) -> Any:
        return lambda f: _remote(click.option("--port", "-p", default=None, callback=resolve_port_callback,
                                              help=help)(f))


def confirm(name: str, hazard: str, yes: bool) -> None:
    """Before anything moves or heats: ask (default no), unless --yes. No terminal and
    no --yes: refuse (exit 2), nothing is done."""
    if yes:
        return
    if not sys.stdin.isatty():
        die(f"{name}: {hazard}. Not confirmed (no terminal): pass --yes to run it unattended")
    if not click.confirm(f"{name}: {hazard}. Go ahead?", default=False):
        die("not confirmed: nothing was done")


def connect(port: str) -> Any:
    """A BoardClient on `port` that closes the port it opened (or exit 2 saying why not)."""
    from host_tools.protocol import BoardClient
    from host_tools.transport.serialport import PortError, open_port

    try:
        return BoardClient(open_port(port), own=True)
    except PortError as e:
        die(str(e))


@contextmanager
def session(port: str, as_json: bool) -> Iterator[Any]:
    """A client on `port` for the body, the port closed after; the board's errors said the
    one way: a refusal exits 1 (board_refused), a silent app says what the board does
    instead (no_answer), any other protocol error exits 2."""
    from host_tools.protocol import BoardError, ProtocolError, ProtocolTimeout

    client = connect(port)
    try:
        yield client
    except BoardError as e:
        client.ser.close()
        board_refused(e, as_json)
    except ProtocolTimeout as e:
        client.ser.close()
        no_answer(port, e, as_json)
    except ProtocolError as e:
        die(str(e))
    finally:
        client.ser.close()


def wait_back(port: str, want_hash: str | None, timeout: float = 20.0) -> dict[str, Any] | None:
    """After a reset: reopen the port (a native-USB board re-enumerates) until hello answers."""
    from host_tools.protocol import BoardClient, ProtocolError
    from host_tools.transport.serialport import PortError, open_port

    end = time.monotonic() + timeout
    time.sleep(0.3)
    while time.monotonic() < end:
        try:
            c = BoardClient(open_port(port), own=True)
        except PortError:
            time.sleep(0.3)
            continue
        try:
            h = c.request("hello", None, timeout=1.0, retries=0)
            if want_hash is None or h.get("config_hash") == want_hash:
                return h
        except ProtocolError:
            pass
        finally:
            c.ser.close()
        time.sleep(0.3)
    return None


def no_answer(port: str, e: Exception, as_json: bool) -> NoReturn:
    """The app did not answer: say what the board does instead (REPL, incomplete
    firmware, another chip's board file) and what to do. Exit 1 when the board was
    reached (its MicroPython answered), 2 when nothing answered."""
    from host_tools.transport.replstate import probe

    st = probe(port)
    if as_json:
        emit({"error": "NO_APP" if st.at_repl else "NO_ANSWER", "message": st.why, "problem": st.problem}, True)
        sys.exit(EXIT_FAIL if st.at_repl else EXIT_USAGE)
    if st.at_repl:
        die(f"{port}: no answer from the hearth app: {st.why}", EXIT_FAIL)
    die(f"{e}")
