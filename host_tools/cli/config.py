"""`hearth config show|get|set|validate|push|pull|diff|schema`: a board's config against
the schema the board itself reports. The checking and merging live in
host_tools/config_host.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from host_tools.cli.common import EXIT_FAIL, EXIT_OK, connect, die, emit, opt, wait_back


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
@opt.port
@opt.json
@opt.timeout
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
@opt.port
@click.argument("key")
@opt.json
@opt.timeout
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
@opt.port
@click.argument("assignments", nargs=-1, required=True)
@click.option("--no-reboot", is_flag=True, help="Save only; the board applies it at its next reset.")
@opt.json
@opt.timeout
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
@opt.port_for("Take the schema from this board.")
@click.option("--schema", "schema_file", default=None, type=click.Path(dir_okay=False),
              help="A schema file (the \"schema\" of `hearth config show --json`).")
@opt.json
@opt.timeout
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
@opt.port
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--no-reboot", is_flag=True, help="Save only; the board applies it at its next reset.")
@opt.json
@opt.timeout
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
@opt.port
@click.option("--out", "-o", default=None, help="Write to this file (default: stdout).")
@click.option("--effective", is_flag=True, help="Every key with its running value, defaults included.")
@opt.timeout
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
@opt.port
@click.argument("file", type=click.Path(dir_okay=False))
@opt.json
@opt.timeout
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
@opt.port
@click.option("--out", "-o", default=None, help="Write to this file (default: stdout).")
@opt.timeout
def config_schema(port: str, out: str | None, timeout: float) -> None:
    """The board's config schema as JSON (for `hearth config validate --schema`)."""
    g = _board_cfg(port, timeout)
    text = json.dumps(g.get("schema", {}), indent=1) + "\n"
    if out:
        Path(out).write_text(text)
    else:
        click.echo(text, nl=False)


COMMANDS = [config_group]
