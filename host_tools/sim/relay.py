"""The virtual board: the firmware in the MicroPython unix port behind a pseudo-terminal.

Two pseudo-terminals: the one a client (mpremote, `hearth`, a person with picocom)
opens, and the one the interpreter runs on; this relay copies bytes between them,
because two readers on one pty steal each other's bytes. The interpreter's pty is its
controlling terminal with ISIG on, so Ctrl-C raises KeyboardInterrupt as on a board;
output processing is off so `\\r\\n` stays `\\r\\n`.

The relay also plays the board's reset logic. The faithful interpreter exits where a
board would soft-reset (Ctrl-D in the raw or friendly REPL, SystemExit), after printing
`MPY: soft reboot` as the esp32 port does; its exit status says which REPL it left
(host_tools/interp: hearth_port.c), and the relay starts it again in that REPL, as a
chip's soft reset keeps `pyexec_mode_kind`: from the raw REPL, boot.py runs and the
board answers `raw REPL; CTRL-B to exit` and `>` only, with no banner and no `>>> `.
Power off kills the interpreter at that instant: what was not in the image files is
gone, as on the board.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import termios
import threading
import time
import tty
from pathlib import Path
from typing import Any

from host_tools import interp
from host_tools.boards import load_board
from host_tools.sim import state as simstate
from host_tools.sim.link import RX_RING, Bridge, LinkConfig, LinkStats, Starvation, unread
from host_tools.sim.world import World

LOADER = Path(__file__).with_name("loader.py")
BOOTRUN = Path(__file__).with_name("bootrun.py")  # runs LOADER, then boot.py and main.py
# Exit statuses of the faithful interpreter's REPL soft reset (host_tools/interp/variant/hearth_port.c).
EXIT_SOFT_RESET_RAW = 100
EXIT_SOFT_RESET_FRIENDLY = 101
# SPI NOR flash timing (Winbond W25Q32JV / GD25Q32 class, as on ESP32 modules), per
# 256-byte page program and per 4 KiB sector erase, in microseconds: docs/boards.md.
FLASH_TIMING = {"typ": (700, 45_000), "max": (3_000, 400_000), "off": (0, 0)}
MAV_TX_BUF = 4096  # bytes of MAVLink output waiting for the wire (a UART driver's TX ring buffer)


def _set_raw(fd: int, isig: bool) -> None:
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    if isig:
        _set_isig(fd)


def _set_isig(fd: int) -> None:
    """Let Ctrl-C interrupt, touching nothing else (no flush: what the host typed
    meanwhile is still there to be read). Only Ctrl-C is special on a board's console:
    Ctrl-\\ (SIGQUIT) and Ctrl-Z (SIGTSTP) must be plain bytes, so both are mapped onto
    ^C, which the tty checks first."""
    attrs = termios.tcgetattr(fd)
    attrs[3] |= termios.ISIG
    attrs[6][termios.VQUIT] = b"\x03"
    attrs[6][termios.VSUSP] = b"\x03"
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _make_ctty() -> None:  # runs in the child between fork and exec
    os.setsid()
    import fcntl

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Throttle:
    """Holds a direction of the wire to `baud` (10 bits per byte, as 8N1)."""

    def __init__(self, baud: int | None) -> None:
        self.baud = baud
        self._free_at = time.monotonic()

    def pace(self, nbytes: int) -> None:
        if not self.baud:
            return
        now = time.monotonic()
        start = max(now, self._free_at)
        self._free_at = start + nbytes * 10.0 / self.baud
        delay = self._free_at - now
        if delay > 0.0005:
            time.sleep(delay)


class VirtualBoard:
    def __init__(
        self,
        board: str,
        state_dir: str | os.PathLike[str],
        baud: int | None = None,
        speed: float = 1.0,
        heap: str | None = None,
        flash_mb: int | None = None,
        flash_timing: str = "typ",
        frozen: bool = False,
        bench: str | None = None,
        gantry: bool = False,
    ) -> None:
        """`baud` overrides the console link's baud rate (the board file's otherwise);
        `heap` a fixed heap instead of the stock chip's split heap; `flash_mb` the
        module's flash size; `frozen`: the firmware frozen into the interpreter, as in
        a hearth MicroPython image (host_tools/deploy/flashfw.py); `bench`: the bench's
        endpoint, `tcp:HOST:PORT` (port 0: any free one) instead of the unix socket."""
        self.board_name = board
        self.board = load_board(board)
        self.flash_mb = flash_mb
        self.state = simstate.prepare(Path(state_dir), self.board, flash_mb)
        self.link = LinkConfig.from_board(self.board, baud)
        if not interp.faithful():
            self.link.kind = "none"  # the 64-bit wheel has no link model inside
        self.link_stats = LinkStats()
        self._starved = Starvation()  # a starved interpreter is waited for, not overflowed
        self._bridge = Bridge(self.link, self.link_stats)
        self.baud = self.link.baud
        self.speed = speed
        # HEARTH_SIM_HEAP: a fixed heap for every virtual board of this process (debugging)
        self.heap = heap or os.environ.get("HEARTH_SIM_HEAP") or None
        if flash_timing not in FLASH_TIMING:
            raise simstate.SimError(f"flash timing is one of {', '.join(FLASH_TIMING)}")
        self.flash_timing = flash_timing
        self.frozen_binary: Path | None = None
        if frozen:
            from host_tools.deploy.flashfw import frozen_interpreter

            try:
                self.frozen_binary = frozen_interpreter()
            except interp.InterpreterMissing as e:
                raise simstate.SimError(str(e)) from e
        self.world = World(self.board, speed=speed)
        self.want_gantry = gantry  # a virtual gantry (motion port) beside the board: host_tools/sim/gantry.py
        self.gantry: Any = None
        from host_tools.sim import plants_for

        self.world.plants.extend(plants_for(self.board))
        self.proc: subprocess.Popen[bytes] | None = None
        self.link_tid: int | None = None  # native id of the thread serving the HAL wire
        self._link_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._expected_exit = False
        self._cause = "power_on"
        self._threads: list[threading.Thread] = []
        self.console_path = ""
        self.mavlink_path = ""
        self.bench_path = bench or str(self.state / "bench.sock")
        self._c_master = self._c_slave = self._i_master = self._i_slave = -1
        self._m_master = self._m_slave = -1
        self._tx = Throttle(baud)  # only for the 64-bit wheel's console, when asked
        self._rx = Throttle(self.baud)
        self.bench = None
        self.events: list[tuple[float, str]] = []
        # MAVLink out (UART2 to the flight controller): the firmware's writes wait here
        # for the wire, never in the world's lock (World.handle calls _mav_queue).
        self._mav_tx: collections.deque[bytes] = collections.deque()
        self._mav_tx_bytes = 0
        self._mav_cv = threading.Condition()
        self.mav_dropped = 0  # bytes a full reader (or a TX backlog past MAV_TX_BUF) lost

    # ---- life cycle ---------------------------------------------------------------------
    def start(self, power: bool = True) -> None:
        self._c_master, self._c_slave = os.openpty()
        _set_raw(self._c_slave, isig=False)
        _set_raw(self._c_master, isig=False)
        self.console_path = os.ttyname(self._c_slave)
        os.set_blocking(self._c_master, False)  # a bridge never waits for the host
        self._i_master, self._i_slave = os.openpty()
        _set_raw(self._i_slave, isig=True)
        if self.board.get("mavlink"):
            self._m_master, self._m_slave = os.openpty()
            _set_raw(self._m_slave, isig=False)
            _set_raw(self._m_master, isig=False)
            self.mavlink_path = os.ttyname(self._m_slave)
            uid = int(self.board["mavlink"].get("uart", 2))
            # A UART never waits for its reader: the wire is written by its own thread,
            # non-blocking, and what the pty cannot take is dropped and counted.
            os.set_blocking(self._m_master, False)
            self.world.uart_tx_sinks[uid] = self._mav_queue
            self._spawn(self._mavlink_out, Throttle(int(self.board["mavlink"].get("baud", 57600))))
            self._spawn(self._mavlink_in, uid)
        if self.want_gantry:
            from host_tools.sim.gantry import VirtualGantry

            self.gantry = VirtualGantry(clock=self.world.now_s, speed=self.speed)
            self.gantry.start()
        from host_tools.sim.bench import BenchServer

        self.bench = BenchServer(self, self.bench_path)
        self.bench.start()
        self.bench_path = self.bench.path  # a tcp: endpoint's real port
        self._spawn(self._client_to_interp)
        self._spawn(self._interp_to_client)
        self._spawn(self._supervise)
        if power:
            self.power_on()

    def endpoints(self) -> dict[str, str]:
        eps = {"console": self.console_path, "bench": self.bench_path}
        if self.mavlink_path:
            eps["mavlink"] = self.mavlink_path
        if self.gantry is not None:
            eps["gantry"] = self.gantry.path
        return eps

    def stop(self) -> None:
        self._stop.set()
        self._kill()
        if self.bench:
            self.bench.stop()
        if self.gantry is not None:
            self.gantry.stop()
        for t in self._threads:
            t.join(timeout=2)
        for fd in (self._c_master, self._c_slave, self._i_master, self._i_slave, self._m_master, self._m_slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _spawn(self, fn: Any, *args: Any) -> threading.Thread:
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self._threads.append(t)
        return t

    def _log(self, what: str) -> None:
        self.events.append((time.monotonic(), what))
        del self.events[:-200]

    # ---- power --------------------------------------------------------------------------
    def power_on(self, cause: str = "power_on") -> None:
        with self._lock:
            if self.proc is not None:
                return
            self.world.power_on()
            self._boot(mode="friendly", cause=cause)
            self._log("power on")

    def power_off(self) -> None:
        with self._lock:
            self._kill()
            # What the firmware wrote before it died still happened (each line carries
            # its instant): the world takes it in before it goes dark.
            t = self._link_thread
            if t is not None and t is not threading.current_thread():
                t.join(2.0)
            self.world.power_off()
            self._log("power off")

    def _kill(self) -> None:
        with self._lock:
            p = self.proc
            if p is None:
                return
            self._expected_exit = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            p.wait()
            self.proc = None

    def _boot(self, mode: str, cause: str, soft: bool = False) -> None:
        """Start the interpreter: loader, boot.py, then main.py if `mode` is friendly.
        `soft`: a soft reset, which keeps what the host typed meanwhile (the chip's stdin
        ring survives it); any other boot starts with empty buffers."""
        self._cause = cause
        to_fw_r, to_fw_w = os.pipe()
        from_fw_r, from_fw_w = os.pipe()
        argv, heap_env = interp.command(self.board["chip"], self.heap)
        if self.frozen_binary is not None:
            argv[0] = str(self.frozen_binary)
        _size, parts = simstate.flash_layout(self.board, self.flash_mb)
        flash = str(self.state / simstate.FLASH_IMAGE)
        env = dict(os.environ)
        env.update(heap_env)
        romfs = parts.get("romfs")
        env.update(
            HEARTH_SIM_FLASH=flash,
            HEARTH_SIM_PARTS=",".join(f"{p.name}:{p.offset}:{p.size}" for p in parts.values()
                                      if p.name in ("vfs", "journal", "romfs")),
            HEARTH_SIM_FLASH_TIMING="%d,%d" % FLASH_TIMING[self.flash_timing],
            MICROPY_CONSOLE=self.link.interpreter_env(self.speed),
            MICROPY_ROMFS=f"{flash}:{romfs.offset}:{romfs.size}" if romfs else "",
            HEARTH_SIM_LINK_IN=f"/dev/fd/{to_fw_r}",
            HEARTH_SIM_LINK_OUT=f"/dev/fd/{from_fw_w}",
            HEARTH_SIM_CHIP=self.board["chip"],
            HEARTH_SIM_BOARD=self.board_name,
            HEARTH_SIM_CAUSE=cause,
            HEARTH_SIM_SPEED=repr(self.speed),
            HEARTH_SIM_MODE=mode,
            HEARTH_SIM_LOADER=str(LOADER),
            MICROPY_REPL_MODE=mode,
        )
        env.pop("MICROPYPATH", None)
        self._expected_exit = False
        # A killed interpreter leaves the tty as its REPL had set it (ISIG off): every
        # boot starts from the line settings of a fresh board. What the old interpreter
        # wrote is never dropped here (its "MPY: soft reboot" may still be unread).
        # Ctrl-C interrupts nothing until the loader has mounted the board's root (its
        # "B" line, see _link): a Ctrl-C before would leave the interpreter at a REPL on
        # the host's own filesystem. A chip mounts its root in frozen _boot.py, before
        # its console takes input; until then the byte waits as a plain character.
        _set_raw(self._i_slave, isig=False)
        if not soft:
            termios.tcflush(self._i_slave, termios.TCIFLUSH)
        self.proc = subprocess.Popen(
            [*argv, "-i", str(BOOTRUN)],
            stdin=self._i_slave, stdout=self._i_slave, stderr=self._i_slave,
            pass_fds=(to_fw_r, from_fw_w), env=env, preexec_fn=_make_ctty, close_fds=True,
        )
        os.close(to_fw_r)
        os.close(from_fw_w)
        t = threading.Thread(target=self._link, args=(from_fw_r, to_fw_w, self.proc), daemon=True)
        t.start()
        self._link_thread = t

    # ---- threads ------------------------------------------------------------------------
    def _mavlink_in(self, uid: int) -> None:
        """Bytes from the flight controller's side of the link into the board's UART."""
        import select

        while not self._stop.is_set():
            r, _, _ = select.select([self._m_master], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(self._m_master, 256)
            except OSError:
                time.sleep(0.05)
                continue
            if "link_loss" in self.world.faults or not self.world.powered:
                continue
            with self.world.lock:
                buf = self.world.uart_rx.setdefault(uid, bytearray())
                buf.extend(data)
                del buf[:-4096]  # the UART's ring buffer overflows, as on the chip

    def _mav_queue(self, data: bytes) -> None:
        """The firmware wrote to the MAVLink UART (called with the world lock held: never blocks)."""
        with self._mav_cv:
            if self._mav_tx_bytes + len(data) > MAV_TX_BUF:
                self.mav_dropped += len(data)
                return
            self._mav_tx.append(data)
            self._mav_tx_bytes += len(data)
            self._mav_cv.notify()

    def _mavlink_out(self, throttle: Throttle) -> None:
        """The UART's wire: bytes leave at the baud rate; a reader that does not keep up
        (a full pty) loses them, as a flight controller's overflowing receive buffer would."""
        while not self._stop.is_set():
            with self._mav_cv:
                if not self._mav_tx:
                    self._mav_cv.wait(0.1)
                    continue
                data = self._mav_tx.popleft()
                self._mav_tx_bytes -= len(data)
            throttle.pace(len(data))
            try:
                n = os.write(self._m_master, data)
            except BlockingIOError:
                n = 0
            except OSError:
                n = len(data)  # the pty is gone (board stopping): nothing to count
            if n < len(data):
                with self._mav_cv:
                    self.mav_dropped += len(data) - n

    def _link(self, rfd: int, wfd: int, proc: subprocess.Popen[bytes]) -> None:
        """Serve hearth.hal.sim's requests for one interpreter's life."""
        self.link_tid = threading.get_native_id()
        rf = os.fdopen(rfd, "rb", buffering=0)
        wf = os.fdopen(wfd, "wb", buffering=0)
        buf = b""
        try:
            while True:
                chunk = rf.read(4096)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line == b"B":  # the loader mounted the board's root: Ctrl-C may break in
                        if self.proc is proc:
                            _set_isig(self._i_slave)
                        continue
                    if self.proc is not proc and line[:1] in b"GIAKua":
                        # taken in after the power died: a request the firmware never got
                        # its answer to had no effect (a flash program that never ran)
                        continue
                    reply = self.world.handle(line)
                    if reply is not None:
                        try:
                            wf.write(reply)
                        except (BrokenPipeError, OSError):
                            return
                    if self.world.cut_requested.is_set() and self.proc is proc:
                        self._log("power cut at flash program %d" % self.world.programs)
                        threading.Thread(target=self.power_off, daemon=True).start()
        finally:
            rf.close()
            wf.close()

    def _client_to_interp(self) -> None:
        import select

        while not self._stop.is_set():
            r, _, _ = select.select([self._c_master], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(self._c_master, 256)
            except OSError:
                time.sleep(0.05)
                continue
            if self.link.kind == "uart":
                self._rx.pace(len(data))
            if self.link.frame_ms and self.link.kind != "none":
                time.sleep(self.link.frame_ms / 1000)  # the next USB frame
            self._to_interp(data)

    def _to_interp(self, data: bytes) -> None:
        """Into the chip's RX ring: a UART drops what does not fit (Ctrl-C excepted: the
        RX interrupt sees it first); USB-CDC makes the host wait instead."""
        while data and self.proc is not None and not self._stop.is_set():
            try:
                room = RX_RING - unread(self._i_slave) if self.link.kind != "none" else len(data)
            except OSError:
                room = len(data)
            proc = self.proc
            pid = proc.pid if proc is not None else None
            if room < len(data) and self.link.kind == "uart" and self._starved.waiting(pid):
                time.sleep(0.001)  # the machine, not the firmware, kept the ring full
                continue
            if room >= len(data):
                self._starved.seen(pid)
            if room < len(data) and self.link.kind == "uart":
                keep = data[:max(room, 0)]
                lost = data[len(keep):]
                ctrl_c = lost.count(3)
                self.link_stats.rx_dropped += len(lost) - ctrl_c
                data = keep + b"\x03" * ctrl_c
                room = len(data)
            if room <= 0:
                time.sleep(0.001)
                continue
            chunk, data = data[:room], data[room:]
            try:
                os.write(self._i_master, chunk)
                self.link_stats.rx_bytes += len(chunk)
            except OSError:
                return

    def _interp_to_client(self) -> None:
        import select

        bridge = self._bridge
        while not self._stop.is_set():
            due = bridge.due_in()
            wait = 0.1 if due is None else min(0.1, due)
            if bridge.backpressure():
                # usbcdc: the host is not reading; the chip's write waits (and gives up
                # after its timeout, inside the interpreter).
                time.sleep(0.001)
                bridge.flush(self._c_master)
                continue
            r, _, _ = select.select([self._i_master], [], [], wait)
            if r:
                try:
                    data = os.read(self._i_master, 1024)
                except OSError:
                    time.sleep(0.05)
                    continue
                if self.link.kind == "none":
                    self._tx.pace(len(data))  # the 64-bit wheel: pace here if asked
                bridge.add(data)
            bridge.flush(self._c_master)

    def _supervise(self) -> None:
        while not self._stop.is_set():
            time.sleep(0.01)
            with self._lock:
                p = self.proc
                if p is None:
                    continue
                if self.world.wdt_expired():
                    self._log("watchdog reset")
                    self._kill()
                    self.world.wdt_timeout_ms = 0  # a chip reset stops the watchdog
                    self._boot(mode="friendly", cause="wdt")
                    continue
                req = self.world.reset_requested
                if req:
                    # hal.reset() (machine.reset on a board): the firmware asked and now
                    # waits; restart it at once, as the chip would.
                    self.world.reset_requested = None
                    self._log(f"reset ({req})")
                    self._kill()
                    self.world.wdt_timeout_ms = 0
                    self.world.power_on()
                    self._boot(mode="friendly", cause=req)
                    continue
                if p.poll() is None:
                    continue
                self.proc = None
                if self._expected_exit:
                    continue
                # The interpreter left by itself: a soft reset from its REPL (it printed
                # "MPY: soft reboot" itself, behind the REPL's own output), or a crash.
                code = p.returncode
                soft = code in (EXIT_SOFT_RESET_RAW, EXIT_SOFT_RESET_FRIENDLY)
                if soft:
                    mode = "raw" if code == EXIT_SOFT_RESET_RAW else "friendly"
                    self._log(f"soft reboot ({mode})")
                else:
                    mode = "friendly"
                    self._log(f"interpreter exit {code}: soft reboot")
                    try:
                        os.write(self._c_master, b"MPY: soft reboot\r\n")
                    except OSError:
                        pass
                self._boot(mode=mode, cause=self._cause, soft=soft)

    # ---- for the bench and tests ----------------------------------------------------------
    def status(self) -> dict[str, Any]:
        s = self.world.snapshot()
        s["board"] = self.board_name
        s["interpreter"] = "running" if self.proc is not None else "off"
        s["link"] = {"kind": self.link.kind, "baud": self.link.baud, "latency_ms": self.link.latency_ms,
                     **self.link_stats.as_dict()}
        s["flash"] = {"size_mb": simstate.flash_layout(self.board, self.flash_mb)[0] // (1 << 20),
                      "timing": self.flash_timing}
        if self.mavlink_path:
            s["mavlink_dropped"] = self.mav_dropped
        return s


def run_forever(vb: VirtualBoard, out: Any = sys.stdout) -> None:
    """`hearth sim`: print endpoints, run until SIGINT/SIGTERM, clean up."""
    done = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        done.set()

    old_int = signal.signal(signal.SIGINT, _stop)
    old_term = signal.signal(signal.SIGTERM, _stop)
    try:
        vb.start()
        for k, v in vb.endpoints().items():
            print(f"{k}: {v}", file=out, flush=True)
        while not done.wait(0.2):
            pass
    finally:
        vb.stop()
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)

