# Non-blocking console I/O over the REPL's stdin/stdout (ESP32 USB/UART, unix port).
#
# read_available() never waits: select.poll(0) says whether a byte is ready, and it is
# read one byte at a time (on the ESP32, stdin reads block until their count is
# satisfied, so only a byte that poll announced may be read). Ctrl-C is not seen
# here: MicroPython turns it into KeyboardInterrupt, which is left to propagate so the
# app can put outputs in their safe state and drop to the REPL.
import sys
import select


class Console:
    def __init__(self, stream_in=None, stream_out=None):
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

    def write(self, line_bytes):
        """Write a whole line (bytes). Blocks until written, as print() would."""
        data = line_bytes
        n = len(data)
        done = 0
        tries = 0
        while done < n:
            w = self._wr.write(data[done:] if done else data)
            if not w:
                # None: a non-blocking stream could not take it now; retry a bounded
                # number of times rather than spin forever
                tries += 1
                if tries > 100:
                    return
                continue
            done += w
