"""`hearth`: the host toolkit's verbs. Thin: each verb parses, calls a module, reports.

Exit codes: 0 ok, 1 a check failed, 2 usage or connection error.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from host_tools.commands_tech import confirm, diag, register_tech, resolve_port_callback, yes_option
from host_tools.deploy.firmware_cli import register_firmware

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
@click.option("--baud", type=int, default=None,
              help="Console baud rate (default: the board file's, 115200 as a stock REPL).")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Virtual time runs at this multiple of real time.")
@click.option("--heap", default=None,
              help="A fixed MicroPython heap, e.g. 96K (default: the stock chip's split heap, "
                   "56+56 KiB on an ESP32, 64+64 KiB on an S3).")
@click.option("--flash-mb", type=click.Choice(["4", "8", "16"]), default=None,
              help="The module's flash size (default: the board file's).")
@click.option("--flash-timing", type=click.Choice(["typ", "max", "off"]), default="typ", show_default=True,
              help="SPI flash program/erase times that stall the chip: datasheet typical, worst case, none.")
@click.option("--image", "image_file", default=None, help="Boot from this filesystem image (`hearth image --target sim`).")
@click.option("--frozen/--no-frozen", default=None,
              help="The firmware frozen into the interpreter, as a hearth MicroPython image has it (then "
                   "`hearth flash` puts only boot.py, main.py and the board files on it). Default: the board "
                   "file's \"firmware\" (frozen for both boards: .mpy files do not fit a stock chip's heap).")
@click.option("--runtime", "runtime_dir", default=None, type=click.Path(file_okay=False),
              help="Register the board in this folder's registry instead of $HEARTH_RUNTIME (or the shared "
                   "per-user one): only hearth commands run with HEARTH_RUNTIME=DIR see it.")
@click.option("--bench", "bench_ep", default=None, metavar="tcp:HOST:PORT",
              help="Serve the bench on TCP (port 0: any free one) instead of a unix socket in the state "
                   "folder, so fault and power-fail tests can run from another machine. Loopback unless "
                   "you give another address.")
def sim(board: str, state_dir: str | None, baud: int | None, speed: float, heap: str | None,
        flash_mb: str | None, flash_timing: str, image_file: str | None, frozen: bool | None,
        runtime_dir: str | None, bench_ep: str | None) -> None:
    """Run a virtual board until interrupted.

    The board is as faithful to the hardware as we can make it: the ESP32-faithful
    interpreter (32-bit, single float, the stock heap), the console link of the board
    file (UART bridge with its latency timer, or USB-CDC), floating inputs without a
    pull, flash timing and the module's flash size with the board's partition table.

    Prints one `name: value` line per endpoint (console first, then bench, then mavlink
    for latch boards), then serves them until SIGINT or SIGTERM.
    """
    from host_tools.sim.relay import VirtualBoard, run_forever
    from host_tools.sim.state import ROOT, SimError

    if speed <= 0 or speed > 1000:
        die("--speed must be in (0, 1000]")
    if baud is not None and not 300 <= baud <= 4_000_000:
        die("--baud must be between 300 and 4000000")
    if bench_ep is not None:
        from host_tools.sim.bench import BenchError, parse_tcp

        try:
            if parse_tcp(bench_ep) is None:
                die(f"--bench {bench_ep}: write tcp:HOST:PORT, e.g. tcp:127.0.0.1:0")
        except BenchError as e:
            die(str(e))
    if runtime_dir:
        os.environ["HEARTH_RUNTIME"] = os.path.abspath(runtime_dir)
    try:
        vb = VirtualBoard(board, state_dir or (ROOT / "state" / board), baud=baud, speed=speed, heap=heap,
                          flash_mb=int(flash_mb) if flash_mb else None, flash_timing=flash_timing,
                          frozen=board_format(board) == "frozen" if frozen is None else frozen, bench=bench_ep)
    except SimError as e:
        die(str(e))
    if image_file:
        from host_tools.deploy.image import ImageError, install_sim_image

        try:
            install_sim_image(Path(image_file), vb.state, vb.board)
        except ImageError as e:
            die(str(e))
    from host_tools.deploy.multi import SimRecorder
    from host_tools.sim.bench import BenchError

    try:
        run_forever(vb, out=SimRecorder(vb, sys.stdout))
    except BenchError as e:
        die(str(e))


@main.command()
@click.argument("endpoint")
@click.argument("what", type=click.Choice(["power", "fault", "state", "set", "log"]))
@click.argument("args", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--tear", type=int, default=1, show_default=True, help="power cut-at: bytes of the torn program that land.")
def bench(endpoint: str, what: str, args: tuple[str, ...], as_json: bool, tear: int) -> None:
    """Drive a virtual board's lab bench (ENDPOINT is the `bench:` path `hearth sim` printed).

    \b
      hearth bench EP power MODE            the supply, MODE one of:
          off        cut at once (no hold-up: the board writes nothing)
          on         power on (a cold boot)
          cycle      off, 200 ms, on
          fail       the supply collapses; the hold-up capacitor keeps the board
                     alive holdup_ms (board file), then it dies: the power-fail path
          brownout   ramp the supply down until the chip dies, then back up
          cut-at N   cut in the middle of the Nth flash program from now (--tear)
          cut-random [MIN_MS MAX_MS]   cut at a random moment
      hearth bench EP fault NAME|clear      inject a fault (NAME below) or clear all
      hearth bench EP state [--json]        what the probes read
      hearth bench EP set PARAM VALUE       a plant knob (e.g. nozzle_c 32), a pin, supply_mv
      hearth bench EP log                   the bench's event log

    \b
    Fault names:
      printer boards: thermistor_open, thermistor_short, heater_open,
                      heater_stuck_on, draught, clog
      latch boards:   jam, payload_slip, lock_sw_stuck, open_sw_dead, link_loss
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
    return BoardClient(ser, own=True)


