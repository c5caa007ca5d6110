# Console protocol, board side (hearth.runtime.protocol), run inside MicroPython.
import json
import binascii
from hearth.runtime.protocol import Protocol, CommandError, crc_hex


def frame(seq, cmd, args=None):
    body = ("%d:%s" % (seq, cmd)).encode()
    if args is not None:
        body += b" " + (args if isinstance(args, bytes) else json.dumps(args).encode())
    return b"@" + body + b"*" + (b"%08x" % (binascii.crc32(body) & 0xFFFFFFFF)) + b"\n"


def parse(line):
    # -> (lead, seq, ok, payload) where payload is the JSON value or (code, message)
    assert line.endswith(b"\n"), line
    line = line[:-1]
    star = line.rfind(b"*")
    assert star > 0, line
    body = line[1:star]
    assert line[star + 1:] == crc_hex(body), ("bad crc", line)
    lead = line[:1]
    if lead == b"!":
        sp = body.find(b" ")
        return lead, body[:sp].decode(), True, json.loads(body[sp + 1:])
    assert lead == b"=", line
    colon = body.find(b":")
    seq = int(body[:colon])
    rest = body[colon + 1:]
    if rest.startswith(b"ok "):
        return lead, seq, True, json.loads(rest[3:])
    assert rest.startswith(b"err "), line
    parts = rest[4:].decode().split(" ", 1)
    return lead, seq, False, (parts[0], parts[1] if len(parts) > 1 else "")


class Actuator:
    def __init__(self):
        self.count = 0
        self.seen = []

    def move(self, args):
        if "mm" not in args:
            raise CommandError("BAD_ARGS", "need mm")
        if args["mm"] > 100:
            raise CommandError("RANGE", "mm > 100")
        self.count += 1
        self.seen.append(args["mm"])
        return {"count": self.count}


def make(max_line=256, cache=16):
    p = Protocol(max_line=max_line, cache=cache)
    a = Actuator()
    p.register("hello", lambda args: {"fw": "test", "proto": 1})
    p.register("status", lambda args: {"count": a.count})
    p.register("echo", lambda args: args)
    p.register("move", a.move, writes=True)

    def boom(args):
        raise ValueError("kaboom")
    p.register("boom", boom, writes=True)
    p.register("nodict", lambda args: [1, 2])
    return p, a


def one(p, data):
    from hearth.runtime.protocol import line_bytes

    out = p.feed(data)
    assert len(out) == 1, out
    return parse(line_bytes(out[0]))  # a long answer comes as pieces (feed's contract)


def test_long_answer_comes_in_pieces_with_the_bytes_of_one_json_dumps():
    from hearth.runtime.protocol import line_bytes

    p = Protocol()
    big = {"state": "READY", "n": [1, 2.5, None], "role": {"a": "x" * 300, "b": {"c": True, "d": "\u00e9\n"}},
           "gc": {"live": 90000, "worst_us": 800}, "e": {}}
    p.register("status", lambda args: big)
    out = p.feed(frame(5, "status"))
    assert len(out) == 1 and isinstance(out[0], list)  # pieces, no block of the whole size
    assert max(len(x) for x in out[0]) < 320
    line = line_bytes(out[0])
    assert line == b"=5:ok " + json.dumps(big).encode() + b"*" + crc_hex(b"5:ok " + json.dumps(big).encode()) + b"\n"
    assert parse(line) == (b"=", 5, True, big)
    small = p.feed(frame(6, "help"))[0]
    assert isinstance(small, bytes) and parse(small)[2]


def test_framed_ok_roundtrip():
    p, a = make()
    lead, seq, ok, data = one(p, frame(7, "hello"))
    assert (lead, seq, ok) == (b"=", 7, True)
    assert data == {"fw": "test", "proto": 1}
    _, seq, ok, data = one(p, frame(999999999, "echo", {"x": [1, "two", None]}))
    assert seq == 999999999 and ok and data == {"x": [1, "two", None]}


