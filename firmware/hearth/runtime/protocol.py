# Console protocol, board side. Pure: bytes in, bytes out, no I/O.
#
# The wire format is specified in docs/protocol.md; this module is its reference
# implementation on the board. Summary:
#   request   @<seq>:<cmd>[ <json-object>]*<crc8>      (crc32 of the bytes between @ and *)
#   response  =<seq>:ok <json>*<crc8>  |  =<seq>:err <CODE> <message>*<crc8>
#   event     !tel <json>*<crc8>  |  !evt <json>*<crc8>
#   unframed  <cmd>[ <json-object>]   read-only commands only, answered with seq 0
#
# feed() never raises (except KeyboardInterrupt, which must reach the REPL).
import json
import binascii
from micropython import const

from hearth.control import ControlError

PROTOCOL_VERSION = 1
MAX_SEQ = 999999999
MAX_CMD = 32
MAX_MSG = 120

BAD_FRAME = "BAD_FRAME"
BAD_CRC = "BAD_CRC"
TOO_LONG = "TOO_LONG"
UNKNOWN_CMD = "UNKNOWN_CMD"
BAD_ARGS = "BAD_ARGS"
READ_ONLY = "READ_ONLY"
STATE = "STATE"
RANGE = "RANGE"
BUSY = "BUSY"
INTERNAL = "INTERNAL"
ERROR_CODES = (BAD_FRAME, BAD_CRC, TOO_LONG, UNKNOWN_CMD, BAD_ARGS, READ_ONLY,
               STATE, RANGE, BUSY, INTERNAL)

_CR = const(13)
_LF = const(10)
_AT = const(64)    # '@'
_EQ = const(61)    # '='
_BANG = const(33)  # '!'
_STAR = const(42)  # '*'
_COLON = const(58)
_SPACE = const(32)


class CommandError(Exception):
    """Raised by a handler for a clean `err <code> <message>` answer."""

    def __init__(self, code, message=""):
        super().__init__(code, message)
        self.code = code
        self.message = message


def crc_hex(data):
    """8 lowercase hex digits of CRC-32 (binascii.crc32) over data, as bytes."""
    return b"%08x" % (binascii.crc32(data) & 0xFFFFFFFF)


def _blank(c):
    # bytes ignored around a line: space, control characters, DEL
    return c <= 32 or c == 127


def _cmd_ok(name):
    n = len(name)
    if n < 1 or n > MAX_CMD:
        return False
    for c in name:
        if not ((97 <= c <= 122) or (65 <= c <= 90) or (48 <= c <= 57) or c == 95 or c == 46 or c == 45):
            return False
    return True


def _seq_of(text):
    # a seq is 1..9 decimal digits without a leading zero; returns 0 if invalid
    n = len(text)
    if n < 1 or n > 9 or text[0] == 48:
        return 0
    for c in text:
        if c < 48 or c > 57:
            return 0
    return int(text)


def _code_ok(code):
    # error codes are UPPER_SNAKE words: A-Z, 0-9, _ ; 1..24 characters
    if not isinstance(code, str) or not 0 < len(code) <= 24:
        return False
    for ch in code:
        if not ("A" <= ch <= "Z" or "0" <= ch <= "9" or ch == "_"):
            return False
    return True


def _hex8_ok(text):
    if len(text) != 8:
        return False
    for c in text:
        if not ((48 <= c <= 57) or (97 <= c <= 102)):
            return False
    return True


def _tentative_seq(line, start, end):
    # the seq of a line that failed validation, if it looks like '@<seq>:'; else 0
    if start >= end or line[start] != _AT:
        return 0
    colon = line.find(b":", start + 1, end) if end - start > 1 else -1
    if colon < 0 or colon - start - 1 > 9:
        return 0
    return _seq_of(line[start + 1:colon])


