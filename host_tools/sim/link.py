"""The cable between a virtual board's console and the host: a USB-UART bridge or USB-CDC.

The interpreter's side (its own UART TX FIFO, the USB-CDC bounded wait) is modelled
inside the faithful interpreter (host_tools/interp, MICROPY_CONSOLE). This is the
other side, what the host's end of the cable does:

uart  (ESP32 DevKitC: CP2102 / CH340 bridge at the REPL's 115200 baud)
  * board -> host: the bridge forwards what the chip sends at the baud rate whether or
    not anyone reads. It packs bytes into USB packets and sends a packet when it has
    64 bytes or its latency timer expires (FTDI's default is 16 ms; CP210x and CH340
    behave alike within a few ms). What the host's buffer cannot hold is lost.
  * host -> board: at the baud rate, one USB frame (1 ms) late. The chip's UART REPL
    keeps what arrives in a 260-byte ring (ports/esp32/mphalport.c) plus its 128-byte
    RX FIFO; what arrives while both are full is lost. Ctrl-C is seen by the RX
    interrupt before the ring, so it always gets through.
usbcdc (ESP32-S3 native USB, TinyUSB CDC)
  * board -> host: no baud rate on the USB side; when the host stops reading, the
    chip's write waits (up to 500 ms, in the interpreter) and then drops.
  * host -> board: flow-controlled: the host's write waits while the chip's buffers
    are full; nothing is lost.

Every figure is a knob (`hearth bench ... set link.NAME VALUE`), and every loss is
counted (`hearth bench ... state` -> link).
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import time
from dataclasses import dataclass, field
from typing import Any

RX_RING = 260 + 128  # stdin ring + UART RX FIFO (ports/esp32/mphalport.c, SOC_UART_FIFO_LEN)
USB_PACKET = 64


@dataclass
class LinkConfig:
    kind: str = "uart"  # uart | usbcdc | none (the 64-bit interpreter's pipe-fast console)
    baud: int = 115200
    latency_ms: float = 16.0  # bridge latency timer (board -> host)
    frame_ms: float = 1.0  # USB frame (host -> board)
    cdc_timeout_ms: int = 500

    @classmethod
    def from_board(cls, board: dict[str, Any], baud: int | None = None) -> LinkConfig:
        c = board.get("console") or {}
        cfg = cls(kind=str(c.get("link", "uart")), baud=int(c.get("baud", 115200)))
        if "latency_ms" in c:
            cfg.latency_ms = float(c["latency_ms"])
        if "cdc_timeout_ms" in c:
            # the board's own MicroPython build sets it (boards/micropython/*/mpconfigboard.h)
            cfg.cdc_timeout_ms = int(c["cdc_timeout_ms"])
        if baud:
            cfg.baud = baud
        return cfg

    def interpreter_env(self, speed: float = 1.0) -> str:
        """MICROPY_CONSOLE for the faithful interpreter. The chip's side of the link runs
        in the board's virtual time: at `speed` x real time its UART is `speed` x faster
        in real time, so a tick still carries what one tick carries on the chip."""
        baud = max(1, int(self.baud * speed))
        if self.kind == "usbcdc":
            return f"usbcdc:{baud}:{max(1, int(self.cdc_timeout_ms / speed))}"
        if self.kind == "uart":
            return f"uart:{baud}"
        return ""

    def set(self, name: str, value: Any) -> bool:
        if name == "kind":
            if value not in ("uart", "usbcdc", "none"):
                raise ValueError("link.kind is uart, usbcdc or none")
            self.kind = str(value)
        elif name in ("baud", "cdc_timeout_ms"):
            v = int(value)
            if not 300 <= v <= 4_000_000 and name == "baud":
                raise ValueError("link.baud must be between 300 and 4000000")
            setattr(self, name, v)
        elif name in ("latency_ms", "frame_ms"):
            v = float(value)
            if not 0 <= v <= 1000:
                raise ValueError(f"link.{name} must be between 0 and 1000")
            setattr(self, name, v)
        else:
            return False
        return True


@dataclass
class LinkStats:
    tx_bytes: int = 0  # board -> host delivered
    tx_dropped: int = 0  # board -> host lost: the host's buffer was full
    rx_bytes: int = 0  # host -> board delivered
    rx_dropped: int = 0  # host -> board lost: the chip's RX ring was full
    tx_stalled_ms: float = 0.0  # usbcdc: time the host held the board's output back
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"tx_bytes": self.tx_bytes, "tx_dropped": self.tx_dropped, "rx_bytes": self.rx_bytes,
                "rx_dropped": self.rx_dropped, "tx_stalled_ms": round(self.tx_stalled_ms, 1)}


def cpu_share(pid: int) -> tuple[bool, int] | None:
    """(runnable, ns on a CPU so far) for a process, from /proc; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/schedstat") as f:
            return state == "R", int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def run_delay_ns(pid: int | None, tid: int | None = None) -> int:
    """Time a process (or one thread of it) has spent runnable but waiting for a CPU
    (0 when unknown)."""
    if pid is None:
        return 0
    path = f"/proc/{pid}/task/{tid}/schedstat" if tid else f"/proc/{pid}/schedstat"
    try:
        with open(path) as f:
            return int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def hold_for(seconds: float, who: list[tuple[int | None, int | None]], limit_s: float = 2.0) -> float:
    """Sleep `seconds` of a virtual board's time: extended by the longest any of `who`
    ((pid, tid or None): the interpreter, the relay thread that answers its reads)
    spent in it waiting for this shared machine's CPU (a chip's CPU is its own), up to
    `limit_s` more. Returns the wall time it took."""
    t0 = time.monotonic()
    d0 = [run_delay_ns(p, t) for p, t in who]
    end = t0 + seconds
    while True:
        now = time.monotonic()
        if now >= end:
            lag = max([run_delay_ns(p, t) - d for (p, t), d in zip(who, d0, strict=True)] or [0])
            extra = min(limit_s, lag / 1e9)
            if now >= t0 + seconds + extra:
                return now - t0
            end = t0 + seconds + extra
        time.sleep(end - now)


