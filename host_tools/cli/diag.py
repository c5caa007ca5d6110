"""`hearth diag`, all of it: the health report (`hearth diag --port P`), the active-test
framework (`diag tests`, `diag run NAME`), and the active tests that are their own
subcommand: `heater-test` (printer), `latch-cycle` and `mavlink` (the payload latch
over MAVLink). The checks live in host_tools/diag.py, the flight controller in
host_tools/flightcontroller.py, the heater test in host_tools/printer.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from host_tools.cli.common import EXIT_FAIL, EXIT_OK, board_refused, confirm, connect, die, emit, opt
from host_tools.flightcontroller import ACTIONS


@click.group("diag", invoke_without_command=True, no_args_is_help=True)
@opt.port_for("Board to report on (`auto`: the one board there is).")
@click.option("--config", "config_file", default=None, type=click.Path(dir_okay=False),
              help="The host's copy of the board's config: report whether the board's matches.")
@opt.json
@opt.timeout
@click.pass_context
def diag(ctx: click.Context, port: str | None, config_file: str | None, as_json: bool, timeout: float) -> None:
    """Diagnostics on a board (real or virtual).

    `hearth diag --port P` is the health report: identity, reset cause, uptime, state,
    recovery, fault log, each sensor with a plausibility verdict, supply, heap, loop
    timing, and PASS (exit 0) or FAIL (exit 1). The subcommands are active tests
    (`hearth diag tests` lists them) and tools.
    """
    if ctx.invoked_subcommand is not None:
        return
    if port is None:
        die("the report needs --port PORT (or --port auto); `hearth diag --help` lists the tests")
    from host_tools.diag import collect, evaluate, render
    from host_tools.protocol import ProtocolError, ProtocolTimeout

    host_cfg = None
    if config_file:
        from host_tools.config_host import ConfigError, load_file

        try:
            host_cfg = load_file(config_file)
        except ConfigError as e:
            die(str(e))
    client = connect(port)
    try:
        rep = collect(client, port, timeout)
        board_cfg = None
        if host_cfg is not None:
            try:
                board_cfg = client.request("config_get", {}, timeout=timeout).get("stored") or {}
            except ProtocolError as e:
                rep.add("identity", "config_match", "warn", None, f"cannot read the board's config: {e}")
                host_cfg = None
    except ProtocolTimeout as e:
        client.ser.close()
        _app_silent(port, e, as_json)
    except ProtocolError as e:
        die(f"{e}")
    finally:
        client.ser.close()
    evaluate(rep, host_cfg, board_cfg, config_file or "")
    emit(rep.as_dict(), as_json, _colour(render(rep)))
    sys.exit(EXIT_OK if rep.passed else EXIT_FAIL)


def _app_silent(port: str, e: Exception, as_json: bool) -> NoReturn:
    """The report when the app does not answer: FAIL with what the board does instead
    (an incomplete firmware, another chip's board file, the app stopped at the REPL)."""
    from host_tools.diag import Report, render
    from host_tools.transport.replstate import probe

    st = probe(port)
    if not st.at_repl:
        die(f"{e}")
    rep = Report(port)
    rep.add("identity", "firmware", "fail", st.problem, st.why)
    emit(rep.as_dict(), as_json, _colour(render(rep)))
    sys.exit(EXIT_FAIL)


def _colour(text: str) -> str:
    """diag's verdicts in colour (click drops the colour when the output is not a terminal)."""
    colours = {"FAIL": "red", "WARN": "yellow", "ok  ": "green", "PASS": "green"}
    out = []
    for line in text.splitlines():
        head = line[:6].strip()
        if line.startswith("  ") and line[2:6] in colours:
            line = "  " + click.style(line[2:6], fg=colours[line[2:6]], bold=line[2:6] != "ok  ") + line[6:]
        elif head.startswith(("PASS", "FAIL")):
            line = click.style(line, fg=colours[head[:4]], bold=True)
        out.append(line)
    return "\n".join(out)


@diag.command("tests")
@opt.json
def diag_tests(as_json: bool) -> None:
    """List the active tests (`hearth diag run NAME`)."""
    from host_tools.diag import REGISTRY

    rows = [{"name": t.name, "roles": list(t.roles), "hazard": t.hazard, "where": t.where, "summary": t.summary}
            for t in REGISTRY.values()]
    emit(rows, as_json, "\n".join(
        f"{r['name']:<12} {'/'.join(r['roles']):<14} {r['where']:<18} {r['summary']}"
        + (f"\n{'':<12} hazard: {r['hazard']}" if r["hazard"] else "") for r in rows))


@diag.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@opt.port_for("The board's console port.")
@click.option("--bench", default=None, help="A virtual board's bench endpoint (found from --port when it is a `hearth sim`).")
@opt.yes
@opt.json
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def diag_run(ctx: click.Context, name: str, port: str | None, bench: str | None, yes: bool, as_json: bool,
             extra: tuple[str, ...]) -> None:
    """Run active test NAME, after a confirmation when it moves or heats something.

    Tests that are their own `hearth diag` subcommand (heater-test, latch-cycle) get
    --port and EXTRA arguments passed through, e.g.
    `hearth diag run latch-cycle --yes -- --mavlink /dev/ttyUSB1 -n 3`.
    """
    from host_tools.diag import REGISTRY
    from host_tools.protocol import ProtocolError

    t = REGISTRY.get(name)
    if t is None:
        die(f"no active test {name!r}; there are: {', '.join(REGISTRY)}")
    if port is not None:
        client = connect(port)
        try:
            role = client.request("hello", None, timeout=2.0).get("role")
        except ProtocolError as e:
            die(str(e))
        finally:
            client.ser.close()
        if role not in t.roles:
            die(f"{name} is for {'/'.join(t.roles)} boards; {port} is a {role} board")
    if t.hazard:
        confirm(name, t.hazard, yes)
    if t.subcommand:
        parent = ctx.parent
        assert parent is not None
        assert isinstance(parent.command, click.Group)
        sub = parent.command.get_command(parent, t.subcommand)
        if sub is None:
            die(f"{name}: `hearth diag {t.subcommand}` is not installed")
        has = {o.name for o in sub.params}
        args = ([f"--port={port}"] if port and "port" in has else []) + list(extra)
        if as_json and "as_json" in has:
            args.append("--json")
        if t.hazard and "yes" in has:
            args.append("--yes")  # confirmed once, here
        sub.main(args=args, prog_name=f"hearth diag {t.subcommand}", standalone_mode=True)
        return
    assert t.run is not None
    if port is None:
        die(f"{name} needs --port")
    if bench is None:
        from host_tools.ports import bench_for

        bench = bench_for(port)
    try:
        ok, res = t.run(port, bench, list(extra))
    except ProtocolError as e:
        die(str(e))
    res = {"test": name, "result": "PASS" if ok else "FAIL", **res}
    emit(res, as_json, "\n".join(f"{k:>24}: {v}" for k, v in res.items()))
    sys.exit(EXIT_OK if ok else EXIT_FAIL)



# ---- the payload latch over MAVLink --------------------------------------------------------


_mav_port = click.option("--mavlink", "-m", "mav_port", required=True,
                         help="The latch's MAVLink serial (UART2 to the flight controller; a virtual board's "
                         "`mavlink:` endpoint).")
_mav_baud = click.option("--baud", type=int, default=57600, show_default=True, help="MAVLink baud rate.")
_mav_ids = [
    click.option("--sysid", type=int, default=1, show_default=True, help="System id we speak as (the vehicle's FC)."),
    click.option("--compid", type=int, default=158, show_default=True, help="The latch's component id."),
]


def _fc(port: str, baud: int, sysid: int, compid: int) -> Any:
    from host_tools.flightcontroller import FlightController, LatchLinkError

    try:
        return FlightController(port, baud=baud, sysid=sysid, compid=1, target_system=sysid, target_component=compid)
    except LatchLinkError as e:
        die(f"{e}. Check the port (`hearth ports`) and that nothing else holds it.")


def _await_latch(fc: Any, port: str, compid: int) -> Any:
    hb = fc.greet(compid)
    if hb is None:
        fc.close()
        die(f"no gripper HEARTBEAT on {port} within 5 s: check wiring (TX/RX crossed), baud and power", EXIT_FAIL)
    if hb.get_srcComponent() != compid:
        click.secho(f"note: the latch answers as component {hb.get_srcComponent()}, not {compid}", err=True)
    return hb


@diag.command("latch-cycle")
@_mav_port
@opt.port_for("The latch's console: checked first for a payload and the board state.")
@_mav_baud
@_mav_ids[0]
@_mav_ids[1]
@click.option("--cycles", "-n", type=int, default=10, show_default=True, help="Open/lock cycles to run.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for each motion.")
@click.option("--with-payload", is_flag=True, help="Run even with a payload in the latch (it will open).")
@opt.yes
@opt.json
def latch_cycle(mav_port: str, port: str | None, baud: int, sysid: int, compid: int, cycles: int, timeout: float,
                with_payload: bool, yes: bool, as_json: bool) -> None:
    """Run N verified open/lock cycles of a payload latch over MAVLink, with timings.

    Each cycle: arm, RELEASE (ACCEPTED only when the open switch confirms), GRAB
    (ACCEPTED only when the lock switch confirms). THE LATCH OPENS: it asks first
    (--yes: do not ask), and with --port it reads the latch first: a payload in the
    latch is refused unless --with-payload, a board in RECOVERY always (`hearth
    recovery show`). Without --port it cannot see a payload: --with-payload is then
    required. Exit 1 if any cycle failed, 2 if refused."""
    from host_tools.flightcontroller import STATES, run_cycles

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
    """Refuse (exit 2) what latch_cycle_refusal refuses."""
    from host_tools.flightcontroller import latch_cycle_refusal
    from host_tools.protocol import ProtocolError

    client = connect(port)
    try:
        why = latch_cycle_refusal(client, port, with_payload)
    except ProtocolError as e:
        die(f"cannot read the latch on {port}: {e}")
    finally:
        client.ser.close()
    if why:
        die(why)


@diag.command("mavlink")
@_mav_port
@_mav_baud
@_mav_ids[0]
@_mav_ids[1]
@click.argument("action", type=click.Choice(ACTIONS), default="watch")
@click.option("--seconds", type=float, default=5.0, show_default=True, help="How long to listen after the action.")
@opt.json
def diag_mavlink(mav_port: str, baud: int, sysid: int, compid: int, action: str, seconds: float, as_json: bool) -> None:
    """Play the flight controller (pymavlink) for a latch on the bench.

    Sends our HEARTBEAT at 1 Hz, optionally one command (arm, disarm, release, grab,
    hold), and prints what the latch says: its heartbeat state, COMMAND_ACKs and
    STATUSTEXTs. `watch` only listens."""
    fc = _fc(mav_port, baud, sysid, compid)
    try:
        _await_latch(fc, mav_port, compid)
        out = fc.exchange(action, seconds)
    finally:
        fc.close()
    if as_json:
        emit({"action": action, "messages": out}, True)
    else:
        for e in out:
            detail = {k: v for k, v in e.items() if k not in ("t_ms", "type")}
            click.echo(f"{e['t_ms']:>8.1f} ms  {e['type']:<12} {detail}")
    acks = [e for e in out if e["type"] == "COMMAND_ACK"]
    if action != "watch" and not any(a["result"] == "ACCEPTED" for a in acks):
        sys.exit(EXIT_FAIL)




@diag.command("heater-test")
@opt.port
@click.option("--setpoint", type=float, default=32.0, show_default=True, help="Step target, C.")
@click.option("--seconds", type=float, default=120.0, show_default=True, help="How long to record (real time).")
@click.option("--interval", type=float, default=0.5, show_default=True, help="Seconds between samples.")
@click.option("--out", default="heater-test", show_default=True, help="Output path without extension: OUT.csv, OUT.png.")
@opt.yes
@opt.json
def diag_heater_test(port: str, setpoint: float, seconds: float, interval: float, out: str, yes: bool,
                     as_json: bool) -> None:
    """Heater step response: heat to SETPOINT, record, turn off; save a CSV and a PNG plot.

    THE NOZZLE HEATS: it asks first (--yes: do not ask). A step response is judged
    from ambient: it warns when the nozzle starts warmer than the board's model
    ambient (printer.model_ambient_c) by more than a few degrees."""
    from host_tools.printer import JobError, heater_test, plot, step_metrics, warm_start, write_csv
    from host_tools.protocol import BoardError, ProtocolError

    confirm("heater-test", f"THE NOZZLE HEATS to {setpoint:g} C", yes)
    client = connect(port)
    try:
        h = client.hello()
        if h.get("role") != "printer":
            die(f"{port} is a {h.get('role')} board, not a printer toolhead")
        warning = warm_start(client)
        if warning:
            click.secho(f"warning: {warning}", fg="yellow", err=True)

        def progress(s: dict[str, Any]) -> None:
            if not as_json and int(s["t_s"] / interval) % max(1, int(5 / interval)) == 0:
                t, d = s["temp_c"], s["duty"]
                click.echo(f"  {s['t_s']:6.1f} s  {'--' if t is None else f'{t:.2f}'} C  "
                           f"duty {'--' if d is None else f'{d:.2f}'}", err=True)

        samples = heater_test(client, setpoint, seconds, interval, progress)
    except BoardError as e:
        board_refused(e, False)
    except JobError as e:
        die(str(e), EXIT_FAIL)
    except ProtocolError as e:
        die(str(e))
    finally:
        client.ser.close()
    base = Path(out)
    base.parent.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(samples, base.with_suffix(".csv"))
    png_path = plot(samples, setpoint, base.with_suffix(".png"), f"{h.get('board')}: step to {setpoint:g} C")
    res = {"csv": str(csv_path), "png": str(png_path), **step_metrics(samples, setpoint)}
    if warning:
        res["warning"] = warning
    emit(res, as_json, "\n".join(f"{k:>12}: {v}" for k, v in res.items()))


COMMANDS = [diag]
