"""The technician's verbs (issue 6): `hearth ports`, `hearth diag` (the report and the
active-test framework), `hearth config ...`, `hearth monitor`.

Registered into cli.main by `register_tech(main)`; the logic lives in host_tools/ports.py,
diag.py, config_host.py and monitor.py. Exit codes as everywhere: 0 ok, 1 a check
failed, 2 usage or connection error.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def die(msg: str, code: int = EXIT_USAGE) -> NoReturn:
    click.secho(f"error: {msg}", fg="red", err=True)
    sys.exit(code)


def emit(obj: Any, as_json: bool, human: str | None = None) -> None:
    if as_json or human is None:
        click.echo(json.dumps(obj, indent=1, sort_keys=True))
    else:
        click.echo(human)


def resolve_port_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback for --port: `auto` becomes the one board there is."""
    if value is None:
        return None
    from host_tools.ports import PortError, resolve

    try:
        return resolve(value)
    except PortError as e:
        die(str(e))


port_option = click.option("--port", "-p", required=True, callback=resolve_port_callback,
                           help="Serial port of the board (a virtual board's console too); `auto`: the one board there is.")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
timeout_option = click.option("--timeout", type=float, default=2.0, show_default=True, help="Seconds to wait per try.")


def connect(port: str) -> Any:
    from host_tools.protocol import BoardClient
    from host_tools.transport.serialport import PortError, open_port

    try:
        return BoardClient(open_port(port), own=True)
    except PortError as e:
        die(str(e))


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


def confirm(name: str, hazard: str, yes: bool) -> None:
    """Before anything moves or heats: ask (default no), unless --yes. No terminal and
    no --yes: refuse (exit 2), nothing is done."""
    if yes:
        return
    if not sys.stdin.isatty():
        die(f"{name}: {hazard}. Not confirmed (no terminal): pass --yes to run it unattended")
    if not click.confirm(f"{name}: {hazard}. Go ahead?", default=False):
        die("not confirmed: nothing was done")


yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask before anything moves or heats (automation).")


# ---- ports --------------------------------------------------------------------------------
@click.command("ports")
@click.option("--probe", is_flag=True, help="Ask each likely board for `hello` (short timeout).")
@click.option("--all", "show_all", is_flag=True, help="Also list (and probe) ports that are not a known ESP32 bridge.")
@click.option("--timeout", type=float, default=0.5, show_default=True, help="--probe: seconds to wait for hello.")
@json_option
def ports_cmd(probe: bool, show_all: bool, timeout: float, as_json: bool) -> None:
    """Serial ports with VID:PID and the USB bridge they suggest, and running virtual boards.

    \b
    Bridges: CP210x 10c4:ea60, CH340 1a86:7523, CH9102 1a86:55d4 (ttyACM), FTDI 0403:6001,
    ESP32-C3/C6 USB-Serial/JTAG 303a:1001, ESP32-S2/S3 MicroPython 303a:4001.
    """
    from host_tools.ports import list_all
    from host_tools.ports import probe as do_probe

    found = [p for p in list_all() if show_all or p.likely_board]
    if probe:
        for p in found:
            do_probe(p, timeout)
    if as_json:
        emit([p.as_dict() for p in found], True)
        return
    if not found:
        click.echo("no boards found: plug one in or start `hearth sim --board NAME`"
                   + ("" if show_all else " (--all lists every serial port)"))
        return
    for p in found:
        what = p.board and f"virtual {p.board}" or p.bridge or "unknown device"
        line = f"{p.device:<22} {p.vid_pid:<10} {what}"
        if p.description and p.kind != "virtual":
            line += f"  ({p.description})"
        if p.bench:
            line += f"  bench: {p.bench}"
        if probe:
            if p.hello:
                h = p.hello
                line += f"\n{'':<22} hello: {h.get('board')} role {h.get('role')} fw {h.get('fw')} state {h.get('state')}"
            else:
                line += f"\n{'':<22} no hello: {p.probe_error}"
        click.echo(line)


# ---- diag ---------------------------------------------------------------------------------
@click.group("diag", invoke_without_command=True, no_args_is_help=True)
@click.option("--port", "-p", default=None, callback=resolve_port_callback,
              help="Board to report on (`auto`: the one board there is).")
@click.option("--config", "config_file", default=None, type=click.Path(dir_okay=False),
              help="The host's copy of the board's config: report whether the board's matches.")
@json_option
@timeout_option
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
@json_option
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
@click.option("--port", "-p", default=None, callback=resolve_port_callback, help="The board's console port.")
@click.option("--bench", default=None, help="A virtual board's bench endpoint (found from --port when it is a `hearth sim`).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before anything moves or heats (automation).")
@json_option
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