def _request(port: str, cmd: str, args: dict[str, Any] | None, as_json: bool, timeout: float,
             human: Any = None) -> dict[str, Any]:
    """Send one command; print the answer (JSON, or `human(answer)` as text) and return it."""
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
        client.ser.close()
        _no_answer(port, e, as_json)
    finally:
        client.ser.close()  # the client does not own a port it was given: release the lock
    emit(res, as_json, human(res) if human is not None and not as_json else None)
    return res


def _no_answer(port: str, e: Exception, as_json: bool) -> NoReturn:
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


_port = click.option("--port", "-p", required=True, callback=resolve_port_callback,
                     help="Serial port of the board (a virtual board's console too); `auto`: the one board there is.")
_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
_timeout = click.option("--timeout", type=float, default=2.0, show_default=True, help="Seconds to wait per try.")


@main.command()
@_port
@_json
@_timeout
def hello(port: str, as_json: bool, timeout: float) -> None:
    """Identity: firmware and protocol version, board, role, config hash, reset and recovery state.

    When the app does not answer, says what the board does instead: an incomplete
    firmware (an interrupted flash), a board file for another chip, or the app stopped
    at the REPL (`hearth reset` starts it again)."""
    from host_tools.humanize import hello_text

    _request(port, "hello", None, as_json, timeout, hello_text)


@main.command()
@_port
@_json
@_timeout
def status(port: str, as_json: bool, timeout: float) -> None:
    """Board state, uptime, supply, loop timing and the role's readings."""
    from host_tools.humanize import status_text

    _request(port, "status", None, as_json, timeout, status_text)


@main.command()
@_port
@_json
@_timeout
@click.option("--reason", default="host", show_default=True, help="Logged with the ESTOP fault record.")
def estop(port: str, as_json: bool, timeout: float, reason: str) -> None:
    """Emergency stop: every output safe now and any job aborted.

    \b
    READY or ACTIVE: the board goes to SAFE (the job is dropped, not held).
    FAULT, RECOVERY, POWERFAIL: outputs are already safe; the state stays.
    An ESTOP record goes into the fault log. To use the board again just send a
    command that needs it (a job, `heat`): nothing needs clearing."""
    _request(port, "estop", {"reason": reason}, as_json, timeout,
             lambda r: f"emergency stop: outputs safe, board {r.get('state')}")


@main.command()
@_port
@_json
@click.option("--hard", is_flag=True, help="A chip reset (machine.reset(), or the EN pulse on RTS when the "
              "REPL does not answer) instead of a soft reset.")
@click.option("--timeout", type=float, default=20.0, show_default=True, help="Seconds to wait for the app to answer.")
def reset(port: str, as_json: bool, hard: bool, timeout: float) -> None:
    """Restart the board's app: after mpremote (which leaves it stopped at the REPL), a
    stuck board, or to apply what a reboot applies.

    A soft reset (default) interrupts the app (outputs safe), then runs boot.py and
    main.py as after power-on; an interrupted job or a held payload comes back in
    RECOVERY, as after any reset. Exit 0 once `hello` answers again."""
    from host_tools.commands_tech import wait_back
    from host_tools.transport.replstate import hard_reset, probe, soft_reset
    from host_tools.transport.serialport import PortError

    try:
        how = hard_reset(port) if hard else (soft_reset(port) or "soft reset")
    except PortError as e:
        die(str(e))
    h = wait_back(port, None, timeout)
    if h is None:
        st = probe(port)
        if as_json:
            emit({"reset": how, "hello": None, "message": st.why}, True)
            sys.exit(EXIT_FAIL if st.at_repl else EXIT_USAGE)
        die(f"{port}: reset ({how}), but the app does not answer: {st.why}", EXIT_FAIL if st.at_repl else EXIT_USAGE)
    emit({"reset": how, "hello": h}, as_json,
         f"{port}: {how}; the app answers: {h.get('board')} state {h.get('state')}"
         + (" (RECOVERY: `hearth recovery show`)" if h.get("state") == "RECOVERY" else ""))


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