def test_exact_response_bytes():
    p, a = make()
    out = p.feed(frame(12, "echo", {}))
    body = b"12:ok {}"
    assert out == [b"=" + body + b"*" + crc_hex(body) + b"\n"], out


def test_crc_matches_binascii_over_body_only():
    p, a = make()
    f = frame(3, "hello")
    body = f[1:f.rfind(b"*")]
    assert body == b"3:hello"
    assert f.endswith(b"*%08x\n" % (binascii.crc32(b"3:hello") & 0xFFFFFFFF))
    assert one(p, f)[2]


def test_trailing_cr_and_crlf_and_cr_only():
    p, a = make()
    assert one(p, frame(1, "hello")[:-1] + b"\r\n")[1] == 1
    assert one(p, frame(2, "hello")[:-1] + b"\r")[1] == 2
    # a CR alone ends a line (what a terminal sends for Enter)
    out = p.feed(b"status\rstatus\r\n")
    assert len(out) == 2


def test_bad_crc():
    p, a = make()
    f = bytearray(frame(5, "move", {"mm": 1}))
    f[-3] = ord("0") if f[-3] != ord("0") else ord("1")
    _, seq, ok, (code, msg) = one(p, bytes(f))
    assert (seq, ok, code) == (5, False, "BAD_CRC")
    assert a.count == 0
    # body corruption: same answer, seq still echoed so the host can resend at once
    g = frame(6, "move", {"mm": 1}).replace(b'"mm": 1', b'"mm": 9')
    _, seq, ok, (code, msg) = one(p, g)
    assert (seq, ok, code) == (6, False, "BAD_CRC")
    assert a.count == 0
    # error for a corrupted frame is not cached: the resend is executed
    _, seq, ok, data = one(p, frame(6, "move", {"mm": 1}))
    assert ok and a.count == 1


def test_uppercase_crc_is_bad_frame():
    p, a = make()
    f = frame(5, "hello")
    star = f.rfind(b"*")
    g = f[:star + 1] + f[star + 1:-1].upper() + b"\n"
    if g != f:
        assert one(p, g)[3][0] == "BAD_FRAME"


def test_malformed_frames():
    p, a = make()
    cases = [
        b"@\n", b"@*\n", b"@1:hello\n", b"@1:hello*12345\n", b"@1:hello*123456789\n",
        b"@1:hello*zzzzzzzz\n",
    ]
    for c in cases:
        _, seq, ok, (code, msg) = one(p, c)
        assert not ok and code == "BAD_FRAME", (c, code)
    # valid crc but bad fields
    for body in (b"0:hello", b"01:hello", b"1234567890:hello", b"x:hello", b"hello",
                 b"1:", b"1:he*llo", b"1:h\xffllo", b"1: hello"):
        f = b"@" + body + b"*" + crc_hex(body) + b"\n"
        _, seq, ok, (code, msg) = one(p, f)
        assert not ok and code == "BAD_FRAME", (f, code)
        assert seq in (0, 1)
    assert a.count == 0


def test_unknown_command_and_bad_args():
    p, a = make()
    _, seq, ok, (code, msg) = one(p, frame(4, "nosuch"))
    assert (seq, ok, code) == (4, False, "UNKNOWN_CMD")
    assert "nosuch" in msg
    for args in (b"[1, 2]", b"3", b'"s"', b"{bad", b'{"mm": 1} x', b"null"):
        calls = a.count
        _, seq, ok, (code, msg) = one(p, frame(10 + len(args), "move", args))
        assert not ok and code == "BAD_ARGS", (args, code)
        assert a.count == calls
    # handler's own CommandError codes
    _, seq, ok, (code, msg) = one(p, frame(40, "move", {}))
    assert (ok, code, msg) == (False, "BAD_ARGS", "need mm")
    _, seq, ok, (code, msg) = one(p, frame(41, "move", {"mm": 1000}))
    assert (ok, code) == (False, "RANGE")
    assert a.count == 0
    # absent args and whitespace-only args mean {}
    assert one(p, frame(42, "echo"))[3] == {}


