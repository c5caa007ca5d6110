"""Opening a board's serial port, with errors that say what to do next."""

from __future__ import annotations

import os

import serial

from host_tools.ports import PortError

__all__ = ["PortError", "open_port"]


def open_port(port: str, baud: int = 115200, timeout: float = 0.1) -> serial.Serial:
    if not port:
        raise PortError("no port given: pass --port PORT (list them with `hearth ports`)")
    if not port.startswith(("socket://", "rfc2217://", "loop://")) and not os.path.exists(port):
        raise PortError(f"{port}: no such port. Is the board plugged in (or `hearth sim` running)? See `hearth ports`.")
    # Exclusive: two programs on one port steal each other's bytes. Not on a virtual
    # board's pseudo-terminal: its lock (flock) can outlive the board when another
    # process still holds a descriptor of an earlier pty with the same number, and would
    # then lock out the new board's every client.
    exclusive = not port.startswith("/dev/pts/")
    try:
        s = serial.serial_for_url(port, baudrate=baud, timeout=timeout, exclusive=exclusive, do_not_open=True)
        s.open()
    except serial.SerialException as e:
        msg = str(e)
        if "busy" in msg.lower() or "lock" in msg.lower() or "Resource temporarily" in msg:
            raise PortError(f"{port} is busy: another program (mpremote, a monitor, picocom) has it open") from e
        if "Permission" in msg:
            raise PortError(f"{port}: permission denied; add yourself to the dialout group") from e
        raise PortError(f"cannot open {port}: {msg}") from e
    return s
