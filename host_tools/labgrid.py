"""labgrid places as boards: listed, selected by tag, acquired around a job, released after.

hearth talks to a labgrid coordinator through labgrid's own command line client,
`labgrid-client`, run as a subprocess, never by importing labgrid: labgrid's pip install
pulls in `pyserial-labgrid`, which replaces the `serial` module of the environment it
goes into, and hearth's port opener is built on pyserial's. So labgrid lives in a venv
of its own (`make labgrid`: .venv-labgrid; or `pipx install labgrid`) and hearth finds
its client through HEARTH_LABGRID_CLIENT, then `labgrid-client` on PATH, then this
checkout's .venv-labgrid.

The coordinator: `--coordinator HOST:PORT` or LG_COORDINATOR (labgrid's own variable).
Without one, hearth asks no coordinator anything.

A place is a board when it matches a `NetworkSerialPort` (an exporter's `RawSerialPort`
or `USBSerialPort`, served by the ser2net the exporter starts); its tags are the board's
tags, and its `board` tag names the board file. `--port PLACE` (or `labgrid:PLACE`),
`--port auto` and `flash --all --tag K=V` take places. For the job, a place is acquired
(so no one else writes to the board), the exporter's ser2net port is read from the
place (`labgrid-client show`), the job runs on `rfc2217://HOST:PORT`, and the place is
released after: on success, on error, on Ctrl-C and on SIGTERM. A place this user
already holds (a line's script acquired it) is used and left held. A place someone else
holds is refused at once with one message: hearth never waits for it.

labgrid-client has no machine-readable output for places; hearth reads its `-v places`
and `show` text (tags, who holds it, and the resource's parameters, which `show` prints
as a Python literal). Tested against labgrid 26.0.x (tests/e2e/test_labgrid.py).
"""

from __future__ import annotations

import ast
import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_tools.ports import PortError

COORDINATOR_ENV = "LG_COORDINATOR"
CLIENT_ENV = "HEARTH_LABGRID_CLIENT"
TIMEOUT_ENV = "HEARTH_LABGRID_TIMEOUT"
#: how a place is written as a port: `--port labgrid:PLACE` (a bare place name works too)
PREFIX = "labgrid:"
LOCAL_VENV = Path(__file__).resolve().parent.parent / ".venv-labgrid"
#: labgrid-client variables that would change what a command does to which place
#: (LG_ENV makes `acquire` take the places of an environment file): not passed on
_CLIENT_VARS_DROPPED = ("LG_ENV", "LG_PLACE", "PLACE", "LG_STATE", "STATE", "LG_INITIAL_STATE", "LG_TOKEN")


@dataclass
class Place:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    acquired: str | None = None  # "host/user" of the holder
    comment: str = ""
    matches: list[str] = field(default_factory=list)  # EXPORTER/GROUP/CLS[/NAME] patterns

    @property
    def has_serial_port(self) -> bool:
        from fnmatch import fnmatchcase

        return any(fnmatchcase("NetworkSerialPort", m.split(" -> ")[0].split("/")[2])
                   for m in self.matches if m.count("/") >= 2)


def coordinator() -> str | None:
    """The coordinator's HOST:PORT, or None: then there are no places."""
    return os.environ.get(COORDINATOR_ENV) or None


def timeout() -> float:
    """Seconds one labgrid-client command may take (HEARTH_LABGRID_TIMEOUT, default 15)."""
    try:
        return float(os.environ.get(TIMEOUT_ENV, "15"))
    except ValueError:
        return 15.0


def client_path() -> str:
    exe = os.environ.get(CLIENT_ENV)
    if exe:
        if not os.access(exe, os.X_OK):
            raise PortError(f"{CLIENT_ENV}={exe}: not an executable labgrid-client")
        return exe
    exe = shutil.which("labgrid-client")
    if exe:
        return exe
    local = LOCAL_VENV / "bin" / "labgrid-client"
    if local.exists():
        return str(local)
    raise PortError(f"a labgrid coordinator is named ({COORDINATOR_ENV} or --coordinator) but labgrid-client is "
                    f"not found: install labgrid in a venv of its own (`make labgrid`, or `pipx install labgrid`) "
                    f"and put labgrid-client on PATH or set {CLIENT_ENV}")