def test_handler_exception_is_internal_and_protocol_survives():
    p, a = make()
    _, seq, ok, (code, msg) = one(p, frame(8, "boom"))
    assert (seq, ok, code) == (8, False, "INTERNAL")
    assert "kaboom" in msg
    _, seq, ok, (code, msg) = one(p, frame(9, "nodict"))
    assert (ok, code) == (False, "INTERNAL")
    assert one(p, frame(10, "hello"))[2]


def test_cached_replay_acts_once():
    p, a = make()
    f = frame(77, "move", {"mm": 5})
    first = p.feed(f)
    again = p.feed(f)
    assert first == again and len(first) == 1
    assert a.count == 1
    # an error answer is replayed too (one seq, one decision)
    e = frame(78, "move", {"mm": 500})
    assert p.feed(e) == p.feed(e)
    # same seq, different body: a new request, executed
    _, seq, ok, data = one(p, frame(77, "move", {"mm": 6}))
    assert seq == 77 and ok and data == {"count": 2}
    assert a.seen == [5, 6]
    # ... and it replaced the old entry: the old body is a new request again
    _, seq, ok, data = one(p, frame(77, "move", {"mm": 5}))
    assert data == {"count": 3}


def test_cache_holds_last_16():
    p, a = make(cache=16)
    frames = [frame(100 + i, "move", {"mm": i}) for i in range(17)]
    answers = [p.feed(f) for f in frames]
    assert a.count == 17
    for i in range(1, 17):
        assert p.feed(frames[i]) == answers[i]
    assert a.count == 17
    # seq 100 was the oldest of 17: evicted, so it runs again
    p.feed(frames[0])
    assert a.count == 18


def test_unframed_read_only_vs_write():
    p, a = make()
    lead, seq, ok, data = one(p, b"hello\n")
    assert (lead, seq, ok) == (b"=", 0, True) and data["fw"] == "test"
    assert one(p, b"  status  \r\n")[3] == {"count": 0}
    assert one(p, b'echo {"a": 1}\n')[3] == {"a": 1}
    _, seq, ok, (code, msg) = one(p, b'move {"mm": 1}\n')
    assert (seq, ok, code) == (0, False, "READ_ONLY")
    assert a.count == 0
    _, seq, ok, (code, msg) = one(p, b"what\n")
    assert (seq, code) == (0, "UNKNOWN_CMD")
    h = one(p, b"help\n")[3]
    assert h["commands"]["move"] == "w" and h["commands"]["hello"] == "r"
    # unframed answers are not cached: a repeat runs again
    assert one(p, b"status\n")[3] == {"count": 0}


def test_blank_and_control_lines_ignored():
    p, a = make()
    assert p.feed(b"\n\r\n   \n\t\r\x03\r\x01\r\x02\n\x04\n\x7f\n") == []
    # board output looped back by an echoing terminal is never answered
    assert p.feed(b"=5:ok {}*00000000\n!tel {}*00000000\n") == []
    # leading control bytes before a frame are tolerated
    assert one(p, b"\x01\x02" + frame(3, "hello"))[1] == 3


def test_partial_lines_across_feeds():
    p, a = make()
    f = frame(21, "move", {"mm": 2}) + frame(22, "hello")
    out = []
    for i in range(len(f)):
        out += p.feed(f[i:i + 1])
    assert len(out) == 2
    assert parse(out[0])[1] == 21 and parse(out[1])[1] == 22
    assert a.count == 1
    # several lines in one chunk, split mid-frame
    g = frame(23, "hello") + frame(24, "hello") + frame(25, "hello")
    out = p.feed(g[:10]) + p.feed(g[10:50]) + p.feed(g[50:])
    assert [parse(x)[1] for x in out] == [23, 24, 25]


