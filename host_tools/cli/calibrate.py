"""Calibration patterns: `hearth calibrate pa` (the pressure-advance K). The pattern and
its analysis live in host_tools/slicer/calibrate.py; the printing in slicer/stream.py."""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import click

from host_tools.cli.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, connect, emit, opt


@click.group("calibrate")
def calibrate_group() -> None:
    """Print calibration patterns and tune the board from them."""


@calibrate_group.command("pa")
@opt.port_for("Serial port of the toolhead (a virtual board's console too). Not needed with --out alone.")
@click.option("--motion", default=None, help="Motion controller port (Marlin/Klipper-style `ok`; a virtual "
              "gantry's too): the pattern moves the gantry.")
@click.option("--motion-baud", type=int, default=115200, show_default=True, help="Baud rate of the motion port.")
@click.option("--material", default="dark", show_default=True, help="Material preset the pattern prints with.")
@click.option("--profile", "profile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Printer profile (JSON, as for `hearth print --profile`).")
@click.option("--k-min", type=float, default=0.0, show_default=True, help="K of the first row (s).")
@click.option("--k-max", type=float, default=0.6, show_default=True, help="K of the last row at most (s).")
@click.option("--k-step", type=float, default=0.1, show_default=True, help="K added row by row (s).")
@click.option("--bench", "bench_ep", default=None, help="The virtual board's bench endpoint, to measure the bead "
              "(default: found from --port when it is a virtual board's console).")
@click.option("--write/--no-write", "write", default=None, help="Write the picked K to the board's config "
              "(printer.pressure_advance_s; the board reboots to apply it). Default: ask on a terminal, else no.")
@click.option("--out", "out_file", default=None, type=click.Path(dir_okay=False),
              help="Also save the pattern G-code here (alone, without --port: only save it, nothing prints).")
@opt.json
def pa_cmd(port: str | None, motion: str | None, motion_baud: int, material: str, profile: str | None,
           k_min: float, k_max: float, k_step: float, bench_ep: str | None, write: bool | None,
           out_file: str | None, as_json: bool) -> None:
    """Tune the pressure-advance K with a printed pattern.

    \b
    The pattern is one row per K (K_MIN, K_MIN + K_STEP, ... up to K_MAX): a slow line,
    a fast line and a slow line, with a dwell before each row. It prints through the
    normal slicer path (`hearth print --motion`), an M900 K before each row.
    On a virtual board the bench measures the bead along each row (deposited volume
    against what the path asked, per mm) and the K with the least median error is
    picked, between the steps by a parabola through the best row and its neighbours;
    it is then written to printer.pressure_advance_s (--write, or yes at the prompt).
    On a real board, read the printed rows as the command says at the end, then
    `hearth config set -p PORT printer.pressure_advance_s=K`.

    Exit codes: 0 done (K picked, or the pattern printed or saved), 1 the print or the
    measurement failed or the board refused the new K, 2 usage or connection error.
    """
    from host_tools.slicer import calibrate, cli_glue, job

    def fail(msg: str, code: int, **extra: Any) -> None:
        if as_json:
            emit({"error": msg, **extra}, True)
        else:
            click.secho(f"error: {msg}", fg="red", err=True)
        sys.exit(code)

    try:
        ks = calibrate.ks_of(k_min, k_max, k_step)
        mat = job.Material.preset(material)
        prof = cli_glue.load_profile(profile)
    except ValueError as e:
        fail(str(e), EXIT_USAGE)
        return
    text = calibrate.pattern(ks)
    read_how = calibrate.READ_HOW.format(k0=ks[0], k1=ks[-1], n=len(ks), step=k_step)
    if out_file:
        Path(out_file).write_text(text)
    if port is None:
        if not out_file:
            fail("give the toolhead's port (-p PORT) and --motion, or --out FILE to only save the pattern", EXIT_USAGE)
        emit({"pattern": out_file, "rows": [{"row": i + 1, "k": k} for i, k in enumerate(ks)], "read": read_how},
             as_json, f"pattern saved to {out_file} ({len(ks)} rows, K {ks[0]:g}..{ks[-1]:g} s); print it with "
             f"`hearth calibrate pa -p PORT --motion PORT`, or with your own sender plus an M900 K before each "
             f"`; row` comment.\n{read_how}")
        sys.exit(EXIT_OK)
    if motion is None:
        fail("the pattern moves the gantry: give the motion controller's port (--motion PORT; "
             "`hearth sim --gantry` has a virtual one)", EXIT_USAGE)
        return
    if bench_ep is None:
        from host_tools.ports import bench_for

        bench_ep = bench_for(port)
    path = out_file
    if path is None:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".gcode", prefix="hearth-pa-", delete=False)
        tmp.write(text)
        tmp.close()
        path = tmp.name
    try:
        res = _print_and_measure(port, motion, motion_baud, path, ks, mat, prof, bench_ep, as_json)
    finally:
        if out_file is None:
            Path(path).unlink(missing_ok=True)
    if "error" in res:
        fail(res["error"], res.pop("code", EXIT_FAIL), **{k: v for k, v in res.items() if k not in ("error", "code")})
    if res.get("measured") is None:
        # a real board: the technician reads the rows
        out = {"measured": False, "rows": [{"row": i + 1, "k": k} for i, k in enumerate(ks)], "read": read_how,
               "job": res["job"]}
        emit(out, as_json, f"pattern printed ({len(ks)} rows, K {ks[0]:g}..{ks[-1]:g} s).\n{read_how}")
        sys.exit(EXIT_OK)
    result: calibrate.Result = res["measured"]
    k = result.best
    out = {"measured": True, **result.as_dict(), "job": res["job"], "written": False}
    if not as_json:
        click.echo("row  K (s)  median |error|  within ±5 %")
        for i, r in enumerate(out["rows"]):
            click.echo(f"{i + 1:>3}  {r['k']:<5g}  {r['median_abs_err_pct']:>12.1f} %  {r['within_5pct']:>9.1f} %")
        click.echo(f"picked K = {k:g} s (least median error of the bead along each row)")
    if write is None:
        write = (not as_json and sys.stdin.isatty()
                 and click.confirm(f"write printer.pressure_advance_s={k:g} to the board (it reboots)?", default=True))
    if write:
        problem = _write_k(port, k)
        if problem:
            out["write_error"] = problem
            if as_json:
                emit(out, True)
            else:
                click.secho(f"error: the board kept its K: {problem}", fg="red", err=True)
            sys.exit(EXIT_FAIL)
        out["written"] = True
        if not as_json:
            click.echo(f"written: printer.pressure_advance_s={k:g} (the board rebooted and reports it)")
    elif not as_json:
        click.echo(f"not written: `hearth config set -p {port} printer.pressure_advance_s={k:g}` does it")
    if as_json:
        emit(out, True)
    sys.exit(EXIT_OK)