# ---- config -------------------------------------------------------------------------------
@click.group("config")
def config_group() -> None:
    """Show, get, set, validate, push, pull and diff a board's config against its schema.

    The board's schema (types, units, bounds, defaults, per-role sections) comes from the
    board itself. `set` and `push` are checked here first and again on the board; a bad
    value is refused naming the field and its range, and nothing is applied. A change is
    written atomically and applied by a reboot; `hello` then reports the new config hash.
    """


def _config_get(client: Any, timeout: float) -> dict[str, Any]:
    from host_tools.config_host import fetch
    from host_tools.protocol import BoardError, ProtocolError

    try:
        return fetch(client, timeout)
    except BoardError as e:
        if e.code == "UNKNOWN_CMD":
            die("the board's firmware has no config commands: update it with `hearth flash`")
        die(str(e))
    except ProtocolError as e:
        die(str(e))


def _board_cfg(port: str, timeout: float) -> dict[str, Any]:
    client = connect(port)
    try:
        return _config_get(client, timeout)
    finally:
        client.ser.close()


def _fail_problems(problems: list[str], as_json: bool, what: str) -> NoReturn:
    if as_json:
        emit({"ok": False, "problems": problems, "applied": False}, True)
    else:
        click.secho(f"{what}: {len(problems)} problem{'s' if len(problems) != 1 else ''}; nothing applied", fg="red", err=True)
        for p in problems:
            click.secho(f"  {p}", fg="red", err=True)
    sys.exit(EXIT_FAIL)


def _push(port: str, data: dict[str, Any], reboot: bool, timeout: float, as_json: bool, old_hash: str | None) -> None:
    from host_tools.config_host import push
    from host_tools.protocol import BoardError, ProtocolError

    client = connect(port)
    try:
        res = push(client, data, reboot=reboot, timeout=timeout)
    except BoardError as e:
        _fail_problems([f"the board refused it: {e.code} {e.message}"], as_json, "config push")
    except ProtocolError as e:
        die(str(e))
    finally:
        client.ser.close()
    out: dict[str, Any] = {"ok": True, "hash": res.get("hash"), "previous_hash": old_hash, "rebooted": reboot}
    if reboot:
        h = wait_back(port, res.get("hash"))
        if h is None:
            die(f"the board saved config {res.get('hash')} but did not come back reporting it within 20 s: "
                "check it with `hearth hello`", EXIT_FAIL)
        out["applied"] = True
        out["problems"] = h.get("problems")
        out["state"] = h.get("state")
        if h.get("state") == "RECOVERY" and not as_json:
            from host_tools.humanize import recovery_line

            click.echo(f"note: the board rebooted into RECOVERY: {recovery_line(h.get('recovery') or {}, h.get('role'))}"
                       f"; `hearth recovery show -p {port}` says more", err=True)
    else:
        out["applied"] = False
    emit(out, as_json, f"config {res.get('hash')} saved on the board"
         + (" and applied (rebooted; hello reports it)" if reboot else "; applied at the next reset"))


@config_group.command("show")
@port_option
@json_option
@timeout_option
def config_show(port: str, as_json: bool, timeout: float) -> None:
    """The running config with units, defaults and bounds (* = not the default)."""
    from host_tools.config_host import allowed

    g = _board_cfg(port, timeout)
    if as_json:
        emit(g, True)
        return
    lines = [f"config hash {g.get('hash')}" + ("" if g.get("stored_hash") == g.get("hash")
                                                else f" (stored file {g.get('stored_hash')}: applied at the next reset)")]
    schema, cfg = g.get("schema", {}), g.get("config", {})
    for sec in schema:
        lines.append(f"[{sec}]")
        for name, spec in schema[sec].items():
            v = cfg.get(sec, {}).get(name)
            mark = "*" if v != spec.get("default") else " "
            unit = f" {spec['unit']}" if spec.get("unit") else ""
            lines.append(f" {mark} {name:<24} {json.dumps(v) + unit:<16} default {json.dumps(spec.get('default'))}, "
                         f"{allowed(spec)}")
    click.echo("\n".join(lines))


@config_group.command("get")
@port_option
@click.argument("key")
@json_option
@timeout_option
def config_get(port: str, key: str, as_json: bool, timeout: float) -> None:
    """One value (SECTION.NAME) or a whole SECTION of the running config."""
    g = _board_cfg(port, timeout)
    cfg = g.get("config", {})
    if "." in key:
        sec, name = key.split(".", 1)
        if name not in cfg.get(sec, {}):
            die(f"no config key {key}; `hearth config show` lists them")
        emit({key: cfg[sec][name]}, as_json, json.dumps(cfg[sec][name]))
    else:
        if key not in cfg:
            die(f"no config section {key!r}; the board has: {', '.join(cfg)}")
        emit(cfg[key], True)