def test_too_long_line():
    p, a = make(max_line=64)
    pad = "x" * 80
    f = frame(31, "move", {"mm": 1, "pad": pad})
    assert len(f) > 65
    # fed in pieces; answered once, when the line ends, with the seq from its start
    out = []
    for i in range(0, len(f), 7):
        out += p.feed(f[i:i + 7])
    assert len(out) == 1
    _, seq, ok, (code, msg) = parse(out[0])
    assert (seq, ok, code) == (31, False, "TOO_LONG")
    assert a.count == 0
    _, seq, ok, (code, msg) = one(p, b"z" * 500 + b"\r\n")
    assert (seq, code) == (0, "TOO_LONG")
    # exactly max_line is fine; the next line is parsed normally
    body = b"32:echo {\"p\": \"" + b"y" * 30 + b"\"}"
    line = b"@" + body + b"*" + crc_hex(body)
    line = line + b" " * (64 - len(line))
    assert len(line) == 64
    assert one(p, line + b"\n")[2]
    assert one(p, b" " * 65 + b"\n")[3][0] == "TOO_LONG"
    assert one(p, frame(33, "hello"))[2]


def test_buffer_is_bounded():
    p, a = make(max_line=64)
    buf = p._buf
    for i in range(200):
        p.feed(b"q" * 97)
    assert p._buf is buf and len(buf) == 64
    out = p.feed(b"\n")
    assert len(out) == 1 and parse(out[0])[3][0] == "TOO_LONG"


def test_events():
    p, a = make()
    lead, kind, ok, data = parse(p.frame_event("tel", {"t": 31.5}))
    assert (lead, kind, data) == (b"!", "tel", {"t": 31.5})
    assert parse(p.frame_event("evt", {"e": "done"}))[1] == "evt"
    try:
        p.frame_event("foo", {})
    except ValueError:
        pass
    else:
        raise AssertionError("bad kind accepted")


def test_feed_never_raises_on_garbage():
    p, a = make(max_line=64)
    seed = 12345
    junk = bytearray(3000)
    for i in range(len(junk)):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        b = (seed >> 16) & 0xFF
        junk[i] = b if b != 3 else 4
    for i in range(0, len(junk), 37):
        out = p.feed(bytes(junk[i:i + 37]))
        for line in out:
            parse(line)
    p.feed(b"\n")
    assert one(p, frame(1, "hello"))[2]
    assert a.count == 0


def test_bad_error_code_from_handler_becomes_internal():
    p, a = make()

    def bad(args):
        raise CommandError("lower case", "x")
    p.register("bad", bad)
    assert one(p, frame(2, "bad"))[3][0] == "INTERNAL"

    def custom(args):
        raise CommandError("NO_PAYLOAD", "nothing latched")
    p.register("custom", custom)
    assert one(p, frame(3, "custom"))[3] == ("NO_PAYLOAD", "nothing latched")


def test_control_errors_answer_with_their_code():
    # Pure controllers raise ControlError (no wire types below the runtime); the
    # protocol answers it exactly like CommandError, a bad code still INTERNAL.
    from hearth.control import ControlError
    from hearth.control.gcode import GcodeError

    p, a = make()

    def refuse(args):
        raise ControlError("COLD", "nozzle at 20 C")
    p.register("refuse", refuse)
    assert one(p, frame(2, "refuse"))[3] == ("COLD", "nozzle at 20 C")

    def gcode(args):
        raise GcodeError("BAD_CHECKSUM", "resend")
    p.register("gcode", gcode)
    assert one(p, frame(3, "gcode"))[3] == ("BAD_CHECKSUM", "resend")

    def bad(args):
        raise ControlError("not a code", "x")
    p.register("bad", bad)
    assert one(p, frame(4, "bad"))[3][0] == "INTERNAL"
    assert a.count == 0

def test_messages_are_one_clean_line():
    p, a = make()

    def nasty(args):
        raise CommandError("STATE", "line1\nline2\r\xe9" + "z" * 300)
    p.register("nasty", nasty)
    out = p.feed(frame(2, "nasty"))
    assert len(out) == 1 and out[0].count(b"\n") == 1 and b"\r" not in out[0]
    code, msg = parse(out[0])[3]
    assert code == "STATE" and len(msg) <= 120 and msg.startswith("line1?line2??")


def test_keyboard_interrupt_is_not_swallowed():
    # Ctrl-C must still reach the app (outputs safe) and the REPL
    p, a = make()

    def stop(args):
        raise KeyboardInterrupt()
    p.register("stop", stop)
    try:
        p.feed(frame(2, "stop"))
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("KeyboardInterrupt swallowed")
    assert one(p, frame(3, "hello"))[2]


