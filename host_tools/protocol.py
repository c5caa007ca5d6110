"""Host side of the hearth console protocol (spec: docs/protocol.md).

Frames::

    host -> board   @<seq>:<cmd>[ <json-object>]*<crc8>\\n
    board -> host   =<seq>:ok <json>*<crc8>\\n | =<seq>:err <CODE> <message>*<crc8>\\n
    board -> host   !tel <json>*<crc8>\\n | !evt <json>*<crc8>\\n

``crc8`` is ``binascii.crc32`` of the bytes between the lead character and the last
``*``, as 8 lowercase hex digits. Everything else the board prints (REPL banners,
tracebacks, ``print`` debugging) is ignored.

This module never imports firmware code.
"""

from __future__ import annotations

import binascii
import json
import os
import re
import secrets
import select
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, Union

PROTOCOL_VERSION = 1
MAX_SEQ = 999_999_999
DEFAULT_BAUD = 115200
DEFAULT_MAX_LINE = 256
#: a board line longer than this is not protocol output (kept bounded on the host too)
MAX_RX_LINE = 64 * 1024

ERROR_CODES = (
    "BAD_FRAME", "BAD_CRC", "TOO_LONG", "UNKNOWN_CMD", "BAD_ARGS",
    "READ_ONLY", "STATE", "RANGE", "BUSY", "INTERNAL",
)
#: codes that mean "the frame did not arrive intact; nothing was done": resend as is
RESEND_CODES = ("BAD_CRC", "BAD_FRAME")

_HINTS = {
    "BAD_FRAME": "the frame arrived damaged; check the cable and baud rate, or update the host tools",
    "BAD_CRC": "line noise on the serial link; check the cable, the baud rate and the USB hub",
    "TOO_LONG": "the request is longer than the board's line limit; send smaller arguments",
    "UNKNOWN_CMD": "the firmware does not know this command; send `help`, or update the firmware "
                   "(`hearth flash`)",
    "BAD_ARGS": "check the command's arguments (send `help`, see docs/protocol.md)",
    "READ_ONLY": "commands that change the board must be sent framed; use the hearth tools",
    "STATE": "the board is not in a state that allows this; check `hearth diag`",
    "RANGE": "a value is outside the board's limits; check the board file and config",
    "BUSY": "the board is busy; wait and send the command again",
    "INTERNAL": "firmware bug; run `hearth diag` and report its output",
}

_CMD_RE = re.compile(rb"^[A-Za-z0-9_.\-]{1,32}$")
_SEQ_RE = re.compile(rb"^[1-9][0-9]{0,8}$")
_HEX8_RE = re.compile(rb"^[0-9a-f]{8}$")


# -- errors ---------------------------------------------------------------------------


class ProtocolError(Exception):
    """Base class of everything this module raises about the link or the board."""


class BoardError(ProtocolError):
    """The board answered ``err <code> <message>``."""

    def __init__(self, code: str, message: str, cmd: str | None = None) -> None:
        self.code = code
        self.message = message
        self.cmd = cmd
        what = f"board refused '{cmd}'" if cmd else "board error"
        hint = _HINTS.get(code)
        text = f"{what}: {code} {message}"
        super().__init__(f"{text} ({hint})" if hint else text)


class ProtocolTimeout(ProtocolError):
    """No answer after every retry."""


class FrameError(ValueError):
    """A line that claims to be a protocol line but is not a valid one."""


# -- frames ---------------------------------------------------------------------------


def crc_hex(data: bytes) -> bytes:
    """CRC-32 (zlib/binascii) of ``data`` as 8 lowercase hex digits."""
    return b"%08x" % (binascii.crc32(data) & 0xFFFFFFFF)


