"""The virtual board's wires never block the board: a MAVLink port nobody reads (issue
12, defect 2: a latch froze after ~16 minutes, when its unread heartbeats filled the
pty) behaves like a UART, which sends at the baud rate whether or not anyone listens.

Instead of waiting 16 minutes for ~20 KB of heartbeats, the test fills the pty's
buffer at once, then checks the board, the bench and the relay still answer, that
what could not be delivered is counted as dropped, and that heartbeats flow again
once someone reads.
"""

from __future__ import annotations

import os
import select
import threading
import time

from host_tools.protocol import BoardClient
from host_tools.sim.bench import BenchClient
from tests.e2e.conftest import flash_board, wait_for


def _fill(fd: int, full: threading.Event, stop: threading.Event) -> None:
    # Keeps the FC's side of the link full, as 16 minutes of unread heartbeats would:
    # the kernel moves bytes on to the tty's own buffer now and then, so it is topped
    # up until the test stops it. (The relay's fd is non-blocking: EAGAIN when full; a
    # blocking fd, as before the fix, blocks here too.)
    while not stop.is_set():
        try:
            while True:
                os.write(fd, b"\x55" * 1024)
        except BlockingIOError:
            full.set()
        except OSError:
            break
        time.sleep(0.005)
    full.set()


def test_unread_mavlink_port_never_blocks_the_board(make_board) -> None:
    vb = make_board("latch-esp32")
    flash_board(vb)
    c = BoardClient(vb.console_path)
    assert c.request("hello", timeout=1.0, retries=10)["role"] == "latch"
    full, stop = threading.Event(), threading.Event()
    threading.Thread(target=_fill, args=(vb._m_master, full, stop), daemon=True).start()
    full.wait(5)
    bench = BenchClient(vb.bench_path, timeout=3.0)
    d0 = bench.call(op="state")["state"]["mavlink_dropped"]
    # The latch heartbeats once a second: a few of them meet the full pty.
    time.sleep(3.5)
    st = bench.call(op="state")["state"]
    assert st["interpreter"] == "running"
    assert st["mavlink_dropped"] > d0, st  # counted, not waited for
    assert c.request("status", timeout=2.0)["state"] in ("SAFE", "READY")
    # Someone reads again: the backlog goes, fresh heartbeats (MAVLink 2: 0xFD) arrive.
    stop.set()
    time.sleep(0.05)
    fc = os.open(vb.mavlink_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        while select.select([fc], [], [], 0.2)[0]:
            if not os.read(fc, 65536):
                break

        def heartbeat() -> bool:
            r, _, _ = select.select([fc], [], [], 0.2)
            return bool(r) and b"\xfd" in os.read(fc, 4096)

        wait_for(heartbeat, timeout=5)
    finally:
        os.close(fc)
    c.close()
    vb.stop()  # returns: nothing holds the world lock


def test_a_break_in_at_power_on_never_reaches_the_hosts_filesystem(make_board) -> None:
    # Ctrl-C from the first instant: before the loader has mounted the board's root it
    # must not interrupt (a REPL there would be on this machine's own filesystem); the
    # raw REPL the host gets in the end always sees the board's flash.
    from host_tools.transport.rawrepl import RawRepl

    for i in range(4):
        vb = make_board("latch-esp32", "plain", frozen=True)
        with RawRepl.open(vb.console_path) as r:
            r.write(b"\x03")  # at once, while the interpreter starts
            r.enter()
            root = r.run("import os\nprint(sorted(os.listdir('/')))").decode().strip()
        assert root == "['boot.py']", (i, root)
        vb.stop()
