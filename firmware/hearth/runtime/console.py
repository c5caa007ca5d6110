# Non-blocking console I/O over the REPL's stdin/stdout (ESP32 USB/UART, unix port).
#
# Input: read_available() never waits: select.poll(0) says whether a byte is ready, and
# it is read one byte at a time (on the ESP32, stdin reads block until their count is
# satisfied, so only a byte that poll announced may be read). Ctrl-C is not seen here:
# MicroPython turns it into KeyboardInterrupt, which is left to propagate so the app
# can put outputs in their safe state and drop to the REPL.
#
# Output: write() only queues; pump(), once per tick, writes only what the TX FIFO has
# room for. On the ESP32 a console write blocks: the REPL UART takes 128 bytes into its
# FIFO and, when it is full, the writer sleeps a whole FreeRTOS tick (10 ms,
# ports/esp32/uart.c); USB-CDC waits for a host that does not read (500 ms in stock
# MicroPython, shared/tinyusb/mp_usbd_cdc.c). poll() cannot tell (stdout always reads
# as writable there). So the console keeps its own account of the FIFO: what it wrote
# and when, drained at the link's baud rate; it writes no more than the room left, and
# a write never waits. A write that takes long anyway (a USB host that stopped
# reading) holds output back for a while instead of stalling every tick. What the queue
# cannot hold is dropped, events before answers, oldest first, and counted (status:
# console).
import sys
import select
from micropython import const

FIFO = 128  # the ESP32's UART TX FIFO (SOC_UART_FIFO_LEN)
# A write longer than _SLOW_US waited for the host. One that does not wait copies into
# a FIFO in tens of us; a USB-CDC write to a host that does not read waits for the
# build's TX timeout of no progress (2 ms on printer-s3, counted in ms ticks: 1-2 ms).
# At 3 ms those waits went unseen and cost 1-3 ms of every tick (a lazy host: 5 % of
# the printer's ticks overran). Output is held back after a write over _LONG_US, or
# after waits in two pumps in a row: a host that does not read makes every write wait,
# while one write the board's own scheduler delayed (a virtual board's host, an
# interrupt) is a single slow write and must not hold answers back.
_SLOW_US = const(800)
_LONG_US = const(3000)
_HOLD_MS = (250, 500, 1000, 2000, 4000)  # back-off after each slow write in a row