def encode_request(seq: int, cmd: str, args: dict[str, Any] | None = None) -> bytes:
    """The request line for ``cmd`` (with its trailing newline)."""
    if not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        raise ValueError(f"seq must be an int in 1..{MAX_SEQ}, got {seq!r}")
    name = cmd.encode("ascii", "replace")
    if not _CMD_RE.match(name):
        raise ValueError(f"bad command name {cmd!r}: 1-32 characters of A-Z a-z 0-9 _ . -")
    body = b"%d:%s" % (seq, name)
    if args is not None:
        if not isinstance(args, dict):
            raise ValueError(f"args must be a dict (a JSON object), got {type(args).__name__}")
        body += b" " + json.dumps(args, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()
    return b"@" + body + b"*" + crc_hex(body) + b"\n"


@dataclass(frozen=True)
class Reply:
    """A response line: ``ok`` with ``data``, or ``err`` with ``code`` and ``message``."""

    seq: int
    ok: bool
    data: Any = None
    code: str = ""
    message: str = ""
    raw: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True)
class Event:
    """An unsolicited ``!tel`` / ``!evt`` line."""

    kind: str
    data: Any
    raw: bytes = field(default=b"", repr=False, compare=False)


def parse_line(line: bytes, strict: bool = False) -> Reply | Event | None:
    """Parse one line from the board (with or without its ``\\r\\n``).

    Returns a :class:`Reply`, an :class:`Event`, or ``None`` for anything that is not a
    valid protocol line (REPL output, a damaged line). With ``strict=True`` a line that
    is not valid raises :class:`FrameError` saying why instead.
    """
    try:
        return _parse(line)
    except FrameError:
        if strict:
            raise
        return None


def _parse(line: bytes) -> Reply | Event:
    line = line.rstrip(b"\r\n")
    if not line or line[:1] not in (b"=", b"!"):
        raise FrameError(f"not a protocol line: {line[:40]!r}")
    star = line.rfind(b"*")
    if star < 1 or not _HEX8_RE.match(line[star + 1:]):
        raise FrameError(f"no *<crc8> at the end: {line[-20:]!r}")
    body = line[1:star]
    if crc_hex(body) != line[star + 1:]:
        raise FrameError(f"crc mismatch: {line[:40]!r}")
    try:
        if line[:1] == b"!":
            kind, _, payload = body.partition(b" ")
            if kind not in (b"tel", b"evt"):
                raise FrameError(f"unknown event kind {kind!r}")
            return Event(kind.decode(), json.loads(payload), raw=line)
        seqtext, colon, rest = body.partition(b":")
        if not colon or not (seqtext == b"0" or _SEQ_RE.match(seqtext)):
            raise FrameError(f"bad seq {seqtext[:12]!r}")
        seq = int(seqtext)
        if rest.startswith(b"ok "):
            return Reply(seq, True, json.loads(rest[3:]), raw=line)
        if rest.startswith(b"err "):
            code, _, message = rest[4:].decode("utf-8", "replace").partition(" ")
            if not code:
                raise FrameError("err without a code")
            return Reply(seq, False, None, code, message, raw=line)
        raise FrameError(f"neither ok nor err: {rest[:20]!r}")
    except (ValueError, UnicodeDecodeError) as e:
        if isinstance(e, FrameError):
            raise
        raise FrameError(f"bad JSON payload: {e}") from e


# -- transports -----------------------------------------------------------------------


class SerialLike(Protocol):
    """What BoardClient needs from a port: pyserial's Serial has all of it."""

    @property
    def timeout(self) -> float | None: ...

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def close(self) -> None: ...