def _clean(msg):
    # an error message is one line of printable ASCII, at most MAX_MSG characters
    if not isinstance(msg, str):
        try:
            msg = str(msg)
        except Exception:  # noqa: BLE001
            msg = "?"
    if len(msg) > MAX_MSG:
        msg = msg[:MAX_MSG - 3] + "..."
    out = []
    for ch in msg:
        o = ord(ch)
        out.append(ch if 32 <= o < 127 else "?")
    return "".join(out)


# Answers up to this long are one bytes object, longer ones a list of pieces of at most
# this size. 128, not 256: late in a job on a 68 KiB heap (printer, ROMFS) the free space
# is many small holes, and a `job` answer failed for want of one 257-byte block.
_JOIN_MAX = const(128)


def _add(out, b):
    # small pieces are joined up to _JOIN_MAX: the list of pieces stays short (its own
    # array is a block too: 128 pieces would be 512 bytes)
    if len(out) > 2 and len(out[-1]) + len(b) <= _JOIN_MAX:
        out[-1] += b
    else:
        out.append(b)


def _pieces(obj, out, depth):
    # JSON of obj appended to out as bytes pieces: a dict's entries one by one (down to
    # `depth` levels), anything else whole; the same text as json.dumps(obj).
    if depth and isinstance(obj, dict) and obj:
        sep = b"{"
        for k in obj:
            _add(out, sep + json.dumps(k).encode() + b": ")
            _pieces(obj[k], out, depth - 1)
            sep = b", "
        _add(out, b"}")
    else:
        _add(out, json.dumps(obj).encode())


def line_bytes(line):
    """A line from feed() as one bytes object (long answers come as a list of pieces)."""
    return line if isinstance(line, (bytes, bytearray)) else b"".join(line)


