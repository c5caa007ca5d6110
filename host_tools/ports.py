"""Finding boards, the one place: USB serial ports by VID:PID, virtual boards by their
runtime records.

`hearth sim` records each running virtual board in the runtime folder (record_sim:
`$HEARTH_RUNTIME/sims` or `/tmp/hearth-UID/sims/<pid>.json`, removed on exit); a pty is
not a USB device, so pyserial's list_ports never shows it. A record whose process or pty
is gone is stale: list_virtual deletes it.

Remote boards (a board farm: ser2net or a labgrid exporter on other machines) come from
a farm file (`--farm FILE` or HEARTH_FARM), TOML:

    [[board]]
    name = "line1-s3-a"                       # how hearth prints it; `--port line1-s3-a` works
    url = "rfc2217://exporter1.lan:4001"      # any URL the port opener takes
    board = "printer-s3"                      # the board file (like a virtual board's)
    tags = { line = "1", bay = "a" }          # `--tag line=1`; `board=...` is always a tag

and from a labgrid coordinator (`--coordinator HOST:PORT` or LG_COORDINATOR): its places,
`labgrid:PLACE` as a port, acquired around each job (host_tools/labgrid.py).

`--port auto` resolves to the one board there is: a USB port whose VID:PID is a bridge
ESP32 boards carry, a running virtual board, a farm board or a labgrid place. It refuses to guess between
two. `hearth flash --all` takes every such board (`--tag K=V` narrows them).
"""

from __future__ import annotations

import atexit
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: VID:PID -> the USB bridge it suggests
BRIDGES: dict[tuple[int, int], str] = {
    (0x10C4, 0xEA60): "CP210x",
    (0x1A86, 0x7523): "CH340",
    (0x1A86, 0x55D4): "CH9102",  # shows as /dev/ttyACM*
    (0x0403, 0x6001): "FTDI FT232R",
    (0x303A, 0x1001): "ESP32-C3/C6 USB-Serial/JTAG",
    (0x303A, 0x4001): "ESP32-S2/S3 native USB (MicroPython)",
}
#: vendors whose other products are still likely ESP32 boards
VENDORS = {0x10C4: "Silicon Labs", 0x1A86: "WCH", 0x0403: "FTDI", 0x303A: "Espressif"}


class PortError(Exception):
    """No board, more than one for `auto`, or a port that cannot be opened: the message
    names it and says what to do next."""