class FdSerial:
    """A pyserial-like adapter over a pair of file descriptors (pipes, a pty, a socket).

    ``FdSerial(read_fd, write_fd)``: ``read`` waits at most ``timeout`` seconds.
    """

    def __init__(self, read_fd: int, write_fd: int, timeout: float | None = 0.05, name: str = "fd") -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.timeout = timeout
        self.name = name
        self._eof = False

    @property
    def in_waiting(self) -> int:
        r, _, _ = select.select([self.read_fd], [], [], 0)
        return 1 if r and not self._eof else 0

    def read(self, size: int = 1) -> bytes:
        if self._eof:
            if self.timeout:
                time.sleep(self.timeout)
            return b""
        r, _, _ = select.select([self.read_fd], [], [], self.timeout)
        if not r:
            return b""
        try:
            data = os.read(self.read_fd, max(1, size))
        except OSError:  # EIO: the other end of a pty went away
            data = b""
        if not data:
            self._eof = True
        return data

    def write(self, data: bytes, /) -> int:
        view = memoryview(data)
        while view:
            n = os.write(self.write_fd, view)
            view = view[n:]
        return len(data)

    def close(self) -> None:
        for fd in {self.read_fd, self.write_fd}:
            try:
                os.close(fd)
            except OSError:
                pass


def open_port(port: str, baudrate: int = DEFAULT_BAUD) -> SerialLike:
    """Open a serial port or pyserial URL (``/dev/ttyUSB0``, ``rfc2217://…``, ``socket://…``)
    through the one opener (host_tools/transport/serialport.py)."""
    from host_tools.transport.serialport import PortError
    from host_tools.transport.serialport import open_port as _open

    try:
        return _open(port, baudrate, timeout=0.05, write_timeout=5)
    except PortError as e:
        raise ProtocolError(
            f"{e}; check the cable and `hearth ports`, "
            "and close other programs using the port (mpremote, a terminal)"
        ) from e


# -- client ---------------------------------------------------------------------------

EventCallback = Callable[[Event], None]


