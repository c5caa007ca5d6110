"""When the hearth app does not answer: what the board is doing instead, and resets.

`probe(port)` is only used after `hello` got no answer. It sends a bare newline and
looks for MicroPython's friendly prompt (`>>> `): the app is not running, so typing at
the REPL disturbs nothing. It then asks the REPL (one line, read-only) whether boot.py
refused to start the app (an incomplete firmware, a board file for another chip) or
the app was stopped (Ctrl-C, mpremote). It never interrupts a running program.

`soft_reset(port)`: Ctrl-C, friendly REPL, Ctrl-D: boot.py then main.py run, as after
power-on (outputs safe first). `hard_reset(port)`: a chip reset through the raw REPL
(hal.reset(): machine.reset() on an ESP32, the relay's restart on a virtual board);
when the REPL does not answer, the EN pulse a USB-serial bridge gives on RTS (what
esptool does), for a board that is stuck.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import serial

from host_tools.transport.serialport import PortError, open_port

# One line at the friendly REPL (read-only): boot.py's verdict, or, when its check
# could not even be imported (a half-copied firmware), what the filesystem shows.
_CODE = """import sys,os
_h=sys.modules.get('hearth')
_s=sys.modules.get('hearth.safe_boot')
def _e(p):
 try:
  os.stat(p);return 1
 except OSError:return 0
if _s:_p=_s.problem
elif _h and hasattr(_h,'boot_problem'):_p=_h.boot_problem
elif _e('/boot.py') or _e('/hearth') or _e('/~a') or _e('/boot.py~'):_p='incomplete firmware: '+('the boot check could not run' if _e('/manifest.json') else 'no /manifest.json (an interrupted flash?)')
else:_p='NOFW'
print('#'+'#','app' if 'hearth.app' in sys.modules else '-',repr(_p))
"""
_QUERY = b"exec(" + repr(_CODE).encode() + b")\r\n"


@dataclass
class ReplState:
    at_repl: bool  # the friendly REPL answered: the app is not running
    problem: str | None = None  # why boot.py did not start the app (None: it did, or no firmware)
    firmware: bool = True  # hearth's boot check exists on the board
    app_was_started: bool = False

    @property
    def why(self) -> str:
        """What a person should read: the reason and what to do next."""
        if not self.at_repl:
            return "no answer at all (not even the MicroPython REPL): check the cable and power, or power-cycle it"
        if not self.firmware:
            return "no hearth firmware on the board (MicroPython REPL only): `hearth flash --board NAME`"
        if self.problem:
            if self.problem.startswith("incomplete firmware"):
                return f"{self.problem}: the app is not started; run `hearth flash` again"
            return f"the app is not started: {self.problem}"
        return "the hearth app is stopped (the board is at the REPL, e.g. after mpremote): `hearth reset` starts it"


def _read(ser: serial.Serial, seconds: float) -> bytes:
    end = time.monotonic() + seconds
    out = b""
    while time.monotonic() < end:
        n = ser.in_waiting
        chunk = ser.read(n or 1)
        if chunk:
            out += chunk
    return out


def probe(port: str, timeout: float = 0.6) -> ReplState:
    try:
        ser = open_port(port, timeout=0.05)
    except PortError:
        return ReplState(at_repl=False)
    try:
        ser.write(b"\r\n")
        seen = _read(ser, timeout)
        if not seen.rstrip(b" ").endswith(b">>>"):
            # a board left in the raw REPL shows no prompt: Ctrl-B brings the friendly one
            ser.write(b"\x02")
            seen = _read(ser, timeout)
            if not seen.rstrip(b" ").endswith(b">>>"):
                return ReplState(at_repl=False)
        ser.write(_QUERY)
        out = _read(ser, timeout * 2)
    finally:
        ser.close()
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("## "):
            _, started, rest = line.split(" ", 2)
            rest = rest.strip()
            if rest == "'NOFW'":
                return ReplState(True, None, firmware=False)
            problem = None if rest == "None" else rest.strip("'\"")
            return ReplState(True, problem, app_was_started=started == "app")
    return ReplState(True, None, firmware=False)


#: what a MicroPython board prints as it resets: the soft reboot line, or the boot banner
RESET_SEEN = (b"soft reboot", b"MicroPython v")


def confirm_reset(ser: serial.Serial, name: str, timeout: float = 5.0, tries: int = 3) -> bytes:
    """Ctrl-D at the friendly REPL, then read until the board shows it reset. Sent again
    when unconfirmed: a network port's flush() does nothing, and a Ctrl-D written just
    before the port closes can be lost (ser2net, RFC 2217)."""
    seen = b""
    for _ in range(tries):
        ser.write(b"\x04")
        try:
            ser.flush()
        except (OSError, serial.SerialException):
            pass
        end = time.monotonic() + timeout / tries
        while time.monotonic() < end:
            seen += ser.read(ser.in_waiting or 1)
            if any(m in seen for m in RESET_SEEN):
                return seen
    raise PortError(f"{name}: the board did not confirm its reset (no soft-reboot banner in {timeout:.0f} s): "
                    "power-cycle it, or run `hearth reset --hard`")


def soft_reset(port: str) -> None:
    """Stop whatever runs (the app makes its outputs safe), then a soft reset from the
    friendly REPL: boot.py and main.py run, as after power-on. Returns once the board
    printed its soft-reboot banner (confirm_reset)."""
    ser = open_port(port, timeout=0.05)
    try:
        ser.write(b"\r\x03\x03")
        _read(ser, 0.3)
        ser.write(b"\r\x02")
        _read(ser, 0.3)
        confirm_reset(ser, port)
    finally:
        ser.close()


def hard_reset(port: str) -> str:
    """A chip reset. -> how it was done."""
    from host_tools.transport.rawrepl import RawRepl, ReplError

    try:
        with RawRepl.open(port) as r:
            r.enter(timeout=3.0)
            # machine.reset() never returns; a virtual board resets through the hal
            r.start(b"try:\n from hearth import hal;hal.reset()\nexcept Exception:\n"
                    b" import machine;machine.reset()\n")
            _read(r.ser, 0.3)
        return "chip reset (hal.reset)"
    except ReplError:
        pass
    ser = open_port(port, timeout=0.05)
    try:
        ser.dtr = False
        ser.rts = True  # EN low on the usual auto-reset circuit
        time.sleep(0.1)
        ser.rts = False
        _read(ser, 0.2)
    finally:
        ser.close()
    return "EN pulse (RTS)"