class _FakeIn:
    # a stream select.poll can watch: MicroPython polls a Python object via ioctl
    def __init__(self, data):
        self.data = bytearray(data)
        self.reads = []

    def ioctl(self, req, arg):
        if req == 3:  # MP_STREAM_POLL
            return arg & 1 if self.data else 0  # POLLIN
        return -1  # e.g. 10, MP_STREAM_GET_FILENO on the unix port: no fd, poll via ioctl

    def read(self, n):
        self.reads.append(n)
        b = bytes(self.data[:n])
        self.data = self.data[n:]
        return b


class _FakeOut:
    def __init__(self):
        self.got = b""

    def write(self, b):
        self.got += bytes(b[:3])  # a stream that takes at most 3 bytes a call
        return min(3, len(b))


class _Clock:
    # a console's clock whose time moves only when told (a write can "take" time)
    def __init__(self):
        self.us = 0

    def ticks_us(self):
        return self.us

    def ticks_ms(self):
        return self.us // 1000

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, b):
        return a + b

    def sleep_ms(self, ms):
        self.us += ms * 1000


class _SlowOut(_FakeOut):
    # a host that stopped reading: every write waits (USB-CDC's bounded wait)
    def __init__(self, clock, wait_us):
        _FakeOut.__init__(self)
        self.clock = clock
        self.wait_us = wait_us
        self.calls = 0

    def write(self, b):
        self.calls += 1
        self.clock.us += self.wait_us
        return _FakeOut.write(self, b)


def _console(out, **kw):
    import io
    from hearth.runtime.console import Console

    class In(io.IOBase, _FakeIn):
        def __init__(self, data):
            _FakeIn.__init__(self, data)

    fin = In(b"abcdef\n")
    return Console(_Clock(), stream_in=fin, stream_out=out, **kw), fin


def test_console_reads_without_blocking_and_writes_bytes():
    out = _FakeOut()
    con, fin = _console(out)
    assert con.read_available(2) == b"ab"
    assert con.read_available() == b"cdef\n"
    assert con.read_available() == b""  # nothing waiting: returns at once
    assert set(fin.reads) == {1}  # one byte per read, as the ESP32 needs
    con.write(b"=0:ok {}*12345678\n")
    assert out.got == b""  # write() only queues
    assert con.pump(0) == 18 and out.got == b"=0:ok {}*12345678\n"
    assert not con.eof


class _WholeOut(_FakeOut):
    def write(self, b):
        self.got += bytes(b)
        return len(b)


def test_console_pump_writes_only_what_the_fifo_has_room_for():
    out = _WholeOut()
    con, _ = _console(out, baud=115200)  # 86.8 us a byte on the wire
    clock = con._clk
    line = b"=1:ok " + b"x" * 725 + b"\n"  # a 731-byte answer: a latch status
    con.write(line)
    assert con.pump(clock.ticks_ms()) == 128  # the whole FIFO, at once
    clock.us += 5000  # half a tick later: 57.6 bytes have left the FIFO, room for 57
    assert con.pump(clock.ticks_ms()) == 57
    assert con.pump(clock.ticks_ms()) == 0  # no room yet: nothing, and no wait
    ticks = 2
    while con.pending():
        clock.us += 10000
        n = con.pump(clock.ticks_ms())
        assert n <= 116  # what 10 ms of wire frees
        ticks += 1
    assert out.got == line and ticks == 7  # the wire's pace: ~63 ms for 731 bytes
    assert con.stats["slow_writes"] == 0


def test_console_never_writes_past_the_room_the_wire_has_made():
    # At 115200 a byte takes 86.8 us. A console that counted 86 us would see room for
    # a 128th byte that is still on the wire; on the chip that write sleeps until the
    # next FreeRTOS tick (10 ms). At every instant across a FIFO's drain time, what
    # the console writes must fit what really left.
    for us in range(0, 11200, 50):
        out = _WholeOut()
        con, _ = _console(out, baud=115200)
        clock = con._clk
        con.write(b"y" * 400)
        assert con.pump(clock.ticks_ms()) == 128
        clock.us += us
        gone = us * 115200 // 10000000  # whole bytes that have left the FIFO
        assert con.pump(clock.ticks_ms()) <= min(gone, 128), us


