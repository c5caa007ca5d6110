"""Opening a board's serial port, with errors that say what to do next.

The one opener every verb and module uses. A port is

* a local device (`/dev/ttyUSB0`, a `/dev/serial/by-id/...` link, a virtual board's pty);
* a pyserial URL: `rfc2217://host:port` (ser2net, labgrid's exporter, pyserial's
  server), `socket://host:port` (raw TCP), `loop://`, ...

What it adds to the URL handlers:

* `rfc2217://` gets `ign_set_control`: ser2net on a device whose modem lines it may not
  set (a pty, or `local`) never answers SET_CONTROL, and pyserial would wait for it and
  fail with "timeout while waiting for option 'control'" (labgrid does the same);
* `write_timeout` only where the handler takes it (rfc2217 raises NotImplementedError);
* `exclusive` only for local devices: a lock on a URL means nothing, and on a virtual
  board's pty a stale flock can outlive the board;
* a clear error for a scheme pyserial has no handler for, a refused port, an
  unreachable host, a negotiation that never finishes.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import serial

from host_tools.ports import PortError

__all__ = ["PortError", "display", "normalize", "open_port"]

#: pyserial's URL handlers (serial/urlhandler/protocol_*.py) that reach a board
SCHEMES = ("rfc2217", "socket", "loop", "spy", "alt", "hwgrep", "cp2110")
#: seconds an `rfc2217://` negotiation may take before the port counts as no board
RFC2217_TIMEOUT = 3


__all__ = ["PortError", "open_port"]


def is_url(port: str) -> bool:
    return "://" in port


def scheme(port: str) -> str:
    return port.split("://", 1)[0].lower() if is_url(port) else ""


def normalize(port: str) -> str:
    """The URL pyserial gets: `rfc2217://` with `ign_set_control` (and a negotiation
    timeout), other URLs and paths unchanged. Unknown schemes are refused."""
    if not port:
        raise PortError("no port given: pass --port PORT (list them with `hearth ports`)")
    if not is_url(port):
        return port
    s = scheme(port)
    if s not in SCHEMES:
        raise PortError(f"{port}: unknown port scheme {s!r}; use a device path (/dev/ttyUSB0), "
                        "rfc2217://HOST:PORT (ser2net, labgrid) or socket://HOST:PORT (raw TCP)")
    if s == "rfc2217":
        parts = urlsplit(port)
        q = parse_qsl(parts.query, keep_blank_values=True)
        keys = {k for k, _ in q}
        if "ign_set_control" not in keys:
            q.append(("ign_set_control", ""))
        if "timeout" not in keys:
            q.append(("timeout", str(RFC2217_TIMEOUT)))
        query = urlencode(q).replace("ign_set_control=", "ign_set_control")
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return port


def display(port: str) -> str:
    """How a port prints: the URL as given, without the options the opener adds."""
    if scheme(port) == "rfc2217":
        parts = urlsplit(port)
        q = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in ("ign_set_control", "timeout")]
        return urlunsplit((parts.scheme, parts.netloc, parts.path,
                           urlencode(q).replace("=&", "&").rstrip("="), parts.fragment))
    return port


def _host_port(port: str) -> str:
    return urlsplit(port).netloc or port


def open_port(port: str, baud: int = 115200, timeout: float = 0.1, write_timeout: float | None = None) -> Any:
    """An open pyserial port for a device path or URL (see the module's docstring)."""
    url = normalize(port)
    s_ = scheme(url)
    if not s_ and not os.path.exists(url):
        raise PortError(f"{port}: no such port. Is the board plugged in (or `hearth sim` running)? See `hearth ports`.")
    kw: dict[str, Any] = {"baudrate": baud, "timeout": timeout, "do_not_open": True}
    if not s_:
        # Exclusive: two programs on one port steal each other's bytes. Not on a virtual
        # board's pseudo-terminal: its lock (flock) can outlive the board when another
        # process still holds a descriptor of an earlier pty with the same number, and
        # would then lock out the new board's every client.
        kw["exclusive"] = not os.path.realpath(url).startswith("/dev/pts/")
    if write_timeout is not None and s_ != "rfc2217":
        kw["write_timeout"] = write_timeout
    try:
        s = serial.serial_for_url(url, **kw)
        s.open()
    except (serial.SerialException, OSError, ValueError, NotImplementedError) as e:
        raise _explain(port, e) from e
    if s_ in ("rfc2217", "socket"):
        _nodelay(s)
    return s


def _nodelay(s: Any) -> None:
    """Send each small write at once: hearth's requests and the raw REPL are short
    request/answer exchanges, which Nagle's algorithm would hold for the last ACK."""
    sock = getattr(s, "_socket", None)
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def _explain(port: str, e: BaseException) -> PortError:
    msg = str(e)
    low = msg.lower()
    if is_url(port):
        where = _host_port(port)
        if isinstance(e, ConnectionRefusedError) or "refused" in low:
            return PortError(f"{display(port)}: connection refused: nothing listens on {where}; check the port "
                             "number and that ser2net (or the exporter) runs there")
        if "unreachable" in low or "no route" in low or "name or service" in low or "not known" in low:
            return PortError(f"{display(port)}: host unreachable ({msg}); check the host name and the network")
        if "does not seem to support rfc2217" in low or "not accept parameter" in low or "option" in low:
            return PortError(f"{display(port)}: {where} answered but not as an RFC 2217 server ({msg}); "
                             "is it a raw TCP port? then use socket://")
        if "timed out" in low or "timeout" in low:
            return PortError(f"{display(port)}: no answer from {where} ({msg}); is the host up?")
        if "busy" in low:
            return PortError(f"{display(port)} is busy: another client holds it")
        return PortError(f"cannot open {display(port)}: {msg}")
    if "busy" in low or "lock" in low or "Resource temporarily" in msg:
        return PortError(f"{port} is busy: another program (mpremote, a monitor, picocom) has it open")
    if "Permission" in msg:
        return PortError(f"{port}: permission denied; add yourself to the dialout group")
    return PortError(f"cannot open {port}: {msg}")