# ---- recovery -------------------------------------------------------------------------------
@main.group()
def recovery() -> None:
    """What a board in RECOVERY holds (an interrupted print job, a payload the latch held
    when it stopped), in words; resume or discard it. The board's token is handled here."""


def _recovery_state(client: Any, timeout: float) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(hello, the role's record of the interrupted run or None)."""
    h = client.request("hello", None, timeout=timeout)
    detail = None
    if h.get("recovery"):
        if h.get("role") == "printer":
            detail = client.request("job", None, timeout=timeout).get("recovered")
        elif h.get("role") == "latch":
            detail = (client.request("status", None, timeout=timeout).get("role") or {}).get("recovered")
    return h, detail


@recovery.command("show")
@_port
@_json
@_timeout
def recovery_show(port: str, as_json: bool, timeout: float) -> None:
    """The recovery record in words: what was interrupted, how, where, and what to do."""
    from host_tools.humanize import recovery_text
    from host_tools.protocol import ProtocolError, ProtocolTimeout

    client = _client(port, timeout)
    try:
        h, detail = _recovery_state(client, timeout)
    except ProtocolTimeout as e:
        client.ser.close()
        _no_answer(port, e, as_json)
    except ProtocolError as e:
        die(str(e))
    finally:
        client.ser.close()
    emit({"board": h.get("board"), "role": h.get("role"), "state": h.get("state"), "recovery": h.get("recovery"),
          "detail": detail}, as_json, recovery_text(h, detail))


def _recovery_act(port: str, what: str, as_json: bool, timeout: float) -> None:
    from host_tools.protocol import BoardError, ProtocolError, ProtocolTimeout

    client = _client(port, timeout)
    try:
        h = client.request("hello", None, timeout=timeout)
        rec = h.get("recovery")
        if h.get("state") != "RECOVERY" or not rec:
            emit({"state": h.get("state"), what: False}, as_json, f"nothing to {what}: the board is {h.get('state')}")
            sys.exit(EXIT_OK if what == "discard" else EXIT_FAIL)
        if what == "resume" and h.get("role") == "printer" and rec.get("job"):
            die(f"print job {rec['job']} resumes with its file, which streams the rest: "
                f"`hearth print --resume FILE -p {port}`")
        res = client.request(what, {"token": rec["token"]}, timeout=timeout)
        st = client.request("hello", None, timeout=timeout).get("state")
    except BoardError as e:
        client.ser.close()
        if as_json:
            emit({"error": e.code, "message": e.message}, True)
        else:
            click.secho(f"board refused: {e.code} {e.message}", fg="red", err=True)
        sys.exit(EXIT_FAIL)
    except ProtocolTimeout as e:
        client.ser.close()
        _no_answer(port, e, as_json)
    except ProtocolError as e:
        die(str(e))
    finally:
        client.ser.close()
    if h.get("role") == "printer" and rec.get("job"):
        text = f"print job {rec['job']} discarded (food and HACCP record as the board kept them); board {st}"
    elif h.get("role") == "latch":
        text = (f"{'resumed' if what == 'resume' else 'discarded'}: board {st}"
                + ("; the latch stays locked and records a payload again if it still holds one"
                   if what == "discard" else ""))
    else:
        text = f"{what}: board {st}"
    emit({"state": st, what: True, "record": res}, as_json, text)


@recovery.command("resume")
@_port
@_json
@_timeout
def recovery_resume(port: str, as_json: bool, timeout: float) -> None:
    """Resume what the board holds (checked on the board). A print job resumes with its
    file: `hearth print --resume FILE`; a latch must read locked."""
    _recovery_act(port, "resume", as_json, timeout)


@recovery.command("discard")
@_port
@_json
@_timeout
def recovery_discard(port: str, as_json: bool, timeout: float) -> None:
    """Drop the interrupted run: the board leaves RECOVERY for READY, outputs stay safe.
    Nothing to discard is not an error."""
    _recovery_act(port, "discard", as_json, timeout)


# ---- deploy ---------------------------------------------------------------------------------
_target = click.option(
    "--target", default="auto", show_default=True,
    help="What to build for: board (the board file's chip), sim (the virtual board: unix-port bytecode, "
    "native parts for this host's arch), or a chip name. flash: auto = ask the board (virtual or ESP32).",
)


def board_format(board: str | None) -> str:
    """How a board's firmware goes on it by default: its board file's "firmware" (files,
    romfs or frozen); files when the board is not known."""
    if not board:
        return "files"
    from host_tools.sim.state import SimError, load_board

    try:
        return str(load_board(board).get("firmware", "files"))
    except SimError:
        return "files"


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


@main.command()
@click.option("--board", required=True, help="Board name (a file in boards/).")
@_target
@click.option("--out", default=None, help="Output folder (default build/BOARD, build/BOARD-sim for --target sim; "
              "-romfs / -frozen added for those formats).")
@_format
@_json
def build(board: str, target: str, out: str | None, fmt: str | None, as_json: bool) -> None:
    """Compile the firmware (mpy-cross) for a board, with board.json, config and manifest."""
    from host_tools.deploy.commands import UsageError, build_summary, do_build

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


@main.command()
@click.option("--board", default=None, help="Board name (a file in boards/); with --all, virtual boards know theirs.")
@click.option("--port", "-p", "ports", multiple=True,
              help="Serial port of a board; repeat for several boards; `auto`: the one board there is.")
@click.option("--all", "all_ports", is_flag=True, help="Every board found: ESP32 USB serial ports and running `hearth sim`s.")
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
@_json
def flash(board: str | None, ports: tuple[str, ...], all_ports: bool, target: str, build_dir: str | None,
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
    from host_tools.deploy import commands as c
    from host_tools.ports import PortError, list_virtual, resolve

    plist: list[str] = []
    for p in ports:
        try:
            p = resolve(p)  # `auto`: the one board there is, as for every verb
        except PortError as e:
            die(str(e))
        if p not in plist:
            plist.append(p)
    # a running `hearth sim` knows its board: no --board needed for it
    known: dict[str, str] = {v.device: v.board for v in list_virtual() if v.board}
    if all_ports:
        found, found_known = c.all_ports()
        known.update(found_known)
        plist += [p for p in found if p not in plist]
        if not plist:
            die("--all found no boards: plug one in or start `hearth sim`")
    if not plist:
        die("no port given: pass --port PORT (repeat for several boards) or --all")
    if base and image:
        die("--base and --image are separate steps: run them one after the other")
    if image and fmt not in (None, "files"):
        die("--image writes the filesystem with esptool: it has no ROMFS or frozen form (flash over the console)")
    try:
        if base or image:
            if not board:
                die("--base and --image need --board NAME")
            code = c.esptool_flash("base" if base else "image", board, plist, base, target, size, dry_run, as_json)
            if code or image or dry_run:
                sys.exit(code)
            time.sleep(2.0)  # the board boots MicroPython for the first time (it makes its filesystem)
        if board is not None:
            from host_tools.sim.state import SimError, load_board

            try:
                load_board(board)
            except SimError as e:
                die(str(e))
        sys.exit(c.flash_ports(board, plist, known, target, build_dir, as_json, frame, window, timeout,
                               fmt or board_format(board or known.get(plist[0])), force))
    except c.UsageError as e:
        die(str(e))


@main.command()
@click.option("--board", required=True, help="Board name (a file in boards/).")
@click.option("--target", default="board", show_default=True, help="board (the chip's vfs partition) or sim (the virtual board's).")
@click.option("--size", type=int, default=None, help="vfs partition size in bytes (default: the chip's stock partition table).")
@click.option("--out", "-o", default=None, help="Image file (default build/BOARD.img or build/BOARD-sim.img).")
@_json
def image(board: str, target: str, size: int | None, out: str | None, as_json: bool) -> None:
    """Make a LittleFS image of the app filesystem for the board's vfs partition."""
    from host_tools.deploy.commands import UsageError, do_build
    from host_tools.deploy.image import ImageError, make_image, vfs_partition
    from host_tools.sim.state import load_board

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


@main.command(name="test")
@_port
@click.argument("modules", nargs=-1)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds a single test may run.")
@_json
def test_cmd(port: str, modules: tuple[str, ...], timeout: float, as_json: bool) -> None:
    """Run the firmware's unit tests (tests/firmware, as CI runs them) on a board.

    MODULES: test module names (default: all). The board keeps its firmware; the tests
    go to /_hearth_test. Exit code: 0 all passed, 1 a test failed or timed out, 2 connection.
    """
    from host_tools.deploy.commands import UsageError, test_board

    try:
        sys.exit(test_board(port, modules, timeout, as_json))
    except UsageError as e:
        die(str(e))


# ---- diag: the payload latch over MAVLink ---------------------------------------------------
# `diag` (the group: `hearth diag --port P` is the health report), ports, config, monitor: commands_tech.py
register_tech(main)
register_firmware(main)


_mav_port = click.option("--mavlink", "-m", "mav_port", required=True,
                         help="The latch's MAVLink serial (UART2 to the flight controller; a virtual board's "
                         "`mavlink:` endpoint).")
_mav_baud = click.option("--baud", type=int, default=57600, show_default=True, help="MAVLink baud rate.")
_mav_ids = [
    click.option("--sysid", type=int, default=1, show_default=True, help="System id we speak as (the vehicle's FC)."),
    click.option("--compid", type=int, default=158, show_default=True, help="The latch's component id."),
]


def _fc(port: str, baud: int, sysid: int, compid: int) -> Any:
    from host_tools.latch import FlightController, LatchLinkError

    try:
        return FlightController(port, baud=baud, sysid=sysid, compid=1, target_system=sysid, target_component=compid)
    except LatchLinkError as e:
        die(f"{e}. Check the port (`hearth ports`) and that nothing else holds it.")


def _await_latch(fc: Any, port: str, compid: int) -> Any:
    import time

    hb = fc.wait_heartbeat(timeout=5.0)
    if hb is None:
        fc.close()
        die(f"no gripper HEARTBEAT on {port} within 5 s: check wiring (TX/RX crossed), baud and power", EXIT_FAIL)
    if hb.get_srcComponent() != compid:
        click.secho(f"note: the latch answers as component {hb.get_srcComponent()}, not {compid}", err=True)
        fc.target_component = hb.get_srcComponent()
    time.sleep(1.2)  # let the latch see our heartbeat: it refuses to arm without the FC link
    return hb


@diag.command("latch-cycle")
@_mav_port
@click.option("--port", "-p", default=None, callback=resolve_port_callback,
              help="The latch's console: checked first for a payload and the board state.")
@_mav_baud
@_mav_ids[0]
@_mav_ids[1]
@click.option("--cycles", "-n", type=int, default=10, show_default=True, help="Open/lock cycles to run.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for each motion.")
@click.option("--with-payload", is_flag=True, help="Run even with a payload in the latch (it will open).")
@yes_option
@_json
def latch_cycle(mav_port: str, port: str | None, baud: int, sysid: int, compid: int, cycles: int, timeout: float,
                with_payload: bool, yes: bool, as_json: bool) -> None:
    """Run N verified open/lock cycles of a payload latch over MAVLink, with timings.

    Each cycle: arm, RELEASE (ACCEPTED only when the open switch confirms), GRAB
    (ACCEPTED only when the lock switch confirms). THE LATCH OPENS: it asks first
    (--yes: do not ask), and with --port it reads the latch first: a payload in the
    latch is refused unless --with-payload, a board in RECOVERY always (`hearth
    recovery show`). Without --port it cannot see a payload: --with-payload is then
    required. Exit 1 if any cycle failed, 2 if refused."""
    from host_tools.latch import STATES, run_cycles

    if cycles < 1:
        die("--cycles must be at least 1")
    confirm("latch-cycle", "THE LATCH OPENS: take the parcel off first", yes)
    if port is None and not with_payload:
        die("latch-cycle cannot see a payload over MAVLink: pass --port (the latch's console) so it checks, "
            "or --with-payload to let the latch open whatever it holds")
    if port is not None:
        _latch_may_cycle(port, with_payload)
    fc = _fc(mav_port, baud, sysid, compid)
    try:
        hb = _await_latch(fc, mav_port, compid)
        if not as_json:
            click.echo(f"latch on {mav_port}: state {STATES.get(hb.custom_mode, '?')}; running {cycles} cycles")

        def progress(i: int, n: int) -> None:
            if not as_json:
                click.echo(f"  cycle {i}/{n} done", err=True)

        res = run_cycles(fc, cycles, timeout, progress)
    finally:
        fc.close()
    if as_json:
        emit(res, True)
    else:
        for key, label in (("release_ack_ms", "release ACK"), ("release_confirmed_ms", "release confirmed"),
                           ("lock_confirmed_ms", "lock confirmed")):
            s = res[key]
            if s:
                click.echo(f"{label:>18}: median {s['median']} ms, p95 {s['p95']} ms, min {s['min']}, max {s['max']} (n={s['n']})")
        for f in res["failures"]:
            click.secho(f"FAILED {f}", fg="red")
        click.echo(f"{res['ok']}/{cycles} releases confirmed by the open switch")
    sys.exit(EXIT_FAIL if res["failures"] else EXIT_OK)


def _latch_may_cycle(port: str, with_payload: bool) -> None:
    """Refuse (exit 2) a latch in RECOVERY (arming would be its resume), or holding a
    payload unless with_payload."""
    from host_tools.protocol import ProtocolError

    client = _client(port, 2.0)
    try:
        h = client.request("hello", None, timeout=2.0)
        lt = client.request("latch", None, timeout=2.0) if h.get("role") == "latch" else {}
    except ProtocolError as e:
        die(f"cannot read the latch on {port}: {e}")
    finally:
        client.ser.close()
    if h.get("role") != "latch":
        die(f"{port} is a {h.get('role')} board, not a payload latch")
    if h.get("state") == "RECOVERY":
        die("the board is in RECOVERY (it held a payload when it stopped): latch-cycle will not be its resume; "
            "`hearth recovery show`, then resume or discard it")
    if (lt.get("payload") or lt.get("held")) and not with_payload:
        grams = f" ({lt['grams']} g)" if lt.get("grams") is not None else ""
        die(f"the latch holds a payload{grams}: take it off first, or pass --with-payload to open it anyway")


@diag.command("mavlink")
@_mav_port
@_mav_baud
@_mav_ids[0]
@_mav_ids[1]
@click.argument("action", type=click.Choice(["watch", "arm", "disarm", "release", "grab", "hold"]), default="watch")
@click.option("--seconds", type=float, default=5.0, show_default=True, help="How long to listen after the action.")
@_json
def diag_mavlink(mav_port: str, baud: int, sysid: int, compid: int, action: str, seconds: float, as_json: bool) -> None:
    """Play the flight controller (pymavlink) for a latch on the bench.

    Sends our HEARTBEAT at 1 Hz, optionally one command (arm, disarm, release, grab,
    hold), and prints what the latch says: its heartbeat state, COMMAND_ACKs and
    STATUSTEXTs. `watch` only listens."""
    import time

    from host_tools.latch import GRAB, HOLD, RELEASE, RESULTS, STATES

    fc = _fc(mav_port, baud, sysid, compid)
    out: list[dict[str, Any]] = []
    try:
        _await_latch(fc, mav_port, compid)
        mk = fc.mark()
        t0 = time.monotonic()
        if action == "arm":
            fc.arm(True)
        elif action == "disarm":
            fc.arm(False)
        elif action != "watch":
            fc.gripper({"release": RELEASE, "grab": GRAB, "hold": HOLD}[action])
        time.sleep(seconds)
        with fc._cv:
            msgs = list(fc.msgs[mk:])
    finally:
        fc.close()
    for t, m in msgs:
        kind = m.get_type()
        e: dict[str, Any] = {"t_ms": round((t - t0) * 1000, 1), "type": kind}
        if kind == "HEARTBEAT":
            e["state"] = STATES.get(m.custom_mode, "?")
            e["armed"] = bool(m.base_mode & 128)
        elif kind == "COMMAND_ACK":
            e["command"] = m.command
            e["result"] = RESULTS.get(m.result, str(m.result))
        elif kind == "STATUSTEXT":
            e["text"] = m.text
        else:
            continue
        out.append(e)
    if as_json:
        emit({"action": action, "messages": out}, True)
    else:
        for e in out:
            detail = {k: v for k, v in e.items() if k not in ("t_ms", "type")}
            click.echo(f"{e['t_ms']:>8.1f} ms  {e['type']:<12} {detail}")
    acks = [e for e in out if e["type"] == "COMMAND_ACK"]
    if action != "watch" and not any(a["result"] == "ACCEPTED" for a in acks):
        sys.exit(EXIT_FAIL)


# ---- the printer toolhead: print a job, heater step response --------------------------------
@main.command("print")
@_port
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--material", default="dark", show_default=True,
              help="Material preset on the board (dark, milk, white, dough, puree).")
@click.option("--job-id", type=int, default=None, help="Job id (default: from the clock).")
@click.option("--resume", is_flag=True, help="Resume the job the board holds in RECOVERY, from its next line "
              "(FILE must be the job's own file).")
@click.option("--keep-hot", is_flag=True, help="On an error, end the job but leave the heater at its setpoint.")
@_json
def print_cmd(port: str, file: str, material: str, job_id: int | None, resume: bool, keep_hot: bool,
              as_json: bool) -> None:
    """Stream a G-code job FILE to a printer toolhead, with progress and live temperature.

    \b
    Any error or refusal ends the job on the board (heater off unless --keep-hot).
    Ctrl-C holds the job on the board, heater off: `--resume` continues it,
    `hearth recovery discard` drops it. After a power cut, `--resume` continues from
    the last line the board recorded (at most about a second of lines before the cut).
    """
    from host_tools.printer import JobError, LineRefused, end_job, hold_job, read_job, stream_job
    from host_tools.protocol import BoardError, ProtocolError, ProtocolTimeout

    try:
        lines = read_job(file)
    except (JobError, OSError) as e:
        die(str(e))
    if not lines:
        die(f"{file} has no G-code lines")
    bar = _JobProgress(len(lines), as_json)
    client = _client(port, 2.0)
    again = f"`hearth print --resume {file} -p {port}`"

    def cleanup(how: Any) -> Any:
        # Ctrl-C again must not stop the clean-up halfway
        import signal

        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        client._fresh = True  # a half-sent frame may sit on the board's line
        try:
            return how()
        except ProtocolError as e:
            return f"could not reach the board to finish ({e}); its dead-man turns the heater off within 10 s"
        finally:
            signal.signal(signal.SIGINT, old)

    def fail(msg: str, code: int, what_next: str | None) -> NoReturn:
        bar.stop()
        if as_json:
            emit({"error": msg, "board": what_next}, True)
        else:
            click.secho(f"error: {msg}", fg="red", err=True)
            if what_next:
                click.echo(what_next, err=True)
        sys.exit(code)

    try:
        res = stream_job(client, lines, material, job_id=job_id, resume=resume, progress=bar.update)
    except KeyboardInterrupt:
        bar.stop()
        held = cleanup(lambda: hold_job(client))
        if isinstance(held, dict):
            msg = (f"interrupted: job {held['job']} held on the board after line {held['done']}/{len(lines)}, "
                   f"heater off; {again} continues it, `hearth recovery discard -p {port}` drops it")
        elif held is None:
            msg = "interrupted: no job was running on the board; nothing to hold"
        else:
            msg = f"interrupted: {held}"
        if as_json:
            emit({"interrupted": True, "held": held if isinstance(held, dict) else None, "message": msg}, True)
        else:
            click.echo(msg, err=True)
        sys.exit(EXIT_FAIL)
    except LineRefused as e:
        fail(f"{file}: {e}", EXIT_FAIL, cleanup(lambda: end_job(client, keep_hot))
             + f"; fix line {e.line} of {file} and print again")
    except BoardError as e:
        nxt = cleanup(lambda: end_job(client, keep_hot))
        fail(f"board refused: {e.code} {e.message}", EXIT_FAIL, nxt)
    except JobError as e:
        nxt = cleanup(lambda: end_job(client, keep_hot))
        if "stopped" in str(e) or "ended by the board" in str(e):
            nxt = f"{nxt}; `hearth diag -p {port}` shows why the board stopped it"
        fail(str(e), EXIT_FAIL, nxt)
    except ProtocolTimeout as e:
        fail(f"lost the board mid-job: {e}", EXIT_USAGE,
             f"after a power cut or reset the board keeps the job (RECOVERY): {again} continues from the last "
             f"line it recorded; `hearth recovery show -p {port}` says which")
    except ProtocolError as e:
        fail(str(e), EXIT_USAGE, f"if the board lost power mid-job, {again} continues it")
    finally:
        bar.stop()
        client.ser.close()  # _client opened the port; the client does not own it
    if as_json:
        emit(res, True)
    else:
        h = res["haccp"]
        lo, hi = h.get("min_c"), h.get("max_c")
        rng = "--" if lo is None or hi is None else f"{lo:.1f}..{hi:.1f} C"
        click.echo(f"job {res['job']}: {res['done']}/{res['lines']} lines done"
                   + (f" (resumed at line {res['resumed_at']})" if res["resumed_at"] else "")
                   + f"; nozzle {rng}; danger zone {res['danger_zone_s']} s")


class _JobProgress:
    """Print progress on stderr: a bar with percentage and ETA on a terminal, a line
    every ~10 s otherwise (logs), nothing with --json."""

    def __init__(self, total: int, quiet: bool) -> None:
        from rich.console import Console

        self.total, self.quiet = total, quiet
        self.console = Console(stderr=True)
        self.bar: Any = None
        self.task: Any = None
        self.t0: float | None = None
        self.d0 = 0
        self.last = 0.0

    def _text(self, j: dict[str, Any]) -> str:
        t, tgt = j.get("temp"), j.get("target")
        return (f"nozzle {'--' if t is None else f'{t:.1f}'} C -> {'off' if tgt is None else f'{tgt:.1f} C'}, "
                f"danger zone {j.get('danger_zone_s', 0)} s")

    def update(self, j: dict[str, Any]) -> None:
        if self.quiet:
            return
        done = int(j.get("done") or 0)
        now = time.monotonic()
        if self.t0 is None:
            self.t0, self.d0 = now, done
        if self.console.is_terminal:
            if self.bar is None:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TaskProgressColumn,
                    TextColumn,
                    TimeRemainingColumn,
                )

                self.bar = Progress(TextColumn("job"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                                    TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                    console=self.console, transient=False)
                self.bar.start()
                self.task = self.bar.add_task("job", total=self.total, completed=done, info="")
            self.bar.update(self.task, completed=done, info=self._text(j))
            return
        if now - self.last < 10 and done < self.total:
            return
        self.last = now
        rate = (done - self.d0) / (now - self.t0) if now > self.t0 else 0
        eta = f"{(self.total - done) / rate:.0f} s" if rate > 0 else "--"
        click.echo(f"  line {done}/{self.total} ({100 * done // self.total}%), ETA {eta}; {self._text(j)}", err=True)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@diag.command("heater-test")
@_port
@click.option("--setpoint", type=float, default=32.0, show_default=True, help="Step target, C.")
@click.option("--seconds", type=float, default=120.0, show_default=True, help="How long to record (real time).")
@click.option("--interval", type=float, default=0.5, show_default=True, help="Seconds between samples.")
@click.option("--out", default="heater-test", show_default=True, help="Output path without extension: OUT.csv, OUT.png.")
@yes_option
@_json
def diag_heater_test(port: str, setpoint: float, seconds: float, interval: float, out: str, yes: bool,
                     as_json: bool) -> None:
    """Heater step response: heat to SETPOINT, record, turn off; save a CSV and a PNG plot.

    THE NOZZLE HEATS: it asks first (--yes: do not ask). A step response is judged
    from ambient: it warns when the nozzle starts warmer than the board's model
    ambient (printer.model_ambient_c) by more than a few degrees."""
    from host_tools.printer import AMBIENT_BAND_C, JobError, heater_test, plot, step_metrics, write_csv
    from host_tools.protocol import BoardError, ProtocolError

    confirm("heater-test", f"THE NOZZLE HEATS to {setpoint:g} C", yes)
    client = _client(port, 2.0)
    warning = None
    try:
        h = client.hello()
        if h.get("role") != "printer":
            die(f"{port} is a {h.get('role')} board, not a printer toolhead")
        t0 = (client.status().get("role") or {}).get("temp")
        amb = client.request("config_get", {"section": "printer"}).get("config", {}).get("model_ambient_c")
        if isinstance(t0, (int, float)) and isinstance(amb, (int, float)) and t0 > amb + AMBIENT_BAND_C:
            warning = (f"the nozzle starts at {t0:.1f} C, not at ambient (~{amb:.0f} C): rise and settle times are "
                       "not those of a cold start; let it cool (`hearth status`) and run again to compare")
            click.secho(f"warning: {warning}", fg="yellow", err=True)

        def progress(s: dict[str, Any]) -> None:
            if not as_json and int(s["t_s"] / interval) % max(1, int(5 / interval)) == 0:
                t, d = s["temp_c"], s["duty"]
                click.echo(f"  {s['t_s']:6.1f} s  {'--' if t is None else f'{t:.2f}'} C  "
                           f"duty {'--' if d is None else f'{d:.2f}'}", err=True)

        samples = heater_test(client, setpoint, seconds, interval, progress)
    except BoardError as e:
        click.secho(f"board refused: {e.code} {e.message}", fg="red", err=True)
        sys.exit(EXIT_FAIL)
    except JobError as e:
        die(str(e), EXIT_FAIL)
    except ProtocolError as e:
        die(str(e))
    finally:
        client.ser.close()  # _client opened the port; the client does not own it
    base = Path(out)
    base.parent.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(samples, base.with_suffix(".csv"))
    png_path = plot(samples, setpoint, base.with_suffix(".png"), f"{h.get('board')}: step to {setpoint:g} C")
    res = {"csv": str(csv_path), "png": str(png_path), **step_metrics(samples, setpoint)}
    if warning:
        res["warning"] = warning
    emit(res, as_json, "\n".join(f"{k:>12}: {v}" for k, v in res.items()))


if __name__ == "__main__":
    main()