def test_console_writes_a_line_in_pieces_at_the_wire_pace():
    out = _WholeOut()
    con, _ = _console(out, baud=115200)
    clock = con._clk
    pieces = [b"=1:ok ", b"{" + b"a" * 150, b", " + b"b" * 100 + b"}", b"*00000000\n"]
    whole = b"".join(pieces)
    con.write(b"!evt {}*00000000\n", droppable=True)
    con.write(pieces)
    assert con.pending() == len(whole) + 17
    assert con.pump(clock.ticks_ms()) == 128
    while con.pending():
        clock.us += 10000
        assert con.pump(clock.ticks_ms()) <= 116
    assert out.got == b"!evt {}*00000000\n" + whole
    con.write(pieces)
    con.write(b"x" * 4090)  # over capacity: the pieced line goes whole, counted
    assert con.stats["dropped_lines"] == 1 and con.stats["dropped_bytes"] == len(whole)


def test_console_queue_drops_events_first_then_oldest_and_counts():
    out = _FakeOut()
    con, _ = _console(out, capacity=100)
    con.write(b"A" * 40)
    con.write(b"e" * 40, droppable=True)
    con.write(b"B" * 40)  # over capacity: the event goes
    assert con.stats["dropped_lines"] == 1 and con.pending() == 80
    con.write(b"C" * 40)  # over again: the oldest answer goes
    assert con.stats["dropped_lines"] == 2 and con.stats["dropped_bytes"] == 80
    while con.pending():
        con.pump(0)
    assert out.got == b"B" * 40 + b"C" * 40


def _waiting_console(wait_us, lines):
    # a console whose every write waits wait_us, with `lines` answers queued
    out = _SlowOut(None, wait_us)
    con, _ = _console(out)
    out.clock = con._clk
    for i in range(lines):
        con.write(b"=%d:ok {}*00000000\n" % (i + 1))
    return con, out, con._clk


def test_console_holds_output_back_after_a_write_that_waited():
    con, out, clock = _waiting_console(500000, 20)  # USB-CDC: 500 ms, then the chip drops the rest
    con.pump(clock.ticks_ms())
    calls = out.calls
    assert con.stats["slow_writes"] == 1 and calls >= 1
    # for the next 250 ms the console writes nothing: ticks are not stalled again
    for t in range(0, 240, 10):
        assert con.pump(clock.ticks_ms() + t) == 0
    assert out.calls == calls
    con.pump(clock.ticks_ms() + 300)  # then it tries again (and backs off longer)
    assert out.calls > calls and con.stats["slow_writes"] == 2


def test_console_sees_the_s3_builds_short_cdc_wait_and_not_a_plain_write():
    # printer-s3's MicroPython waits 2 ms (in ms ticks: 1-2 ms) of no progress for a host
    # that does not read; a write that does not wait copies into a FIFO in tens of us.
    # One short wait alone holds nothing back (the scheduler may delay any one write);
    # waits in two pumps in a row do.
    for wait_us, slow in ((1200, 1), (2000, 1), (60, 0)):
        con, out, clock = _waiting_console(wait_us, 40)
        con.pump(clock.ticks_ms())
        assert con.stats["slow_writes"] == slow, (wait_us, con.stats)
        calls = out.calls
        clock.us += 10000
        assert con.pump(clock.ticks_ms()) > 0 and out.calls > calls  # not held after one wait
        clock.us += 10000
        calls = out.calls
        sent = con.pump(clock.ticks_ms())
        if slow:
            # the second pump in a row that waited: now held for 250 ms
            assert con.stats["slow_writes"] == 2 and out.calls == calls, con.stats
            assert sent == 0
        else:
            assert sent > 0 and con.stats["slow_writes"] == 0