def me() -> str:
    """Who labgrid says we are: host/user, as labgrid-client computes it."""
    return (f"{os.environ.get('LG_HOSTNAME') or socket.gethostname()}/"
            f"{os.environ.get('LG_USERNAME') or getpass.getuser()}")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """`labgrid-client -x COORDINATOR ARGS...`, within timeout(). Its own session: a
    Ctrl-C at the terminal interrupts hearth, which then releases what it holds, and does
    not kill a release half-way."""
    addr = coordinator()
    if addr is None:
        raise PortError(f"no labgrid coordinator: pass --coordinator HOST:PORT or set {COORDINATOR_ENV}")
    env = {k: v for k, v in os.environ.items() if k not in _CLIENT_VARS_DROPPED}
    argv = [client_path(), "-x", addr, *args]
    try:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             start_new_session=True)
    except OSError as e:
        raise PortError(f"cannot run labgrid-client: {e}") from e
    try:
        out, err = p.communicate(timeout=timeout())
    except subprocess.TimeoutExpired as e:
        p.kill()
        p.communicate()
        raise PortError(f"labgrid coordinator {addr}: no answer within {timeout():g} s "
                        f"(labgrid-client {' '.join(args)}); is it running, and is {addr} right?") from e
    except BaseException:
        # Ctrl-C or SIGTERM: let the client finish what it asked the coordinator (an
        # acquire half-done is worse than a second's wait), then go on stopping
        try:
            p.communicate(timeout=timeout())
        except BaseException:
            p.kill()
        raise
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def _error_of(r: subprocess.CompletedProcess[str]) -> str:
    """labgrid-client's own error line (`labgrid-client: Error: ...`, `Server error: ...`)."""
    lines = [ln.strip() for ln in (r.stderr + "\n" + r.stdout).splitlines() if ln.strip()]
    for ln in lines:  # gRPC's reason (refused, unreachable) comes before labgrid's summary
        if "coordinator is unavailable: " in ln:
            return "cannot connect: " + ln.split("coordinator is unavailable: ", 1)[1]
    for ln in reversed(lines):
        m = re.search(r"(?:labgrid-client: |Server error: )(?:Error: )?(.*)", ln)
        if m:
            return m.group(1)
    return lines[-1] if lines else f"labgrid-client exited {r.returncode}"


def _checked(*args: str) -> str:
    r = run(*args)
    if r.returncode != 0:
        raise PortError(f"labgrid coordinator {coordinator()}: {_error_of(r)}")
    return r.stdout


# ---- listing -----------------------------------------------------------------------------
def parse_places(text: str) -> list[Place]:
    """The places of `labgrid-client -v places`."""
    out: list[Place] = []
    section = ""
    for ln in text.splitlines():
        m = re.match(r"Place '(.*)':$", ln)
        if m:
            out.append(Place(m.group(1)))
            continue
        if not out or not ln.startswith("  "):
            continue
        if ln.startswith("    "):
            if section == "matches":
                out[-1].matches.append(ln.strip())
            continue
        key, _, val = ln.strip().partition(": ")
        section = key.rstrip(":")
        if key == "tags":
            for kv in val.split(", "):
                k, eq, v = kv.partition("=")
                if eq:
                    out[-1].tags[k] = v
        elif key == "acquired":
            out[-1].acquired = None if val in ("", "None") else val
        elif key == "comment":
            out[-1].comment = val
    return out


_cache: dict[str, list[Place]] = {}


def places(fresh: bool = False) -> list[Place]:
    """Every place on the coordinator (asked once per run unless `fresh`)."""
    addr = coordinator()
    if addr is None:
        return []
    if fresh or addr not in _cache:
        _cache[addr] = parse_places(_checked("-v", "places"))
    return _cache[addr]


