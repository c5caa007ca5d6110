"""A MicroPython raw REPL client with raw-paste, with timeouts that are always enforced.

Written by hand (small) rather than mpremote's SerialTransport because a flash needs
two things that one does not give: every read bounded by a timeout (mpremote reads a
pty with no timeout, so a board that resets or dies mid-transfer would hang the tool),
and direct access to the wire once a program is running, for the compact streaming
transfer in host_tools/deploy/sync.py.

    with RawRepl.open("/dev/pts/3") as r:
        r.enter()
        out = r.run(b"print(1+1)")      # raw-paste, output, raises on a traceback
        r.reset()                      # soft reset from the friendly REPL: boot.py, main.py
"""

from __future__ import annotations

import time
from typing import Any

import serial

from host_tools.transport.serialport import PortError, open_port

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"


class ReplError(Exception):
    """The board did not behave like a MicroPython raw REPL (or stopped answering)."""


class BoardExecError(ReplError):
    """Code run on the board raised; `.err` is the MicroPython traceback."""

    def __init__(self, out: bytes, err: bytes) -> None:
        self.out, self.err = out, err
        super().__init__(err.decode(errors="replace").strip() or "error on the board")


class RawRepl:
    def __init__(self, ser: Any, name: str = "") -> None:
        self.ser = ser
        self.name = name or getattr(ser, "port", "") or "board"
        self.in_raw = False
        self.raw_paste: bool | None = None  # unknown until tried
        self.wire_out = 0  # bytes written to the board
        self.wire_in = 0  # bytes read from the board
        self._buf = bytearray()
        self.platform = ""  # the board's sys.platform, once a program printed it
        self.deflate = False  # the board has the deflate module
        self.chip: str | None = None  # the board's chip family, once the inventory said
        self.installed: dict[str, Any] | None = None  # name/role/chip of the board file on it

    @classmethod
    def open(cls, port: str, baud: int = 115200) -> RawRepl:
        return cls(open_port(port, baud, timeout=0.05), port)

    def __enter__(self) -> RawRepl:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.ser.close()
        except (OSError, serial.SerialException):
            pass

    # ---- bytes ---------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        try:
            self.ser.write(data)
        except (OSError, serial.SerialException) as e:
            raise ReplError(f"{self.name}: write failed ({e}): was the board unplugged?") from e
        self.wire_out += len(data)

    def _fill(self) -> bool:
        try:
            waiting = self.ser.in_waiting
            data = self.ser.read(waiting if waiting else 1)
        except (OSError, serial.SerialException) as e:
            raise ReplError(f"{self.name}: read failed ({e}): was the board unplugged?") from e
        self.wire_in += len(data)
        self._buf += data
        return bool(data)

    def pending(self) -> bool:
        """Bytes from the board are waiting to be read."""
        if self._buf:
            return True
        try:
            return bool(self.ser.in_waiting)
        except (OSError, serial.SerialException):
            return False

    def read_exact(self, n: int, timeout: float) -> bytes:
        last = time.monotonic()
        while len(self._buf) < n:
            if self._fill():
                last = time.monotonic()
            elif time.monotonic() - last > timeout:
                raise ReplError(
                    f"{self.name}: timed out waiting for {n} bytes from the board (got {bytes(self._buf[-80:])!r})"
                )
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def read_until(self, ending: bytes, timeout: float, what: str = "") -> bytes:
        """Read up to and including `ending`; `timeout` is the longest silence allowed (s)."""
        last = time.monotonic()
        start = 0
        while True:
            i = self._buf.find(ending, start)
            if i >= 0:
                out = bytes(self._buf[: i + len(ending)])
                del self._buf[: i + len(ending)]
                return out
            start = max(0, len(self._buf) - len(ending) + 1)
            if self._fill():
                last = time.monotonic()
            elif time.monotonic() - last > timeout:
                raise ReplError(
                    f"{self.name}: no {what or repr(ending)} from the board within {timeout:g} s "
                    f"(last output: {bytes(self._buf[-160:])!r})"
                )

    def read_line(self, timeout: float) -> bytes | None:
        """One output line of a running program (with its newline), or None at the
        program's end-of-output marker (0x04, consumed). Raises ReplError after
        `timeout` seconds without a complete line."""
        last = time.monotonic()
        start = 0
        while True:
            nl = self._buf.find(b"\n", start)
            eof = self._buf.find(b"\x04", start)
            if eof >= 0 and (nl < 0 or eof < nl):
                line = bytes(self._buf[:eof])
                del self._buf[: eof + 1]
                self._buf[:0] = b"\x04"  # let finish() see the end of output
                return line or None
            if nl >= 0:
                line = bytes(self._buf[: nl + 1])
                del self._buf[: nl + 1]
                return line
            start = len(self._buf)
            if self._fill():
                last = time.monotonic()
            elif time.monotonic() - last > timeout:
                raise ReplError(f"{self.name}: no output for {timeout:g} s")

    def drain(self, quiet: float = 0.05, limit: float = 1.0) -> bytes:
        """Read and drop whatever arrives until the line is quiet for `quiet` seconds."""
        end = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() < end:
            if self._fill():
                last = time.monotonic()
            elif time.monotonic() - last > quiet:
                break
        out = bytes(self._buf)
        self._buf.clear()
        return out

    # ---- raw REPL ------------------------------------------------------------------------
    def enter(self, timeout: float = 10.0) -> None:
        """Interrupt whatever runs (the app makes its outputs safe) and enter the raw REPL."""
        end = time.monotonic() + timeout
        while True:
            self.write(b"\r\x03\x03")
            self.drain(0.05, 0.5)
            self.write(b"\r\x01")
            try:
                self.read_until(RAW_BANNER + b">", min(1.5, max(0.1, end - time.monotonic())), "raw REPL prompt")
                self.in_raw = True
                return
            except ReplError:
                if time.monotonic() > end:
                    raise ReplError(
                        f"{self.name}: the board does not enter the raw REPL: is it running MicroPython? "
                        "Flash the base image with `hearth flash --base FIRMWARE.bin`, or power-cycle it"
                    ) from None

    def _paste(self, code: bytes, timeout: float) -> None:
        self.write(b"\x05A\x01")
        hdr = self.read_exact(2, timeout)
        if hdr == b"R\x01":
            self.raw_paste = True
            window = int.from_bytes(self.read_exact(2, timeout), "little")
            remain = window
            i = 0
            while i < len(code):
                while remain == 0 or self.pending():
                    c = self.read_exact(1, timeout)
                    if c == b"\x01":
                        remain += window
                    elif c == b"\x04":
                        self.write(b"\x04")
                        raise ReplError(f"{self.name}: the board ended the raw paste early")
                    else:
                        raise ReplError(f"{self.name}: unexpected {c!r} from the board during raw paste")
                chunk = code[i : i + remain]
                self.write(chunk)
                remain -= len(chunk)
                i += len(chunk)
            self.write(b"\x04")
            self.read_until(b"\x04", timeout, "end of raw paste")
            return
        # No raw-paste (old firmware): plain raw REPL, paced.
        self.raw_paste = False
        if hdr != b"R\x00":
            self.read_until(RAW_BANNER + b">", timeout, "raw REPL prompt")
        for i in range(0, len(code), 256):
            self.write(code[i : i + 256])
            time.sleep(0.01)
        self.write(b"\x04")
        if self.read_exact(2, timeout) != b"OK":
            raise ReplError(f"{self.name}: the board did not accept the program")

    def start(self, code: bytes | str, timeout: float = 5.0) -> None:
        """Send a program and let it run (its output is left on the wire)."""
        if not self.in_raw:
            self.enter()
        self._paste(code.encode() if isinstance(code, str) else code, timeout)

    def finish(self, timeout: float = 10.0) -> tuple[bytes, bytes]:
        """Wait for the running program to end: (stdout, stderr). Leaves the raw prompt read."""
        out = self.read_until(b"\x04", timeout, "end of program output")[:-1]
        err = self.read_until(b"\x04", timeout, "end of error output")[:-1]
        self.read_until(b">", timeout, "raw REPL prompt")
        return out, err

    def run(self, code: bytes | str, timeout: float = 10.0) -> bytes:
        self.start(code, timeout)
        out, err = self.finish(timeout)
        if err:
            raise BoardExecError(out, err)
        return out

    def soft_reset_raw(self, timeout: float = 10.0) -> bytes:
        """Soft reset inside the raw REPL: boot.py runs, main.py does not; a clean heap."""
        self.write(b"\x04")
        out = self.read_until(RAW_BANNER, timeout, "raw REPL after soft reset")
        self.read_until(b">", timeout, "raw REPL prompt")
        return out

    def reset(self, timeout: float = 5.0, tries: int = 3) -> bytes:
        """Leave the raw REPL and soft-reset from the friendly REPL, so boot.py and main.py
        run as after power-on. Confirmed: returns only once the board printed its soft
        reboot banner (or the boot's first line), so the port may then be closed. Over a
        network port (ser2net, RFC 2217) flush() does nothing and closing at once can
        lose the Ctrl-D; an unconfirmed reset is sent again, `tries` times at most."""
        self.write(b"\r\x02")
        time.sleep(0.05)
        self.drain(0.05, 0.5)
        self.in_raw = False
        seen = b""
        for _ in range(tries):
            self.write(b"\x04")
            try:
                self.ser.flush()
            except (OSError, serial.SerialException):
                pass
            end = time.monotonic() + timeout / tries
            while time.monotonic() < end:
                if not self._fill():
                    continue
                seen += bytes(self._buf)
                self._buf.clear()
                if b"soft reboot" in seen or b"MicroPython v" in seen:
                    return seen
        raise ReplError(f"{self.name}: the board did not confirm its reset (no soft-reboot banner in {timeout:.0f} s): "
                        "power-cycle it, or run `hearth reset`")


__all__ = ["BoardExecError", "PortError", "RawRepl", "ReplError"]
