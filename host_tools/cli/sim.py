"""The virtual board: `hearth sim` runs one, `hearth bench` drives its lab bench
(supply, faults, probes, plant knobs)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from host_tools.boards import board_format
from host_tools.cli.common import die, emit, opt


@click.command()
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
                   "folder, so fault and power-fail tests can run from another machine. Give 127.0.0.1 "
                   "unless the bench must be reachable from elsewhere: it has no authentication.")
@click.option("--gantry", is_flag=True, help="A virtual gantry beside the board: a motion port (Marlin-style `ok`) "
              "that moves at the planned speed in the board's world time, for `hearth print --motion` "
              "(endpoint `gantry:`; `hearth bench ENDPOINT gantry [state|history|silent]`).")
def sim(board: str, state_dir: str | None, baud: int | None, speed: float, heap: str | None,
        flash_mb: str | None, flash_timing: str, image_file: str | None, frozen: bool | None,
        runtime_dir: str | None, bench_ep: str | None, gantry: bool) -> None:
    """Run a virtual board until interrupted.

    The board is as faithful to the hardware as we can make it: the ESP32-faithful
    interpreter (32-bit, single float, the stock heap), the console link of the board
    file (UART bridge with its latency timer, or USB-CDC), floating inputs without a
    pull, flash timing and the module's flash size with the board's partition table.

    Prints one `name: value` line per endpoint (console first, then bench, then mavlink
    for latch boards), then serves them until SIGINT or SIGTERM.
    """
    from host_tools.boards import ROOT, BoardError
    from host_tools.sim.relay import VirtualBoard, run_forever

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
                          frozen=board_format(board) == "frozen" if frozen is None else frozen, bench=bench_ep,
                          gantry=gantry)
    except BoardError as e:
        die(str(e))
    if image_file:
        from host_tools.deploy.image import ImageError, install_sim_image

        try:
            install_sim_image(Path(image_file), vb.state, vb.board)
        except ImageError as e:
            die(str(e))
    from host_tools.ports import SimRecorder
    from host_tools.sim.bench import BenchError

    try:
        run_forever(vb, out=SimRecorder(vb, sys.stdout))
    except BenchError as e:
        die(str(e))


@click.command()
@click.argument("endpoint")
@click.argument("what", type=click.Choice(["power", "fault", "state", "set", "log", "gantry", "extrusion"]))
@click.argument("args", nargs=-1)
@opt.json
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
      hearth bench EP extrusion             the bead (printer boards): deposited and
                     piston volume (mm3), nozzle flow, air left by a retract, world time
      hearth bench EP gantry [state|history|silent]   the virtual gantry (`hearth sim
                     --gantry`): where it is, every move it made, or make its motion
                     port go silent (a hung motion controller)

    \b
    Fault names:
      printer boards: thermistor_open, thermistor_short, heater_open,
                      heater_stuck_on, draught, clog, thermistor2_open (a second
                      heater's thermistor, where the board file declares one)
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
    elif what == "gantry":
        req["arg"] = args[0] if args else "state"
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


COMMANDS = [sim, bench]