def serial_ports(text: str) -> list[dict[str, Any]]:
    """The NetworkSerialPort resources in `labgrid-client -p PLACE show` or `-v resources`
    output: each {'path', 'params', 'acquired' (the place), ...}. Both print a header line
    naming the resource's path, then the resource as a Python literal, indented deeper."""
    out: list[dict[str, Any]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"( *)(?:Acquired resource|Matching resource|Resource) '.*' \((.*)\):$", lines[i])
        i += 1
        if not m:
            continue
        deeper = len(m.group(1)) + 1
        block = []
        while i < len(lines) and len(lines[i]) - len(lines[i].lstrip(" ")) >= deeper + 1:
            block.append(lines[i])
            i += 1
        try:
            res = ast.literal_eval("\n".join(block).strip())
        except (ValueError, SyntaxError):
            continue
        if isinstance(res, dict) and res.get("cls") == "NetworkSerialPort":
            out.append({**res, "path": m.group(2).replace("[/", "/").rstrip("]")})
    return out


# ---- holding places for a job ------------------------------------------------------------
_labels: dict[str, str] = {}  # URL -> "PLACE (labgrid URL)", for the places this run holds
_labels_lock = threading.Lock()


def label(url: str) -> str | None:
    """How a URL this run got from a place prints: by the place's name."""
    return _labels.get(url)


def _messages(r: subprocess.CompletedProcess[str]) -> list[str]:
    """labgrid-client's error messages, one per place: `labgrid-client: Error: MSG`, or
    for several `labgrid-client: Multiple errors occurred during ...:` then `- MSG` lines."""
    out = []
    for ln in r.stderr.splitlines():
        ln = ln.strip()
        if ln.startswith("- "):
            out.append(ln[2:])
            continue
        m = re.match(r"(?:labgrid-client: |Server error: )(?:Error: )?(.*)", ln)
        if m and not m.group(1).startswith("Multiple errors occurred"):
            out.append(m.group(1))
    return out or [_error_of(r)]


def _refusal(msg: str) -> tuple[str | None, str]:
    """(the place, what to tell) for one of labgrid-client's acquire errors."""
    m = re.search(r"Place (\S+) is already acquired by (\S+)\. ", msg + " ")
    if m:
        name, holder = m.groups()
        return name, (f"labgrid place {name} is held by {holder}: it is not free for this job; wait until "
                      f"{holder.split('/')[-1]} releases it (`labgrid-client -p {name} release`), "
                      "or pick other boards (--tag)")
    m = re.search(r"place (\S+?)[.:]? ", msg + " ", re.IGNORECASE)
    return (m.group(1) if m else None), f"labgrid: cannot acquire: {msg}"