class Starvation:
    """Tells a chip's full RX ring from one that this machine starved.

    A chip's interpreter reads its ring at CPU speed, far above 115200 baud, whenever it
    waits for input; a virtual board's interpreter waits for this shared machine's CPU
    as well. While it is runnable but has had less than half of the time since the ring
    last had room on a CPU, the relay waits for it instead of dropping what it sends, up
    to `limit_s` in all. A ring that stays full while the interpreter sleeps (the
    firmware not reading) or runs on a CPU of its own overflows, as on the chip."""

    GRACE_S = 0.02  # a share measured over less than a few scheduler slices means little

    def __init__(self, limit_s: float = 2.0) -> None:
        self.limit_s = limit_s
        self._from: tuple[float, int] | None = None

    def waiting(self, pid: int | None) -> bool:
        """True: the ring is full because the machine starved the interpreter; wait."""
        now = time.monotonic()
        share = cpu_share(pid) if pid is not None else None
        if share is None or self._from is None:
            return False
        runnable, ran = share
        t0, ran0 = self._from
        wall = now - t0
        if wall >= self.limit_s or not runnable:
            return False
        return wall < self.GRACE_S or (ran - ran0) / 1e9 < wall / 2

    def seen(self, pid: int | None) -> None:
        """The ring had room: measure the next overflow from here."""
        share = cpu_share(pid) if pid is not None else None
        self._from = None if share is None else (time.monotonic(), share[1])


def unread(fd: int) -> int:
    """Bytes waiting to be read on a tty (FIONREAD)."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


class Bridge:
    """Board -> host: holds what the interpreter sent until the bridge would send it."""

    def __init__(self, cfg: LinkConfig, stats: LinkStats) -> None:
        self.cfg = cfg
        self.stats = stats
        self.buf = bytearray()
        self.first_at = 0.0  # when the oldest byte in buf arrived
        self.blocked_since: float | None = None

    def add(self, data: bytes) -> None:
        if not self.buf:
            self.first_at = time.monotonic()
        self.buf += data

    def due_in(self) -> float | None:
        """Seconds until the held bytes must go (None: nothing held)."""
        if not self.buf:
            return None
        if self.cfg.kind != "uart" or len(self.buf) >= USB_PACKET:
            return 0.0
        return max(0.0, self.first_at + self.cfg.latency_ms / 1000 - time.monotonic())

    def backpressure(self) -> bool:
        """usbcdc: the host is not reading, so stop taking from the interpreter."""
        return self.cfg.kind == "usbcdc" and bool(self.buf) and self.blocked_since is not None

    def flush(self, fd: int) -> None:
        """Deliver what is due to the host's end (a non-blocking pty master)."""
        due = self.due_in()
        if due is None or due > 0:
            return
        if self.cfg.kind == "uart" and len(self.buf) >= USB_PACKET and time.monotonic() < self.first_at + \
                self.cfg.latency_ms / 1000:
            n = len(self.buf) - len(self.buf) % USB_PACKET  # whole packets now, the rest on the timer
        else:
            n = len(self.buf)
        chunk = bytes(self.buf[:n])
        try:
            w = os.write(fd, chunk)
        except BlockingIOError:
            w = 0
        except OSError:
            w = 0
        self.stats.tx_bytes += w
        del self.buf[:w]
        rest = n - w
        if rest and self.cfg.kind == "uart":
            # The host's buffer is full: a bridge does not wait; these bytes are lost.
            self.stats.tx_dropped += rest
            del self.buf[:rest]
        elif rest:
            now = time.monotonic()
            if self.blocked_since is None:
                self.blocked_since = now
        elif self.blocked_since is not None:
            self.stats.tx_stalled_ms += (time.monotonic() - self.blocked_since) * 1000
            self.blocked_since = None
        if self.buf:
            self.first_at = time.monotonic()