class BoardClient:
    """Talks to the hearth app over its console.

    ``BoardClient(port)`` where ``port`` is an opened pyserial-like object or a port
    name / pyserial URL (opened at 115200 baud). A port it opened itself it closes; a
    port it was given only with ``own=True`` (the port is exclusive: one left open
    until garbage collection keeps every other tool out). ``on_event`` is called for every
    ``!tel``/``!evt`` line seen; the last ``event_backlog`` events are also kept for
    :meth:`events`.
    """

    def __init__(
        self,
        port: Union[str, SerialLike],
        *,
        baudrate: int = DEFAULT_BAUD,
        max_line: int = DEFAULT_MAX_LINE,
        on_event: EventCallback | None = None,
        event_backlog: int = 1000,
        seq: int | None = None,
        own: bool = False,
    ) -> None:
        if isinstance(port, str):
            self.port_name = port
            self.ser: SerialLike = open_port(port, baudrate)
            self._owns = True
        else:
            self.port_name = str(getattr(port, "name", None) or getattr(port, "port", None) or "the board")
            self.ser = port
            self._owns = own
        self.max_line = max_line
        self.on_event = on_event
        self._backlog: deque[Event] = deque(maxlen=event_backlog)
        self._rx = bytearray()
        self._discarding = False
        # a random start: a new session never meets the board's cache of an old one
        self._seq = seq if seq is not None else 1 + secrets.randbelow(MAX_SEQ)
        self._fresh = True
        self.noise_lines = 0  # non-protocol lines seen (REPL output, damage)

    @classmethod
    def from_fds(cls, read_fd: int, write_fd: int, **kw: Any) -> BoardClient:
        """A client over two file descriptors (a child's stdout and stdin, a pty)."""
        return cls(FdSerial(read_fd, write_fd, name=f"fd {read_fd}/{write_fd}"), **kw)

    # -- lifecycle --

    def close(self) -> None:
        if self._owns:
            self.ser.close()

    def __enter__(self) -> BoardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests --

    def next_seq(self) -> int:
        seq = self._seq
        self._seq = 1 if seq >= MAX_SEQ else seq + 1
        return seq

    def request(self, cmd: str, args: dict[str, Any] | None = None, timeout: float = 2.0,
                retries: int = 2) -> dict[str, Any]:
        """Send ``cmd`` and return the board's ``ok`` data.

        Waits ``timeout`` seconds per try. A retry re-sends the same bytes with the
        same seq, so a board that did act but whose answer was lost replies from its
        cache and does not act twice. Raises :class:`BoardError` for an ``err`` answer,
        :class:`ProtocolTimeout` when no answer came after ``1 + retries`` tries.
        """
        seq = self.next_seq()
        frame = encode_request(seq, cmd, args)
        if len(frame) - 1 > self.max_line:
            raise ValueError(
                f"request '{cmd}' is {len(frame) - 1} bytes, the board takes at most {self.max_line}: "
                "send smaller arguments"
            )
        last_err: Reply | None = None
        tries = 1 + max(0, retries)
        for _ in range(tries):
            # a leading newline ends any half line left on the board (typing, noise)
            self._write((b"\n" if self._fresh else b"") + frame)
            self._fresh = False
            reply = self._wait_reply(seq, timeout)
            if reply is None:
                self._fresh = True
                continue
            if reply.ok:
                if not isinstance(reply.data, dict):
                    raise BoardError("INTERNAL", f"answer is not a JSON object: {reply.data!r}", cmd)
                return reply.data
            if reply.code in RESEND_CODES:
                last_err = reply
                continue
            raise BoardError(reply.code, reply.message, cmd)
        if last_err is not None:
            raise BoardError(last_err.code, f"{last_err.message} (after {tries} tries)", cmd)
        raise ProtocolTimeout(
            f"no answer from {self.port_name} to '{cmd}' after {tries} tries ({timeout:g} s each): "
            "is the hearth app running? `hearth hello` says what the board does instead, "
            "`hearth reset` restarts the app"
        )

    def hello(self, timeout: float = 2.0) -> dict[str, Any]:
        """Firmware and protocol version, board, role, config hash, reset/recovery state."""
        info = self.request("hello", timeout=timeout)
        ml = info.get("max_line")
        if isinstance(ml, int) and ml >= 32:
            self.max_line = ml
        return info

    def status(self, timeout: float = 2.0) -> dict[str, Any]:
        return self.request("status", timeout=timeout)

    def events(self, duration: float | None = None) -> Iterator[Event]:
        """Yield ``!tel``/``!evt`` events: those seen while waiting for answers first,
        then new ones, for ``duration`` seconds (``None``: until the caller stops)."""
        deadline = None if duration is None else time.monotonic() + duration
        while True:
            while self._backlog:
                yield self._backlog.popleft()
            if deadline is not None and time.monotonic() >= deadline:
                return
            self._pump()

    # -- reading --

    def _write(self, data: bytes) -> None:
        try:
            self.ser.write(data)
        except OSError as e:
            raise ProtocolError(
                f"cannot write to {self.port_name}: {e}; was the board unplugged? check `hearth ports`"
            ) from e

    def _wait_reply(self, seq: int, timeout: float) -> Reply | None:
        deadline = time.monotonic() + timeout
        while True:
            for item in self._pump():
                if isinstance(item, Reply) and item.seq == seq:
                    return item
            if time.monotonic() >= deadline:
                return None

    def _pump(self) -> list[Reply]:
        """Read what is there (waiting at most the port's timeout); dispatch events;
        return the replies seen."""
        try:
            n = self.ser.in_waiting
            data = self.ser.read(max(1, min(n, 65536)))
        except OSError as e:
            raise ProtocolError(
                f"cannot read from {self.port_name}: {e}; was the board unplugged? check `hearth ports`"
            ) from e
        replies: list[Reply] = []
        if not data:
            return replies
        self._rx += data
        while True:
            i = self._rx.find(b"\n")
            if i < 0:
                if len(self._rx) > MAX_RX_LINE:
                    del self._rx[:]
                    self._discarding = True
                break
            line = bytes(self._rx[:i])
            del self._rx[: i + 1]
            if self._discarding:
                self._discarding = False
                self.noise_lines += 1
                continue
            item = parse_line(line)
            if item is None:
                if line.strip():
                    self.noise_lines += 1
            elif isinstance(item, Event):
                self._backlog.append(item)
                if self.on_event is not None:
                    self.on_event(item)
            else:
                replies.append(item)
        return replies
