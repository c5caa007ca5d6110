"""A virtual board's console on the network, as a board farm exports a real one.

Tests and benches reach a virtual board through the same tools a farm uses:

* `Ser2net`: Debian's ser2net (4.x, YAML config) with an RFC 2217 accepter and a raw TCP
  accepter on the board's pty, as labgrid's exporter runs it;
* `PyserialRfc2217`: pyserial's own RFC 2217 server side (serial.rfc2217.PortManager),
  a second, independent RFC 2217 implementation (`python -m host_tools.sim.netports`);
* `NetNS`: a network namespace of our own (`unshare -n`, loopback up), so what listens
  there is reachable from nowhere else; `NetNS.prefix` runs a command inside it.

Nothing here listens on any address but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"


class NetPortError(Exception):
    """A server would not start; the message says which and why."""


# ---- a network namespace -------------------------------------------------------------------
class NetNS:
    """A fresh network namespace with only `lo`, held open by a sleeping process.

    `available()` says whether this machine lets us make one (root or user namespaces,
    and `unshare`, `nsenter`, `ip`); when it does not, callers fall back to the host's
    loopback and say why (`NetNS.why_not`).
    """

    why_not = ""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def available(cls) -> bool:
        missing = [t for t in ("unshare", "nsenter", "ip") if shutil.which(t) is None]
        if missing:
            cls.why_not = f"{', '.join(missing)} not installed"
            return False
        try:
            r = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            cls.why_not = f"unshare -n failed: {e}"
            return False
        if r.returncode != 0:
            cls.why_not = f"unshare -n refused: {r.stderr.strip() or r.returncode} (needs root or user namespaces)"
            return False
        return True

    def start(self) -> NetNS:
        # 127.0.0.2 on lo as well: with 127.0.0.1 alone, glibc's getaddrinfo(AI_ADDRCONFIG)
        # finds "no IPv4 configured" and ser2net (gensio) cannot resolve even
        # `tcp,127.0.0.1,PORT`. It is still loopback: nothing outside reaches it.
        self.proc = subprocess.Popen(
            ["unshare", "-n", "sh", "-c",
             "ip link set lo up && ip addr add 127.0.0.2/32 dev lo && echo up && exec sleep 86400"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != b"up":
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            self.stop()
            raise NetPortError(f"could not bring lo up in a new network namespace: {err.strip()}")
        return self

    @property
    def prefix(self) -> list[str]:
        """argv prefix that runs a command inside the namespace."""
        assert self.proc is not None
        return ["nsenter", f"--net=/proc/{self.proc.pid}/ns/net"]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)


# ---- free ports ----------------------------------------------------------------------------
def free_port(prefix: list[str] | None = None) -> int:
    """A TCP port nobody listens on (in the namespace of `prefix`, if any)."""
    if not prefix:
        with socket.socket() as s:
            s.bind((LOOPBACK, 0))
            return int(s.getsockname()[1])
    out = subprocess.run([*prefix, sys.executable, "-c",
                          "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])"],
                         capture_output=True, text=True, timeout=20, check=True)
    return int(out.stdout)


def wait_listening(port: int, prefix: list[str] | None, proc: subprocess.Popen[Any], what: str,
                   timeout: float = 10.0) -> None:
    """Until something accepts on 127.0.0.1:port (checked in the namespace of `prefix`)."""
    probe = ("import socket,sys\n"
             "s=socket.socket();s.settimeout(0.5)\n"
             f"sys.exit(s.connect_ex(('127.0.0.1',{port})))\n")
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise NetPortError(f"{what} exited ({proc.returncode}) before listening on {port}")
        if prefix:
            ok = subprocess.run([*prefix, sys.executable, "-c", probe], capture_output=True).returncode == 0
        else:
            with socket.socket() as s:
                s.settimeout(0.5)
                ok = s.connect_ex((LOOPBACK, port)) == 0
        if ok:
            return
        time.sleep(0.05)
    raise NetPortError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


# ---- ser2net -------------------------------------------------------------------------------
def ser2net_yaml(device: str, rfc2217_port: int | None, tcp_port: int | None, baud: int = 115200) -> str:
    """ser2net 4 configuration: one connection per accepter, both on `device`.

    * `127.0.0.1` in every accepter: ser2net's default (and labgrid's exporter's) is all
      interfaces;
    * `local`: ignore modem lines (a pty has none; a USB bridge's are not wired to reset);
    * `chardelay: false`: send what arrives at once. By default ser2net holds received
      bytes for a few character times to fill bigger packets, which costs latency on
      every reply of a request/answer protocol (hearth's commands, the raw REPL);
    * `kickolduser: true`: a new client takes the port from a stale one (a killed flash),
      as a USB port is free again once its holder dies.
    """
    out = []
    for i, (kind, port) in enumerate((("telnet(rfc2217),tcp", rfc2217_port), ("tcp", tcp_port))):
        if port is None:
            continue
        out.append(
            f"connection: &con{i}\n"
            f"  accepter: {kind},{LOOPBACK},{port}\n"
            f"  connector: serialdev,{device},{baud}n81,local\n"
            "  options:\n"
            "    kickolduser: true\n"
            "    chardelay: false\n"
        )
    return "\n".join(out)


class Ser2net:
    """ser2net serving one device on 127.0.0.1: `rfc2217://` and `socket://` URLs."""

    def __init__(self, device: str, workdir: Path, prefix: list[str] | None = None, baud: int = 115200) -> None:
        self.device, self.workdir, self.prefix, self.baud = device, Path(workdir), prefix or [], baud
        self.proc: subprocess.Popen[bytes] | None = None
        self.rfc2217_port = self.tcp_port = 0

    @staticmethod
    def available() -> bool:
        return shutil.which("ser2net") is not None

    def start(self) -> Ser2net:
        exe = shutil.which("ser2net")
        if exe is None:
            raise NetPortError("ser2net is not installed (Debian: apt-get install ser2net)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rfc2217_port = free_port(self.prefix)
        self.tcp_port = free_port(self.prefix)
        while self.tcp_port == self.rfc2217_port:
            self.tcp_port = free_port(self.prefix)
        conf = self.workdir / "ser2net.yaml"
        conf.write_text(ser2net_yaml(self.device, self.rfc2217_port, self.tcp_port, self.baud))
        log = open(self.workdir / "ser2net.log", "wb")
        # -n: stay in the foreground; -u: no UUCP lock files (a pty is ours alone);
        # -P: a pid file of our own, not the system's /run/ser2net.pid
        self.proc = subprocess.Popen([*self.prefix, exe, "-n", "-u", "-c", str(conf),
                                      "-P", str(self.workdir / "ser2net.pid")],
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_listening(self.rfc2217_port, self.prefix, self.proc, "ser2net")
            wait_listening(self.tcp_port, self.prefix, self.proc, "ser2net")
        except NetPortError as e:
            self.stop()
            raise NetPortError(f"{e}; its log: {(self.workdir / 'ser2net.log').read_text()[-500:]}") from e
        return self

    @property
    def rfc2217_url(self) -> str:
        return f"rfc2217://{LOOPBACK}:{self.rfc2217_port}"

    @property
    def socket_url(self) -> str:
        return f"socket://{LOOPBACK}:{self.tcp_port}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- pyserial's RFC 2217 server ------------------------------------------------------------
class PyserialRfc2217:
    """`python -m host_tools.sim.netports DEVICE PORT` in a process of its own."""

    def __init__(self, device: str, workdir: Path, prefix: list[str] | None = None) -> None:
        self.device, self.workdir, self.prefix = device, Path(workdir), prefix or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> PyserialRfc2217:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(self.prefix)
        log = open(self.workdir / "rfc2217.log", "wb")
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen([*self.prefix, sys.executable, "-m", "host_tools.sim.netports",
                                      self.device, str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        try:
            wait_listening(self.port, self.prefix, self.proc, "pyserial's rfc2217 server")
        except NetPortError as e:
            self.stop()
            raise NetPortError(f"{e}; its log: {(self.workdir / 'rfc2217.log').read_text()[-500:]}") from e
        return self

    @property
    def url(self) -> str:
        return f"rfc2217://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _no_modem_lines(call: Any) -> Any:
    """`call()`, with the error a pty gives for a modem line or break it does not have
    (EINVAL/ENOTTY) taken as "no such line": None. Any other error is raised."""
    try:
        return call()
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTTY):
            raise
        return None


def _pty_serial() -> Any:
    """pyserial's Serial for a pty: a pty has no modem lines, and setting DTR or RTS on
    one fails (EINVAL/ENOTTY). A client's SET_CONTROL is then acknowledged and ignored,
    as ser2net's `local` option does, instead of killing the server thread."""
    import serial

    class PtySerial(serial.Serial):  # type: ignore[misc, name-defined]
        def _update_dtr_state(self) -> None:
            _no_modem_lines(super()._update_dtr_state)  # type: ignore[misc]

        def _update_rts_state(self) -> None:
            _no_modem_lines(super()._update_rts_state)  # type: ignore[misc]

        def _update_break_state(self) -> None:
            _no_modem_lines(super()._update_break_state)  # type: ignore[misc]

        # the modem lines a client asks for (NOTIFY-MODEMSTATE): none on a pty
        def _line(self, name: str) -> bool:
            return bool(_no_modem_lines(lambda: getattr(serial.Serial, name).fget(self)))

        cts = property(lambda self: self._line("cts"))
        dsr = property(lambda self: self._line("dsr"))
        ri = property(lambda self: self._line("ri"))
        cd = property(lambda self: self._line("cd"))

    return PtySerial


def serve_rfc2217(device: str, port: int, host: str = LOOPBACK) -> None:
    """One client at a time: the device's bytes go out escaped, the client's come in
    filtered through serial.rfc2217.PortManager, which answers the telnet/RFC 2217
    negotiation (baud rate, control lines, purge) on the device."""
    ser = _pty_serial()(device, 115200, timeout=0.05)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(1)
    while True:
        conn, _ = srv.accept()
        try:
            _serve_one(ser, conn)
        except OSError:  # the client left during the negotiation (a port probe)
            conn.close()
        if not ser.is_open:  # the device went away (the virtual board stopped)
            return


class _Conn:
    """What PortManager writes its negotiation answers to: the client's socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.lock = sock, threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)


def _serve_one(ser: Any, sock: socket.socket) -> None:
    import serial
    import serial.rfc2217

    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ser.reset_input_buffer()  # what the board said to nobody is not this client's
    conn = _Conn(sock)
    mgr = serial.rfc2217.PortManager(ser, conn,  # type: ignore[arg-type]  # anything with write()
                                     logger=logging.getLogger("rfc2217") if os.environ.get("HEARTH_NET_DEBUG") else None)
    alive = threading.Event()
    alive.set()

    def device_to_net() -> None:
        while alive.is_set():
            try:
                data = ser.read(ser.in_waiting or 1)
                if data:
                    conn.write(b"".join(mgr.escape(data)))
            except (OSError, serial.SerialException):
                alive.clear()

    t = threading.Thread(target=device_to_net, daemon=True)
    t.start()
    try:
        while alive.is_set():
            data = sock.recv(4096)
            if not data:
                break
            ser.write(b"".join(mgr.filter(data)))
    except (OSError, serial.SerialException):
        pass
    alive.clear()
    t.join(timeout=2)
    sock.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Serve a serial device over RFC 2217 with pyserial's PortManager "
                                             "(loopback only unless --host is given).")
    ap.add_argument("device")
    ap.add_argument("port", type=int)
    ap.add_argument("--host", default=LOOPBACK)
    a = ap.parse_args(argv)
    serve_rfc2217(a.device, a.port, a.host)


if __name__ == "__main__":
    main()