class Console:
    def __init__(self, clock, stream_in=None, stream_out=None, baud=115200, capacity=4096):
        # clock: ticks_ms/ticks_us/ticks_diff/ticks_add/sleep_ms (the hal, or a test's)
        self._clk = clock
        if stream_in is None:
            stream_in = sys.stdin
        if stream_out is None:
            stream_out = sys.stdout
        self._in = stream_in
        # the byte-level stream when there is one (sys.stdin.buffer), else the stream
        self._rd = getattr(stream_in, "buffer", stream_in)
        self._wr = getattr(stream_out, "buffer", stream_out)
        self._poll = select.poll()
        self._poll.register(stream_in, select.POLLIN)
        self.eof = False  # stdin closed (unix port with a pipe or file): nothing more will come
        # 10 bits a byte (8N1), rounded up: a FIFO believed emptier than it is means a
        # write that waits for the next FreeRTOS tick (10 ms: 86 us a byte at 115200
        # instead of 86.8 was that wait, one tick in a few hundred).
        self._us_per_byte = (10000000 + baud - 1) // baud
        self._fifo = 0  # bytes in the TX FIFO when last written
        self._fifo_t = clock.ticks_us()
        self.capacity = capacity
        self._q = []  # [line (bytes or list of pieces), droppable, length] oldest first
        self._qbytes = 0
        self._off = 0  # bytes of the head line already written
        self._hold_until = 0
        self._slow = 0  # holds in a row
        self._waited = 0  # pumps in a row with a write that waited
        self.stats = {"queued": 0, "dropped_lines": 0, "dropped_bytes": 0, "slow_writes": 0, "worst_write_us": 0}

    def _ready(self):
        for ev in self._poll.poll(0):
            if ev[1] & (select.POLLIN | select.POLLHUP | select.POLLERR):
                return True
        return False

    def read_available(self, max_bytes=128):
        """Bytes already waiting on stdin (at most max_bytes); b'' if none. Never blocks."""
        if self.eof:
            return b""
        got = bytearray()
        while len(got) < max_bytes and self._ready():
            b = self._rd.read(1)
            if not b:
                self.eof = True
                break
            if isinstance(b, str):
                b = b.encode()
            got += b
        return bytes(got)

    # ---- output --------------------------------------------------------------------
    def write(self, line, droppable=False):
        """Queue one line: bytes, or a list of bytes pieces (a long answer, kept in
        pieces so that it never needs one block of its whole size). `droppable`:
        telemetry or an event, dropped first."""
        n = len(line)
        if not isinstance(line, (bytes, bytearray)):
            n = 0
            for piece in line:
                n += len(piece)
        self._q.append([line, droppable, n])
        self._qbytes += n
        self.stats["queued"] += 1
        while self._qbytes > self.capacity and len(self._q) > 1:
            self._drop_one()

    def _drop_one(self):
        # the oldest droppable line not being written; else the oldest whole line
        q = self._q
        victim = -1
        for i in range(1 if self._off else 0, len(q)):
            if q[i][1]:
                victim = i
                break
        if victim < 0:
            victim = 1 if self._off else 0
        n = q.pop(victim)[2]
        self._qbytes -= n
        self.stats["dropped_lines"] += 1
        self.stats["dropped_bytes"] += n

    def pending(self):
        return self._qbytes - self._off

    def pump(self, now_ms):
        """Write what the TX FIFO has room for, at most. Call once per tick."""
        clk = self._clk
        if not self._q or clk.ticks_diff(now_ms, self._hold_until) < 0:
            return 0
        t = clk.ticks_us()
        left = self._fifo - clk.ticks_diff(t, self._fifo_t) // self._us_per_byte
        room = FIFO - (left if left > 0 else 0)
        sent = 0
        slow = 0  # the wait (us) of the write that waited, if one did
        while self._q and sent < room:
            line, _, size = self._q[0]
            off = self._off
            if not isinstance(line, (bytes, bytearray)):
                # a line in pieces: the piece holding offset `off`
                for piece in line:
                    if off < len(piece):
                        line = piece
                        break
                    off -= len(piece)
            n = min(len(line) - off, room - sent)
            t0 = clk.ticks_us()
            w = self._wr.write(memoryview(line)[off:off + n])  # pyright: ignore[reportCallIssue, reportArgumentType]
            dt = clk.ticks_diff(clk.ticks_us(), t0)
            if dt > self.stats["worst_write_us"]:
                self.stats["worst_write_us"] = dt
            if w:
                sent += w
                self._off += w
                if self._off >= size:
                    self._q.pop(0)
                    self._qbytes -= size
                    self._off = 0
            if dt > _SLOW_US:
                slow = dt
                break
            if not w:
                break  # a non-blocking stream that could not take it now
        if sent:
            self._fifo = FIFO - room + sent
            self._fifo_t = clk.ticks_us()
        if slow:
            self.stats["slow_writes"] += 1
            self._waited += 1
            if slow > _LONG_US or self._waited > 1:
                # The host is not reading: hold output back (longer each time in a row)
                # rather than stall the next ticks the same way.
                self._hold_until = clk.ticks_add(clk.ticks_ms(), _HOLD_MS[min(self._slow, len(_HOLD_MS) - 1)])
                self._slow += 1
        else:
            self._waited = 0
            self._slow = 0
        return sent

    def drain(self, timeout_ms=200):
        """Before a reset: let queued output go, within a bound (the power-fail budget
        never includes this; it is used only on a commanded reset)."""
        clk = self._clk
        t0 = clk.ticks_ms()
        while self._q and clk.ticks_diff(clk.ticks_ms(), t0) < timeout_ms:
            self.pump(clk.ticks_ms())
            clk.sleep_ms(10)

    def status(self):
        s = dict(self.stats)
        s["pending"] = self.pending()
        return s