def _print_and_measure(port: str, motion: str, baud: int, path: str, ks: list[float], mat: Any, prof: Any,
                       bench_ep: str | None, as_json: bool) -> dict[str, Any]:
    """Print the pattern; with a bench, sample the bead meanwhile and analyse it.
    Returns {"job", "measured": Result | None} or {"error", "code"}."""
    from host_tools.printer import JobError, LineRefused, end_job
    from host_tools.protocol import BoardError, ProtocolError
    from host_tools.sim.bench import BenchClient, BenchError
    from host_tools.slicer import calibrate, cli_glue
    from host_tools.slicer.stream import MotionPort, MotionStalled, stream_plan
    from host_tools.transport.serialport import PortError, open_port

    bench = BenchClient(bench_ep, timeout=2.0) if bench_ep else None
    n_hist = 0
    if bench is not None:
        try:
            bench.call(op="extrusion")
            n_hist = len(bench.call(op="gantry", arg="history")["history"])
        except BenchError as e:
            # a bench without a bead or a gantry: print it for the technician to read
            if not as_json:
                click.echo(f"note: the bench cannot measure this print ({e}); read the rows instead", err=True)
            bench = None
    try:
        mport = MotionPort(open_port(motion, baud=baud, timeout=0.02))
    except PortError as e:
        return {"error": f"motion port: {e}", "code": EXIT_USAGE}
    client = connect(port)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        assert bench is not None
        while not stop.is_set():
            try:
                d = bench.call(op="extrusion")
                samples.append((float(d["t_s"]), float(d["deposited_mm3"])))
            except BenchError:
                pass
            time.sleep(0.004)

    th = threading.Thread(target=sample, daemon=True) if bench is not None else None
    try:
        try:
            cfg = client.request("config_get", {"section": "printer"}).get("config") or {}
        except (BoardError, ProtocolError):
            cfg = {}
        mat, prof = cli_glue.limits_from_config(cfg, mat, prof)
        plan = calibrate.build(path, ks, mat, prof)
        if th is not None:
            th.start()
        try:
            res = stream_plan(client, plan, mport, every=60)
        except (MotionStalled, LineRefused, JobError, BoardError) as e:
            try:
                end_job(client, False)
            except ProtocolError:
                pass
            return {"error": f"the pattern did not print: {e}", "code": EXIT_FAIL}
        except ProtocolError as e:
            return {"error": f"lost the toolhead mid-pattern: {e}", "code": EXIT_USAGE}
    finally:
        stop.set()
        if th is not None:
            th.join()
        client.close()
        mport.ser.close()
    if bench is None:
        return {"job": res["job"], "measured": None}
    try:
        hist = bench.call(op="gantry", arg="history")["history"][n_hist:]
        return {"job": res["job"], "measured": calibrate.analyse(plan, ks, hist, samples)}
    except (BenchError, ValueError) as e:
        return {"error": f"the pattern printed but the bead could not be measured: {e}", "code": EXIT_FAIL,
                "job": res["job"]}


def _write_k(port: str, k: float) -> str | None:
    """printer.pressure_advance_s=k on the board (validated, pushed, rebooted). None when
    the board came back reporting the new config, else what went wrong."""
    from host_tools.cli.common import wait_back
    from host_tools.config_host import ConfigError, fetch, merge, push, validate
    from host_tools.protocol import BoardError, ProtocolError

    client = connect(port)
    try:
        g = fetch(client)
        new = merge(g.get("stored"), [("printer", "pressure_advance_s", round(k, 3))])
        problems = validate(new, g.get("schema", {}))
        if problems:
            return "; ".join(problems)
        res = push(client, new, reboot=True)
    except (BoardError, ConfigError, ProtocolError) as e:
        return str(e)
    finally:
        client.ser.close()
    if wait_back(port, res.get("hash")) is None:
        return f"the board saved config {res.get('hash')} but did not come back reporting it within 20 s"
    return None


COMMANDS = [calibrate_group]
