"""Watching a board work: `hearth print` (stream a G-code job with progress and live
temperature) and `hearth monitor` (live telemetry, logged and plotted). The job and the
sampling live in host_tools/printer.py and host_tools/monitor.py."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from host_tools.cli.common import EXIT_FAIL, EXIT_USAGE, connect, die, emit, opt


# ---- print --------------------------------------------------------------------------------
@click.command("print")
@opt.port_for("Serial port of the toolhead (a virtual board's console too); `auto`: the one board there is. "
              "Not needed with --check.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--material", default="dark", show_default=True,
              help="Material preset on the board (dark, milk, white, dough, puree); sets the temperatures.")
@click.option("--check", is_flag=True, help="Print the plan for FILE (what each line becomes, changed temperature "
              "lines, planned duration, material) and exit; nothing heats or moves. Exit 0 printable, 1 refused.")
@click.option("--slicer-temps", type=click.Choice(["refuse", "preset"]), default="preset", show_default=True,
              help="A slicer temperature line outside the material's limits: refuse the file, or use the preset.")
@click.option("--profile", "profile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Printer profile (JSON: accel_mm_s2, max_xy_mm_s, e_max_rate_mm_s, ...; docs/protocol.md).")
@click.option("--motion", default=None, help="Motion controller port (Marlin/Klipper-style `ok` protocol; a "
              "virtual gantry's too): XYZ lines go there, in lock-step with the toolhead's.")
@click.option("--motion-baud", type=int, default=115200, show_default=True, help="Baud rate of the motion port.")
@click.option("--continue", "cont", is_flag=True, help="Go on with a slicer job its own pause line (M0, M600...) "
              "paused on the board: FILE must be the job's file.")
@click.option("--job-id", type=int, default=None, help="Job id (default: from the clock).")
@click.option("--resume", is_flag=True, help="Resume the job the board holds in RECOVERY, from its next line "
              "(FILE must be the job's own file). A slicer job: the gantry is taken back to where that line's "
              "move starts (it must have kept its position), the body heater's setpoint put back, the nozzle "
              "waited for.")
@click.option("--keep-hot", is_flag=True, help="On an error, end the job but leave the heater at its setpoint.")
@opt.json
def print_cmd(port: str | None, file: str, material: str, check: bool, slicer_temps: str, profile: str | None,
              motion: str | None, motion_baud: int, cont: bool, job_id: int | None, resume: bool, keep_hot: bool,
              as_json: bool) -> None:
    """Stream a G-code job FILE to a printer toolhead, with progress and live temperature.

    \b
    FILE is a slicer file (Cura, PrusaSlicer, ...) or a toolhead job (toolhead G-code
    only). Each slicer G-code is acted on, passed to motion, ignored with a note, or
    refused with its line (docs/protocol.md, "Slicer files"): --check shows the plan.
    Any error or refusal ends the job on the board (heater off unless --keep-hot).
    Ctrl-C holds the job on the board, heater off: `--resume` continues it,
    `hearth recovery discard` drops it. After a power cut, `--resume` continues from
    the last line the board recorded (at most about a second of lines before the cut).
    """
    from host_tools.printer import JobError, LineRefused, end_job, hold_job, read_job, stream_job
    from host_tools.protocol import BoardError, ProtocolError, ProtocolTimeout
    from host_tools.slicer import cli_glue

    if check:
        sys.exit(cli_glue.check(file, material, slicer_temps, profile, as_json, echo=click.echo))
    if port is None:
        die("give the toolhead's port (-p PORT), or --check to see the plan without a board")
    if motion is not None or cont or not cli_glue.is_toolhead_job(file):
        sys.exit(cli_glue.print_slicer(port, file, material, slicer_temps, profile, motion, motion_baud, job_id,
                                       resume, keep_hot, as_json, cont))
    try:
        lines = read_job(file)
    except (JobError, OSError) as e:
        die(str(e))
    if not lines:
        die(f"{file} has no G-code lines")
    bar = _JobProgress(len(lines), as_json)
    client = connect(port)
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
        client.ser.close()
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




# ---- monitor ------------------------------------------------------------------------------
def _table(row: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title=f"hearth monitor  t={row.get('t_s', 0):.1f} s", show_header=False, expand=False)
    t.add_column("what", style="bold")
    t.add_column("value")
    for k, v in row.items():
        if k == "t_s":
            continue
        style = "red" if (k == "state" and v in ("FAULT", "POWERFAIL")) or (k == "power_ok" and v is False) else ""
        t.add_row(k, f"[{style}]{v}[/{style}]" if style else str(v))
    return t


@click.command("monitor")
@opt.port_for("Board to watch (`auto`: the one board there is).")
@click.option("--csv", "csv_path", default=None, help="Log samples to this CSV file.")
@click.option("--jsonl", "jsonl_path", default=None, help="Log samples (and any !tel/!evt lines) to this JSONL file.")
@click.option("--plot", "plot_path", default=None, help="When done, draw the logged samples into this PNG.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--interval", type=float, default=0.5, show_default=True, help="Seconds between samples.")
@click.option("--replay", "replay", default=None, type=click.Path(exists=True, dir_okay=False),
              help="No board: plot an existing CSV/JSONL log (with --plot).")
def monitor_cmd(port: str | None, csv_path: str | None, jsonl_path: str | None, plot_path: str | None,
                duration: float | None, interval: float, replay: str | None) -> None:
    """Live telemetry: state, temperatures, setpoints, outputs, switches, supply; logged and plotted."""
    from host_tools.monitor import Logger, plot, read_log, samples
    from host_tools.protocol import ProtocolError

    if replay:
        if not plot_path:
            die("--replay needs --plot FILE.png")
        rows = read_log(replay)
        if not rows:
            die(f"{replay} has no samples", EXIT_FAIL)
        click.echo(f"wrote {plot(rows, plot_path, Path(replay).name)} ({len(rows)} samples)")
        return
    if port is None:
        die("monitor needs --port PORT (or --port auto)")
    if interval <= 0:
        die("--interval must be positive")
    log = Logger(csv_path, jsonl_path)
    client = connect(port)
    client.on_event = lambda ev: log.event(getattr(ev, "kind", "?"), getattr(ev, "data", None))
    rows: list[dict[str, Any]] = []
    title = port
    try:
        h = client.request("hello", None, timeout=2.0)
        title = f"{h.get('board')} on {port}"
        from rich.console import Console

        console = Console()
        if console.is_terminal:
            from rich.live import Live

            with Live(console=console, auto_refresh=False) as live:
                for row in samples(client, interval, duration):
                    rows.append(row)
                    log.write(row)
                    live.update(_table(row), refresh=True)
        else:
            for row in samples(client, interval, duration):
                rows.append(row)
                log.write(row)
                click.echo("  ".join(f"{k}={v}" for k, v in row.items()))
    except KeyboardInterrupt:
        pass
    except ProtocolError as e:
        log.close()
        client.ser.close()
        die(str(e))
    finally:
        log.close()
        client.ser.close()
    click.echo(f"{len(rows)} samples" + (f", CSV {csv_path}" if csv_path else "")
               + (f", JSONL {jsonl_path}" if jsonl_path else ""), err=True)
    if plot_path and rows:
        src = read_log(csv_path) if csv_path else read_log(jsonl_path) if jsonl_path else rows
        click.echo(f"wrote {plot(src, plot_path, title)}", err=True)


COMMANDS = [print_cmd, monitor_cmd]