@config_group.command("set")
@port_option
@click.argument("assignments", nargs=-1, required=True)
@click.option("--no-reboot", is_flag=True, help="Save only; the board applies it at its next reset.")
@json_option
@timeout_option
def config_set(port: str, assignments: tuple[str, ...], no_reboot: bool, as_json: bool, timeout: float) -> None:
    """Change SECTION.NAME=VALUE ... (all or nothing), e.g. `latch.release_timeout_ms=2000`."""
    from host_tools.config_host import ConfigError, merge, parse_assignment, validate

    g = _board_cfg(port, timeout)
    schema = g.get("schema", {})
    try:
        sets = [parse_assignment(a, schema) for a in assignments]
    except ConfigError as e:
        die(str(e))
    new = merge(g.get("stored"), sets)
    problems = validate(new, schema)
    if problems:
        _fail_problems(problems, as_json, "config set")
    _push(port, new, not no_reboot, timeout, as_json, g.get("hash"))


@config_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--port", "-p", default=None, callback=resolve_port_callback, help="Take the schema from this board.")
@click.option("--schema", "schema_file", default=None, type=click.Path(dir_okay=False),
              help="A schema file (the \"schema\" of `hearth config show --json`).")
@json_option
@timeout_option
def config_validate(file: str, port: str | None, schema_file: str | None, as_json: bool, timeout: float) -> None:
    """Check FILE against the board's schema; exit 0 good, 1 problems (each named)."""
    from host_tools.config_host import ConfigError, load_file, validate

    if not port and not schema_file:
        die("validate needs the schema: --port P (from the board) or --schema FILE")
    try:
        data = load_file(file)
        if schema_file:
            s = load_file(schema_file)
            schema = s.get("schema", s) if isinstance(s, dict) else {}
        else:
            assert port is not None
            schema = _board_cfg(port, timeout).get("schema", {})
    except ConfigError as e:
        die(str(e))
    problems = validate(data, schema)
    if problems:
        _fail_problems(problems, as_json, f"{file}")
    emit({"ok": True, "problems": []}, as_json, f"{file}: valid")


@config_group.command("push")
@port_option
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--no-reboot", is_flag=True, help="Save only; the board applies it at its next reset.")
@json_option
@timeout_option
def config_push(port: str, file: str, no_reboot: bool, as_json: bool, timeout: float) -> None:
    """Replace the board's config with FILE (keys absent from FILE take their defaults)."""
    from host_tools.config_host import ConfigError, load_file, validate

    try:
        data = load_file(file)
    except ConfigError as e:
        die(str(e))
    g = _board_cfg(port, timeout)
    problems = validate(data, g.get("schema", {}))
    if problems:
        _fail_problems(problems, as_json, f"{file}")
    _push(port, data, not no_reboot, timeout, as_json, g.get("hash"))


@config_group.command("pull")
@port_option
@click.option("--out", "-o", default=None, help="Write to this file (default: stdout).")
@click.option("--effective", is_flag=True, help="Every key with its running value, defaults included.")
@timeout_option
def config_pull(port: str, out: str | None, effective: bool, timeout: float) -> None:
    """The board's stored config file (only what differs from the defaults), as JSON."""
    g = _board_cfg(port, timeout)
    data = g.get("config") if effective else (g.get("stored") or {})
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if out:
        Path(out).write_text(text)
        click.echo(f"wrote {out} (config hash {g.get('hash')})", err=True)
    else:
        click.echo(text, nl=False)


@config_group.command("diff")
@port_option
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
@timeout_option
def config_diff(port: str, file: str, as_json: bool, timeout: float) -> None:
    """Host FILE vs the board's config (values in force, defaults filled in). Exit 1 if they differ."""
    from host_tools.config_host import ConfigError, diff, load_file

    try:
        data = load_file(file)
    except ConfigError as e:
        die(str(e))
    if not isinstance(data, dict):
        die(f"{file}: not a JSON object of sections")
    g = _board_cfg(port, timeout)
    d = diff(data, g.get("stored") or {}, g.get("schema"))
    emit({"same": not d, "differences": d, "board_hash": g.get("hash")}, as_json,
         "same" if not d else "\n".join(f"{x['key']}: host {json.dumps(x['host'])}  board {json.dumps(x['board'])}"
                                       for x in d))
    sys.exit(EXIT_OK if not d else EXIT_FAIL)


@config_group.command("schema")
@port_option
@click.option("--out", "-o", default=None, help="Write to this file (default: stdout).")
@timeout_option
def config_schema(port: str, out: str | None, timeout: float) -> None:
    """The board's config schema as JSON (for `hearth config validate --schema`)."""
    g = _board_cfg(port, timeout)
    text = json.dumps(g.get("schema", {}), indent=1) + "\n"
    if out:
        Path(out).write_text(text)
    else:
        click.echo(text, nl=False)


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
@click.option("--port", "-p", default=None, callback=resolve_port_callback,
              help="Board to watch (`auto`: the one board there is).")
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


def register_tech(main: click.Group) -> None:
    for cmd in (ports_cmd, diag, config_group, monitor_cmd):
        main.add_command(cmd)