class Protocol:
    """Board side of the console protocol.

    Protocol(max_line=256, cache=16)
      .register(name, handler, writes=False)   handler(args: dict) -> dict
      .feed(data: bytes) -> list of response lines, each ending in b"\\n": bytes, or for
                               a long answer a list of bytes pieces (line_bytes() joins)
      .frame_event(kind, obj) -> bytes          kind "tel" or "evt"
    """

    def __init__(self, max_line=256, cache=16):
        if max_line < 32:
            raise ValueError("max_line must be >= 32")
        if cache < 1:
            raise ValueError("cache must be >= 1")
        self.max_line = max_line
        self._buf = bytearray(max_line)
        self._mv = memoryview(self._buf)
        self._len = 0
        self._overflow = False
        self._handlers = {}
        # response cache: parallel fixed-size lists used as a FIFO ring
        self._c_seq = [0] * cache
        self._c_crc = [b""] * cache
        self._c_resp = [b""] * cache
        self._c_next = 0
        self.stats = {"lines": 0, "ok": 0, "err": 0, "replayed": 0, "ignored": 0}
        self.register("help", self._help)

    # -- registration ---------------------------------------------------------------

    def register(self, name, handler, writes=False, named=False):
        # named: handler(name, args), one handler for several commands (the app's
        # rarely used ones, loaded on demand)
        if isinstance(name, str):
            name = name.encode()
        if not _cmd_ok(name):
            raise ValueError("bad command name %r" % (name,))
        self._handlers[name] = (handler, bool(writes), named)

    def _help(self, args):
        cmds = {}
        for name in self._handlers:
            cmds[name.decode()] = "w" if self._handlers[name][1] else "r"
        return {"proto": PROTOCOL_VERSION, "max_line": self.max_line, "commands": cmds}

    # -- framing helpers ------------------------------------------------------------

    def _frame(self, lead, body):
        # One allocation of the line's size (a status answer is ~1 KB: each copy of it
        # is a hole in the heap of a small board).
        return b"%s%s*%s\n" % (lead, body, crc_hex(body))

    def _ok(self, seq, result):
        # A long answer (a status is ~1 KB) is built and queued as pieces of its JSON,
        # one per value, never as one block: on the small heap of a busy board a free
        # block of the whole answer's size is what runs out first (fragmentation), and
        # json.dumps grows its buffer by reallocation. The CRC runs over the pieces; the
        # bytes on the wire are those of json.dumps(result).
        out = [b"=", b"%d:ok " % seq]
        _pieces(result, out, 3)
        n = 0
        crc = 0
        for i in range(1, len(out)):
            crc = binascii.crc32(out[i], crc)
            n += len(out[i])
        out.append(b"*%08x\n" % (crc & 0xFFFFFFFF))
        if n <= _JOIN_MAX:
            return b"".join(out)
        return out

    def _err(self, seq, code, message):
        self.stats["err"] += 1
        return self._frame(b"=", ("%d:err %s %s" % (seq, code, _clean(message))).encode())

    def frame_event(self, kind, obj):
        """One unsolicited line: b'!tel {...}*crc\\n' or b'!evt {...}*crc\\n'."""
        if kind != "tel" and kind != "evt":
            raise ValueError("event kind must be 'tel' or 'evt'")
        return self._frame(b"!", kind.encode() + b" " + json.dumps(obj).encode())

    # -- input ------------------------------------------------------------------------

    def reset(self):
        """Forget a partial input line (the response cache is kept)."""
        self._len = 0
        self._overflow = False

    def feed(self, data):
        """Take any number of bytes; return the response lines for completed lines."""
        out = []
        try:
            if isinstance(data, str):
                data = data.encode()
            elif not isinstance(data, (bytes, bytearray)):
                data = bytes(data)
            n = len(data)
            pos = 0
            nl = -2  # next LF / CR at or after pos; -1: none left; -2: not searched yet
            nc = -2
            while pos < n:
                # next line terminator (LF or CR) at or after pos; each search runs once
                if nl != -1 and nl < pos:
                    nl = data.find(b"\n", pos)
                if nc != -1 and nc < pos:
                    nc = data.find(b"\r", pos)
                lf = nl if nc < 0 or (0 <= nl < nc) else nc
                end = n if lf < 0 else lf
                k = end - pos
                if k:
                    if self._overflow:
                        pass
                    elif self._len + k > self.max_line:
                        room = self.max_line - self._len
                        if room:
                            self._mv[self._len:self.max_line] = memoryview(data)[pos:pos + room]
                            self._len = self.max_line
                        self._overflow = True
                    else:
                        self._mv[self._len:self._len + k] = memoryview(data)[pos:end]
                        self._len += k
                if lf < 0:
                    break
                pos = lf + 1
                r = self._line_done()
                if r is not None:
                    out.append(r)
        except Exception as e:  # noqa: BLE001 - feed must never raise
            self._len = 0
            self._overflow = False
            try:
                out.append(self._err(0, INTERNAL, "protocol: %s" % (e,)))
            except Exception:  # noqa: BLE001
                pass
        return out

    def _line_done(self):
        n = self._len
        over = self._overflow
        self._len = 0
        self._overflow = False
        buf = self._buf
        start = 0
        while start < n and _blank(buf[start]):
            start += 1
        if over:
            self.stats["lines"] += 1
            line = bytes(self._mv[:n])
            return self._err(_tentative_seq(line, start, n), TOO_LONG,
                             "line longer than %d bytes, discarded" % self.max_line)
        end = n
        while end > start and _blank(buf[end - 1]):
            end -= 1
        if start == end:
            return None
        c = buf[start]
        if c == _EQ or c == _BANG:
            # our own output looped back (an echoing terminal): never answer it
            self.stats["ignored"] += 1
            return None
        self.stats["lines"] += 1
        line = bytes(self._mv[start:end])
        try:
            if c == _AT:
                return self._framed(line)
            return self._unframed(line)
        except Exception as e:  # noqa: BLE001
            return self._err(0, INTERNAL, "protocol: %s" % (e,))

    # -- requests ---------------------------------------------------------------------

    def _framed(self, line):
        n = len(line)
        seq = _tentative_seq(line, 0, n)
        star = line.rfind(b"*")
        if star < 1 or not _hex8_ok(line[star + 1:]):
            return self._err(seq, BAD_FRAME, "expected @<seq>:<cmd>[ <json>]*<crc32 hex8>")
        body = line[1:star]
        crc = line[star + 1:]
        if crc_hex(body) != crc:
            return self._err(seq, BAD_CRC, "crc mismatch, resend")
        if seq == 0:
            return self._err(0, BAD_FRAME, "seq must be 1..999999999 without leading zeros")
        colon = body.find(b":")
        sp = body.find(b" ", colon + 1)
        if sp < 0:
            name = body[colon + 1:]
            argtext = b""
        else:
            name = body[colon + 1:sp]
            argtext = body[sp + 1:]
        if not _cmd_ok(name):
            return self._err(seq, BAD_FRAME, "bad command name")
        # a repeated (seq, crc) is a retransmission: answer from the cache, act never
        cs = self._c_seq
        slot = -1
        for i in range(len(cs)):
            if cs[i] == seq:
                if self._c_crc[i] == crc:
                    self.stats["replayed"] += 1
                    return self._c_resp[i]
                slot = i
                break
        resp = self._dispatch(seq, name, argtext, True)
        h = self._handlers.get(name)
        if h is not None and not h[1]:
            # Answers to read-only commands are not kept: re-running a read acts on
            # nothing, and 16 cached `status` answers would hold ~20 KB of a ~100 KB
            # heap. Answers to writing (and unknown) commands are always kept.
            if slot >= 0:
                cs[slot] = 0
            return resp
        if slot < 0:
            slot = self._c_next
            self._c_next = (slot + 1) % len(cs)
        cs[slot] = seq
        self._c_crc[slot] = crc
        self._c_resp[slot] = resp  # pyright: ignore[reportCallIssue, reportArgumentType] - bytes or pieces
        return resp

    def _unframed(self, line):
        sp = line.find(b" ")
        if sp < 0:
            name = line
            argtext = b""
        else:
            name = line[:sp]
            argtext = line[sp + 1:]
        return self._dispatch(0, name, argtext, False)

    def _dispatch(self, seq, name, argtext, framed):
        h = self._handlers.get(name) if _cmd_ok(name) else None
        if h is None:
            shown = name if len(name) <= MAX_CMD else name[:MAX_CMD] + b"..."
            try:
                shown = shown.decode()
            except Exception:  # noqa: BLE001 - not UTF-8: show it escaped
                shown = repr(shown)
            return self._err(seq, UNKNOWN_CMD, "unknown command '%s'; send help for the list" % shown)
        handler, writes, named = h
        if writes and not framed:
            return self._err(seq, READ_ONLY,
                             "'%s' changes the board: send it framed (hearth tools do)" % name.decode())
        args = {}
        i = 0
        while i < len(argtext) and _blank(argtext[i]):
            i += 1
        if i < len(argtext):
            try:
                args = json.loads(argtext)
            except Exception:  # noqa: BLE001 - ValueError, UnicodeError
                return self._err(seq, BAD_ARGS, "arguments are not valid JSON")
            if not isinstance(args, dict):
                return self._err(seq, BAD_ARGS, "arguments must be a JSON object")
        try:
            result = handler(name.decode(), args) if named else handler(args)
        except (CommandError, ControlError) as e:  # a controller's refusal: same codes
            if _code_ok(e.code):
                return self._err(seq, e.code, e.message)
            return self._err(seq, INTERNAL, "bad error code %r: %s" % (e.code, e.message))
        except Exception as e:  # noqa: BLE001 - a handler bug must not kill the protocol
            return self._err(seq, INTERNAL, "%s: %s" % (type(e).__name__, e))
        if result is None:
            result = {}
        if not isinstance(result, dict):
            return self._err(seq, INTERNAL, "handler returned %s, not a dict" % type(result).__name__)
        try:
            resp = self._ok(seq, result)
        except Exception as e:  # noqa: BLE001 - not serialisable
            return self._err(seq, INTERNAL, "result not JSON: %s" % (e,))
        self.stats["ok"] += 1
        return resp