class Hold:
    """The places of one job, acquired on entry (all or none), their serial ports' URLs
    the value; released on exit, whatever happened. SIGTERM, while held, exits the
    way an error does (so the places are released).

    All the places go to one labgrid-client run (for several, an environment file naming
    them as RemotePlaces: `labgrid-client -c ENV acquire`), not one run each: each run is a Python
    start of about 0.5 s of CPU, and eight at once on a small machine cost seconds."""

    def __init__(self, names: list[str]) -> None:
        self.names = list(dict.fromkeys(names))
        self.ours: list[str] = []  # acquired by this Hold: released by it
        self.urls: dict[str, str] = {}
        self._lock = threading.Lock()
        self._old_term: Any = None

    @staticmethod
    def _with_env(what: str, names: list[str]) -> subprocess.CompletedProcess[str]:
        import json
        import tempfile

        if len(names) == 1:  # `-p PLACE` spares loading an environment (about 0.5 s)
            return run("-p", names[0], what)

        env = {"targets": {f"place{i}": {"resources": {"RemotePlace": {"name": n}}} for i, n in enumerate(names)}}
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="hearth-labgrid-") as f:
            f.write(json.dumps(env))  # JSON is YAML: no quoting rules to get wrong for a place's name
            f.flush()
            return run("-c", f.name, what)

    def _acquire(self) -> None:
        r = self._with_env("acquire", self.names)
        got = re.findall(r"^acquired place (.+)$", r.stdout, re.MULTILINE)
        with self._lock:
            self.ours += [n for n in got if n in self.names and n not in self.ours]
        if r.returncode == 0:
            return
        refused: list[tuple[str | None, str]] = []
        for msg in _messages(r):
            if re.fullmatch(r"You have already acquired place (\S+)\.", msg):
                continue  # held by this user on this host already (a line's script acquired it): used, left held
            refused.append(_refusal(msg))
        if refused:
            (_, first), rest = refused[0], [n or "?" for n, _ in refused[1:]]
            more = f" (and {len(rest)} more place(s) refused: {', '.join(rest)})" if rest else ""
            raise PortError(f"{first}{more}; nothing was done")

    def _urls(self) -> dict[str, str]:
        """The rfc2217:// URL of each place's serial port, once its exporter started ser2net
        for it (the port number appears a moment after the acquire): one `-v resources`
        a try for all the places."""
        end = time.monotonic() + timeout()
        while True:
            urls: dict[str, str] = {}
            for sp in serial_ports(_checked("-v", "resources", "--acquired")):
                name, p = sp.get("acquired"), sp.get("params", {})
                if name not in self.names or name in urls:
                    continue
                if p.get("extra", {}).get("proxy_required"):
                    raise PortError(f"labgrid place {name}: its exporter is isolated (reached only through an SSH "
                                    "proxy), which hearth does not do; use `labgrid-client forward` or an exporter "
                                    "the line can reach")
                if p.get("port"):
                    urls[name] = f"rfc2217://{p['host']}:{p['port']}"
            if len(urls) == len(self.names):
                return urls
            if time.monotonic() > end:
                missing = ", ".join(n for n in self.names if n not in urls)
                raise PortError(f"labgrid place(s) {missing}: acquired, but the exporter gave no serial port within "
                                f"{timeout():g} s (is the exporter running, and ser2net installed there?)")
            time.sleep(0.2)

    def __enter__(self) -> dict[str, str]:
        known = {p.name: p for p in places()}
        for n in self.names:
            if n in known and not known[n].has_serial_port:
                raise PortError(f"labgrid place {n} has no serial port: add one with `labgrid-client -p {n} "
                                "add-match EXPORTER/GROUP/NetworkSerialPort` (an exported RawSerialPort or "
                                "USBSerialPort)")
        mine_before = {n for n in self.names if n in known and known[n].acquired == me()}
        if threading.current_thread() is threading.main_thread():
            self._old_term = signal.signal(signal.SIGTERM, _term)
        try:
            self._acquire()
            self.urls = self._urls()
        except BaseException as e:
            if not isinstance(e, PortError):  # interrupted: what did the acquire take before it stopped?
                try:
                    now = {p.name: p.acquired for p in places(fresh=True)}
                    with self._lock:
                        self.ours += [n for n in self.names if now.get(n) == me() and n not in mine_before
                                      and n not in self.ours]
                except PortError:
                    pass
            self.release()
            raise
        with _labels_lock:
            for n, u in self.urls.items():
                _labels[u] = f"{n} (labgrid {u})"
        return dict(self.urls)

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def release(self) -> None:
        """Give back what this Hold acquired (each once); a failure is said on stderr."""
        with self._lock:
            ours, self.ours = self.ours, []
        try:
            if ours:
                r = self._with_env("release", ours)
                if r.returncode != 0:
                    for msg in _messages(r):
                        print(f"warning: labgrid: not released: {msg}", file=sys.stderr)
        except PortError as e:
            print(f"warning: labgrid places {', '.join(ours)} not released: {e}", file=sys.stderr)
        finally:
            if self._old_term is not None:
                signal.signal(signal.SIGTERM, self._old_term)
                self._old_term = None


def _term(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)
