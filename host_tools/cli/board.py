"""The verbs that talk to one board: `hearth ports` (which boards there are), `hello`,
`status`, `estop`, `reset`, `call`, and `recovery show|resume|discard`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from host_tools.cli.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, die, emit, opt, session, wait_back


# ---- ports --------------------------------------------------------------------------------
@click.command("ports")
@click.option("--probe", is_flag=True, help="Ask each likely board for `hello` (short timeout).")
@click.option("--all", "show_all", is_flag=True, help="Also list (and probe) ports that are not a known ESP32 bridge.")
@click.option("--timeout", type=float, default=0.5, show_default=True, help="--probe: seconds to wait for hello.")
@opt.remote
@opt.tag
@opt.json
def ports_cmd(probe: bool, show_all: bool, timeout: float, tags: tuple[str, ...], as_json: bool) -> None:
    """Serial ports with VID:PID and the USB bridge they suggest, running virtual boards,
    the remote boards of a farm file (--farm FILE or $HEARTH_FARM) and the places of a
    labgrid coordinator (--coordinator HOST:PORT or $LG_COORDINATOR), with who holds them.

    \b
    Bridges: CP210x 10c4:ea60, CH340 1a86:7523, CH9102 1a86:55d4 (ttyACM), FTDI 0403:6001,
    ESP32-C3/C6 USB-Serial/JTAG 303a:1001, ESP32-S2/S3 MicroPython 303a:4001.
    """
    from host_tools.ports import PortError, list_all, parse_tags
    from host_tools.ports import probe as do_probe

    try:
        want = parse_tags(tags)
        found = [p for p in list_all() if (show_all or p.likely_board) and p.matches(want)]
    except PortError as e:
        die(str(e))
    if probe:
        for p in found:
            if p.kind == "labgrid":  # its port exists only while it is acquired: not for a listing
                p.probe_error = f"not probed: a labgrid place (`hearth hello --port {p.name}` acquires it)"
            else:
                do_probe(p, timeout)
    if as_json:
        emit([p.as_dict() for p in found], True)
        return
    if not found:
        click.echo("no boards found: plug one in, start `hearth sim --board NAME`, or name a farm file (--farm) "
                   "or a labgrid coordinator (--coordinator)"
                   + ("" if show_all else " (--all lists every serial port)"))
        return
    for p in found:
        what = p.board and f"{p.kind} {p.board}" or p.bridge or (p.kind if p.kind in ("remote", "labgrid")
                                                                  else "unknown device")
        line = f"{p.label:<22} {p.vid_pid:<10} {what}"
        if p.tags:
            line += "  " + " ".join(f"{k}={v}" for k, v in sorted(p.tags.items()))
        if p.kind == "labgrid":
            line += f"  (held by {p.held_by})" if p.held_by else "  (free)"
        elif p.description and p.kind not in ("virtual", "remote"):
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



# ---- talking to the app ------------------------------------------------------------------
def _request(port: str, cmd: str, args: dict[str, Any] | None, as_json: bool, timeout: float,
             human: Any = None) -> dict[str, Any]:
    """Send one command; print the answer (JSON, or `human(answer)` as text) and return it."""
    with session(port, as_json) as client:
        res = client.request(cmd, args, timeout=timeout)
    emit(res, as_json, human(res) if human is not None and not as_json else None)
    return res


@click.command()
@opt.port
@opt.json
@opt.timeout
def hello(port: str, as_json: bool, timeout: float) -> None:
    """Identity: firmware and protocol version, board, role, config hash, reset and recovery state.

    When the app does not answer, says what the board does instead: an incomplete
    firmware (an interrupted flash), a board file for another chip, or the app stopped
    at the REPL (`hearth reset` starts it again)."""
    from host_tools.humanize import hello_text

    _request(port, "hello", None, as_json, timeout, hello_text)


@click.command()
@opt.port
@opt.json
@opt.timeout
def status(port: str, as_json: bool, timeout: float) -> None:
    """Board state, uptime, supply, loop timing and the role's readings."""
    from host_tools.humanize import status_text

    _request(port, "status", None, as_json, timeout, status_text)


@click.command()
@opt.port
@opt.json
@opt.timeout
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


@click.command()
@opt.port
@opt.json
@click.option("--hard", is_flag=True, help="A chip reset (machine.reset(), or the EN pulse on RTS when the "
              "REPL does not answer) instead of a soft reset.")
@click.option("--timeout", type=float, default=20.0, show_default=True, help="Seconds to wait for the app to answer.")
def reset(port: str, as_json: bool, hard: bool, timeout: float) -> None:
    """Restart the board's app: after mpremote (which leaves it stopped at the REPL), a
    stuck board, or to apply what a reboot applies.

    A soft reset (default) interrupts the app (outputs safe), then runs boot.py and
    main.py as after power-on; an interrupted job or a held payload comes back in
    RECOVERY, as after any reset. Exit 0 once `hello` answers again."""
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


@click.command()
@opt.port
@opt.json
@opt.timeout
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
@click.group()
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
@opt.port
@opt.json
@opt.timeout
def recovery_show(port: str, as_json: bool, timeout: float) -> None:
    """The recovery record in words: what was interrupted, how, where, and what to do."""
    from host_tools.humanize import recovery_text
    from host_tools.protocol import BoardError

    with session(port, as_json) as client:
        try:
            h, detail = _recovery_state(client, timeout)
        except BoardError as e:  # it only reads: a refusal here is an error (exit 2), not a "no"
            die(str(e))
    emit({"board": h.get("board"), "role": h.get("role"), "state": h.get("state"), "recovery": h.get("recovery"),
          "detail": detail}, as_json, recovery_text(h, detail))


def _recovery_act(port: str, what: str, as_json: bool, timeout: float) -> None:
    with session(port, as_json) as client:
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
@opt.port
@opt.json
@opt.timeout
def recovery_resume(port: str, as_json: bool, timeout: float) -> None:
    """Resume what the board holds (checked on the board). A print job resumes with its
    file: `hearth print --resume FILE`; a latch must read locked."""
    _recovery_act(port, "resume", as_json, timeout)


@recovery.command("discard")
@opt.port
@opt.json
@opt.timeout
def recovery_discard(port: str, as_json: bool, timeout: float) -> None:
    """Drop the interrupted run: the board leaves RECOVERY for READY, outputs stay safe.
    Nothing to discard is not an error."""
    _recovery_act(port, "discard", as_json, timeout)


COMMANDS = [ports_cmd, hello, status, estop, reset, call, recovery]