@dataclass
class PortInfo:
    device: str
    kind: str  # "usb", "virtual", "remote" (a farm file's), "labgrid" (a place) or "other"
    vid: int | None = None
    pid: int | None = None
    bridge: str | None = None
    description: str = ""
    serial_number: str | None = None
    board: str | None = None  # virtual boards know theirs
    bench: str | None = None  # a virtual board's bench endpoint
    pid_of_sim: int | None = None
    hello: dict[str, Any] | None = field(default=None)
    probe_error: str | None = None
    name: str | None = None  # a farm board's name
    tags: dict[str, str] = field(default_factory=dict)
    held_by: str | None = None  # a labgrid place's holder (host/user)

    @property
    def likely_board(self) -> bool:
        return self.kind in ("virtual", "remote", "labgrid") or self.bridge is not None

    @property
    def label(self) -> str:
        """How the board prints: a farm board by its name and URL, a place by its name, others by device."""
        if self.kind == "labgrid":
            return f"{self.name} (labgrid place)"
        return f"{self.name} ({self.device})" if self.name else self.device

    def matches(self, tags: dict[str, str]) -> bool:
        """Every KEY=VALUE in `tags` holds (`board` is the board file's name, for every kind)."""
        mine = {**self.tags, **({"board": self.board} if self.board else {})}
        return all(mine.get(k) == v for k, v in tags.items())

    @property
    def vid_pid(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None and self.pid is not None else ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["vid_pid"] = self.vid_pid
        d["likely_board"] = self.likely_board
        return d


def bridge_name(vid: int | None, pid: int | None) -> str | None:
    if vid is None:
        return None
    name = BRIDGES.get((vid, pid or 0))
    if name:
        return name
    if vid in VENDORS:
        return f"{VENDORS[vid]} (unknown product)"
    return None


def list_usb() -> list[PortInfo]:
    try:
        from serial.tools import list_ports
    except ImportError:  # pragma: no cover - pyserial is a dependency
        return []
    out: list[PortInfo] = []
    for p in sorted(list_ports.comports(), key=lambda p: p.device):
        vid, pid = p.vid, p.pid
        out.append(PortInfo(device=p.device, kind="usb" if vid is not None else "other", vid=vid, pid=pid,
                            bridge=bridge_name(vid, pid), description=p.description or "",
                            serial_number=p.serial_number))
    return out


# ---- virtual boards: their runtime records -------------------------------------------------
def runtime_dir() -> Path:
    """Where running virtual boards are recorded (HEARTH_RUNTIME keeps sets of boards apart)."""
    d = os.environ.get("HEARTH_RUNTIME") or os.path.join(tempfile.gettempdir(), f"hearth-{os.getuid()}")
    p = Path(d) / "sims"
    p.mkdir(parents=True, exist_ok=True)
    return p


def record_sim(board: str, console: str, state: str, bench: str | None = None) -> Path:
    """Called by `hearth sim` once its console exists: lets `auto` and `--all` find it."""
    f = runtime_dir() / f"{os.getpid()}.json"
    f.write_text(json.dumps({"pid": os.getpid(), "board": board, "console": console, "state": state,
                             "bench": bench}))
    return f


def pid_alive(pid: int) -> bool:
    """Is process `pid` still there (a running `hearth sim` registration)?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SimRecorder:
    """Stands in for `hearth sim`'s stdout: passes the endpoint lines through and, once
    the console line is out, records the board (record_sim) so `auto` and `--all` find it.
    The record is removed when the sim exits (or found stale by its dead pid)."""

    def __init__(self, vb: Any, stream: Any) -> None:
        self.vb, self.stream = vb, stream
        self.path: Path | None = None

    def write(self, s: str) -> int:
        n = self.stream.write(s)
        if self.path is None and self.vb.console_path:
            self.path = record_sim(self.vb.board_name, self.vb.console_path, str(self.vb.state),
                                   self.vb.bench_path)
            atexit.register(self._remove)
        return n

    def flush(self) -> None:
        self.stream.flush()

    def _remove(self) -> None:
        if self.path is not None:
            try:
                self.path.unlink()
            except OSError:
                pass


def list_virtual() -> list[PortInfo]:
    out: list[PortInfo] = []
    for f in sorted(runtime_dir().glob("*.json")):
        try:
            d = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        console = str(d.get("console", ""))
        pid = int(d.get("pid", 0) or 0)
        if not console or not os.path.exists(console) or not pid_alive(pid):
            try:  # a stale record (the sim died without cleaning up): it never comes back
                f.unlink()
            except OSError:
                pass
            continue
        bench = d.get("bench")
        state = d.get("state")
        if not bench and state and (Path(state) / "bench.sock").exists():
            bench = str(Path(state) / "bench.sock")
        out.append(PortInfo(device=console, kind="virtual", board=d.get("board"), bench=bench,
                            description=f"hearth sim (pid {pid})", pid_of_sim=pid))
    return out


# ---- remote boards: a farm file ----------------------------------------------------------
FARM_ENV = "HEARTH_FARM"


def parse_tags(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`--tag board=printer-s3 --tag line=1` -> {"board": "printer-s3", "line": "1"}."""
    out: dict[str, str] = {}
    for it in items:
        k, eq, v = it.partition("=")
        if not eq or not k.strip() or not v.strip():
            raise PortError(f"--tag {it!r}: write KEY=VALUE, e.g. --tag board=printer-s3")
        out[k.strip()] = v.strip()
    return out


def load_farm(path: str | os.PathLike[str]) -> list[PortInfo]:
    """The boards of a farm file (see the module's docstring); a bad file is refused whole."""
    import tomllib

    from host_tools.transport.serialport import normalize

    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except OSError as e:
        raise PortError(f"farm file {p}: {e.strerror or e}; pass --farm FILE or set {FARM_ENV}") from e
    except tomllib.TOMLDecodeError as e:
        raise PortError(f"farm file {p} is not valid TOML: {e}") from e
    boards = data.get("board", [])
    if not isinstance(boards, list):
        raise PortError(f"farm file {p}: write one [[board]] table per board")
    out: list[PortInfo] = []
    names: set[str] = set()
    for i, b in enumerate(boards, 1):
        where = f"farm file {p}, board {i}"
        if not isinstance(b, dict) or not isinstance(b.get("name"), str) or not isinstance(b.get("url"), str):
            raise PortError(f"{where}: needs name = \"...\" and url = \"rfc2217://HOST:PORT\" (or socket://)")
        if b["name"] in names:
            raise PortError(f"{where}: the name {b['name']!r} is used twice")
        names.add(b["name"])
        if "://" not in b["url"]:
            raise PortError(f"{where} ({b['name']}): url {b['url']!r} is not a URL (rfc2217://HOST:PORT or socket://HOST:PORT)")
        normalize(b["url"])  # an unknown scheme is refused here, before any job starts
        tags = b.get("tags", {})
        if isinstance(tags, list):
            tags = parse_tags(tags)
        if not isinstance(tags, dict):
            raise PortError(f"{where} ({b['name']}): tags is a table, e.g. tags = {{ line = \"1\" }}")
        board = b.get("board")
        if board is not None and not isinstance(board, str):
            raise PortError(f"{where} ({b['name']}): board is a board file's name, e.g. \"printer-s3\"")
        out.append(PortInfo(device=b["url"], kind="remote", board=board, name=b["name"],
                            tags={str(k): str(v) for k, v in tags.items()}, description=f"farm {p.name}"))
    return out


def list_places() -> list[PortInfo]:
    """labgrid places: from the coordinator LG_COORDINATOR names (none without one)."""
    from host_tools import labgrid

    out = []
    for pl in labgrid.places():
        tags = dict(pl.tags)
        board = tags.pop("board", None)
        out.append(PortInfo(device=labgrid.PREFIX + pl.name, kind="labgrid", board=board, name=pl.name, tags=tags,
                            held_by=pl.acquired, description=pl.comment or "labgrid place"))
    return out


def list_remote(places: bool = True) -> list[PortInfo]:
    """Remote boards: the farm file HEARTH_FARM names and (unless not `places`) the
    places of the labgrid coordinator LG_COORDINATOR names (none without either)."""
    f = os.environ.get(FARM_ENV)
    return (load_farm(f) if f else []) + (list_places() if places else [])


def label(port: str) -> str:
    """How `port` prints: a farm board's or a held place's name with its URL; anything
    else as given."""
    from host_tools import labgrid

    held = labgrid.label(port)
    if held:
        return held
    for p in list_remote():
        if p.device == port:
            return p.label
    return port


def list_all() -> list[PortInfo]:
    return list_usb() + list_virtual() + list_remote()


def candidates() -> list[PortInfo]:
    """Ports that are probably a board: known USB bridges and running virtual boards."""
    return [p for p in list_all() if p.likely_board]


def is_virtual(port: str) -> bool:
    """Is `port` a running virtual board's console?"""
    return any(p.device == port for p in list_virtual())


def resolve(port: str | None) -> str:
    """`auto` -> the one board there is; a farm board's name -> its URL; a labgrid place's
    name -> `labgrid:PLACE` (acquired by the caller: host_tools.labgrid.Hold); anything
    else is returned as given."""
    if port is None or port != "auto":
        if not port:
            raise PortError("no port given: pass --port PORT or --port auto (list them with `hearth ports`)")
        if port.startswith("labgrid:"):
            name = port[len("labgrid:"):]
            if not any(p.name == name for p in list_places()):
                from host_tools import labgrid

                raise PortError(f"{port}: no such place on the labgrid coordinator "
                                f"{labgrid.coordinator() or '(none named: --coordinator HOST:PORT)'}; "
                                "`hearth ports` lists them")
            return port
        if "://" not in port and not port.startswith("/"):
            for p in list_remote():
                if p.name == port:
                    return p.device
        return port
    found = candidates()
    if len(found) == 1:
        return found[0].device
    if not found:
        raise PortError("--port auto found no board: plug one in (a CP210x/CH34x/FTDI/Espressif USB port), "
                        f"start `hearth sim --board NAME`, name a farm file ({FARM_ENV}) or a labgrid "
                        "coordinator (LG_COORDINATOR); "
                        "`hearth ports` lists what there is")
    names = ", ".join(f"{p.label} ({p.board or p.bridge})" for p in found)
    raise PortError(f"--port auto will not guess between {len(found)} boards: {names}; pass --port with one of them")


def bench_for(console: str) -> str | None:
    """The bench endpoint of a running virtual board, from its console path."""
    for p in list_virtual():
        if p.device == console:
            return p.bench
    return None


def probe(info: PortInfo, timeout: float = 0.5) -> PortInfo:
    """Ask the port for `hello` (one short try); fills info.hello or info.probe_error."""
    from host_tools.protocol import BoardClient, ProtocolError
    from host_tools.transport.serialport import open_port

    try:
        ser = open_port(info.device)
    except PortError as e:
        info.probe_error = str(e)
        return info
    client = BoardClient(ser)
    try:
        info.hello = client.request("hello", None, timeout=timeout, retries=1)
    except ProtocolError as e:
        info.probe_error = str(e)
    finally:
        client.ser.close()
    return info
