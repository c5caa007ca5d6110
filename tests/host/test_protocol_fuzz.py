"""Fuzz the firmware console protocol inside the MicroPython unix port.

A seeded generator writes well over 100,000 lines (valid frames, replays, out-of-order
and reused seqs, bit flips, truncations, bad CRCs, over-long lines, random bytes,
unframed commands, control characters \\x01 \\x02 \\x04, never \\x03) into one stream.
tests/host/proto_board.py feeds it to hearth.runtime.protocol.Protocol in varying chunk
sizes. An independent model of docs/protocol.md, written here from the spec, predicts
the answer to every line; the board's output must match it line for line, and the
"actuator" (the `bump` counter) must move exactly once per distinct valid writing
request.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.protocol import Reply, crc_hex, encode_request, parse_line

ROOT = Path(__file__).resolve().parents[2]
BOARD = Path(__file__).with_name("proto_board.py")
SEED = int(os.environ.get("HEARTH_FUZZ_SEED", "20240611"))
N_LINES = int(os.environ.get("HEARTH_FUZZ_LINES", "120000"))
MAX_LINE = 256
CACHE = 16

HANDLERS = {  # name -> writes; as registered by proto_board.py (+ the built-in help)
    b"help": False, b"hello": False, b"status": False, b"count": False, b"echo": False,
    b"bump": True, b"drop": True, b"noise": True, b"fail": True,
}
HELLO = {"fw": "proto-board", "proto": 1, "board": "unix", "role": "test", "max_line": MAX_LINE}

_CMD_RE = re.compile(rb"^[A-Za-z0-9_.\-]{1,32}$")
_TENT_RE = re.compile(rb"^@([1-9][0-9]{0,8}):")
_HEX8_RE = re.compile(rb"^[0-9a-f]{8}$")


def micropython() -> tuple[list[str], dict[str, str]]:
    from host_tools import interp

    return interp.command(None, "256K", build_if_missing=True)


# -- the model: docs/protocol.md, independently --------------------------------------


@dataclass
class Expect:
    seq: int
    ok: bool
    data: Any = None  # expected ok payload (None: do not compare)
    code: str = ""
    replay_of: int = -1  # index of the expected answer this one repeats byte for byte
    valid: bool = False  # the line was a valid frame (reached the command table)
    write: bool = False  # ... of a writing command that acted


def _strip(line: bytes) -> bytes:
    s, e = 0, len(line)
    while s < e and (line[s] <= 32 or line[s] == 127):
        s += 1
    while e > s and (line[e - 1] <= 32 or line[e - 1] == 127):
        e -= 1
    return line[s:e]


def _tentative(s: bytes) -> int:
    m = _TENT_RE.match(s)
    return int(m.group(1)) if m else 0


class Model:
    def __init__(self) -> None:
        self.count = 0
        self.c_seq = [0] * CACHE
        self.c_crc = [b""] * CACHE
        self.c_idx = [-1] * CACHE  # index into the expectation list of the cached answer
        self.c_next = 0
        self.expect: list[Expect] = []

    def line(self, raw: bytes) -> None:
        if len(raw) > MAX_LINE:
            prefix = raw[:MAX_LINE]
            s = 0
            while s < len(prefix) and (prefix[s] <= 32 or prefix[s] == 127):
                s += 1
            self._err(_tentative(prefix[s:]), "TOO_LONG")
            return
        s = _strip(raw)
        if not s or s[:1] in (b"=", b"!"):
            return
        if s[:1] == b"@":
            self._framed(s)
        else:
            name, _, argtext = s.partition(b" ")
            self._dispatch(0, name, argtext, framed=False)

    def _err(self, seq: int, code: str) -> None:
        self.expect.append(Expect(seq, False, code=code))

    def _framed(self, s: bytes) -> None:
        seq = _tentative(s)
        star = s.rfind(b"*")
        if star < 1 or not _HEX8_RE.match(s[star + 1:]):
            return self._err(seq, "BAD_FRAME")
        body, crc = s[1:star], s[star + 1:]
        if crc_hex(body) != crc:
            return self._err(seq, "BAD_CRC")
        if seq == 0:
            return self._err(0, "BAD_FRAME")
        rest = body[body.find(b":") + 1:]
        name, _, argtext = rest.partition(b" ")
        if not _CMD_RE.match(name):
            return self._err(seq, "BAD_FRAME")
        slot = -1
        for i in range(CACHE):
            if self.c_seq[i] == seq:
                if self.c_crc[i] == crc:
                    orig = self.expect[self.c_idx[i]]
                    self.expect.append(Expect(seq, orig.ok, orig.data, orig.code, replay_of=self.c_idx[i],
                                              valid=True))
                    return None
                slot = i
                break
        self._dispatch(seq, name, argtext, framed=True)
        if name in HANDLERS and not HANDLERS[name]:
            # read-only: answered afresh each time, never cached (and evicts its seq)
            if slot >= 0:
                self.c_seq[slot] = 0
            return None
        if slot < 0:
            slot = self.c_next
            self.c_next = (slot + 1) % CACHE
        self.c_seq[slot], self.c_crc[slot], self.c_idx[slot] = seq, crc, len(self.expect) - 1
        return None

    def _dispatch(self, seq: int, name: bytes, argtext: bytes, framed: bool) -> None:
        if not _CMD_RE.match(name) or name not in HANDLERS:
            return self._err(seq, "UNKNOWN_CMD")
        if HANDLERS[name] and not framed:
            return self._err(seq, "READ_ONLY")
        args: Any = {}
        if _strip(argtext):
            try:
                args = json.loads(argtext)
            except ValueError:
                return self._err(seq, "BAD_ARGS")
            if not isinstance(args, dict):
                return self._err(seq, "BAD_ARGS")
        e = Expect(seq, True, valid=framed)
        if name == b"hello":
            e.data = HELLO
        elif name in (b"status", b"count"):
            e.data = {"count": self.count}
        elif name == b"echo":
            e.data = args
        elif name == b"bump":
            if args.get("boom"):
                e.ok, e.code = False, "INTERNAL"
            elif "n" in args and (not isinstance(args["n"], int) or isinstance(args["n"], bool)):
                e.ok, e.code = False, "BAD_ARGS"
            else:
                self.count += 1
                e.data = {"count": self.count, "n": args.get("n", 0)}
                e.write = True
        elif name == b"help":
            e.data = None  # shape checked below
        else:  # drop / noise / fail are not generated framed
            raise AssertionError(f"generator sent {name!r}")
        self.expect.append(e)
        return None


# -- the generator ------------------------------------------------------------------


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.seq = 1 + self.r.randrange(10**8)
        self.recent: list[bytes] = []  # recent valid frames (without newline)

    def fresh_seq(self) -> int:
        r = self.r.random()
        if r < 0.8:
            self.seq = self.seq + 1 if self.seq < 999_999_999 else 1
            return self.seq
        if r < 0.9:
            return max(1, self.seq - self.r.randrange(1, 40))  # out of order, maybe cached
        return self.r.randrange(1, 1_000_000_000)

    def _args(self) -> dict[str, Any]:
        r = self.r
        a: dict[str, Any] = {}
        for _ in range(r.randrange(0, 4)):
            k = r.choice(["n", "mm", "x", "pad", "é", "s"])
            a[k] = r.choice([r.randrange(-1000, 1000), "".join(chr(r.randrange(32, 0x2FF)) for _ in range(r.randrange(8))),
                             None, True, [1, 2], {"z": 0}])
        return a

    def valid(self) -> bytes:
        r = self.r
        k = r.random()
        if k < 0.55:
            args: dict[str, Any] | None = {"n": r.randrange(100)} if r.random() < 0.7 else None
            if args is not None and r.random() < 0.3:
                args["pad"] = "p" * r.randrange(50)
            f = encode_request(self.fresh_seq(), "bump", args)
        elif k < 0.75:
            f = encode_request(self.fresh_seq(), "echo", self._args())
        elif k < 0.85:
            f = encode_request(self.fresh_seq(), r.choice(["hello", "status", "count"]))
        elif k < 0.88:
            f = encode_request(self.fresh_seq(), "bump", {"boom": True})
        elif k < 0.91:
            f = encode_request(self.fresh_seq(), "bump", {"n": r.choice(["x", 1.5, None])})
        elif k < 0.93:
            f = encode_request(self.fresh_seq(), r.choice(["nosuch", "Bump", "help"]))
        else:
            f = self.raw_frame(self.fresh_seq(), b"bump " + r.choice(
                [b"[1,2]", b"3", b'"s"', b"{bad", b'{"n":1} x', b"null", b"{", b"\xff\xfe"]))
        f = f[:-1]
        if len(f) <= MAX_LINE:
            self.recent.append(f)
            if len(self.recent) > 40:
                del self.recent[0]
        return f

    @staticmethod
    def raw_frame(seq_or_text: int | bytes, rest: bytes) -> bytes:
        head = b"%d" % seq_or_text if isinstance(seq_or_text, int) else seq_or_text
        body = head + b":" + rest
        return b"@" + body + b"*" + crc_hex(body) + b"\n"

    def junk(self, n: int) -> bytes:
        b = bytes(self.r.randrange(256) for _ in range(n))
        return b.replace(b"\x03", b"\x04")

    def line(self) -> bytes:
        r = self.r
        k = r.random()
        if k < 0.40 or not self.recent:
            return self.valid()
        if k < 0.52:  # exact replay, recent (cached) or older (evicted)
            return r.choice(self.recent[-r.choice([4, 16, 40]):])
        if k < 0.56:  # reused seq, different body
            old = r.choice(self.recent)
            seq = int(old[1:old.find(b":")])
            return encode_request(seq, "bump", {"n": r.randrange(1000, 2000)})[:-1]
        base = r.choice(self.recent)
        if k < 0.64:  # bit flip
            b = bytearray(base)
            i = r.randrange(len(b))
            b[i] ^= 1 << r.randrange(8)
            if b[i] == 3:
                b[i] = 4
            return bytes(b)
        if k < 0.68:  # truncated
            return base[: r.randrange(len(base))]
        if k < 0.72:  # bad crc
            return base[:-8] + b"%08x" % r.randrange(2**32)
        if k < 0.76:  # control characters mixed in
            b = bytearray(base)
            for _ in range(r.randrange(1, 4)):
                b.insert(r.randrange(len(b) + 1), r.choice([1, 2, 4]))
            return bytes(b)
        if k < 0.79:  # over-long: a frame with a correct CRC, or junk
            if r.random() < 0.5:
                return encode_request(self.fresh_seq(), "bump", {"pad": "q" * r.randrange(250, 900)})[:-1]
            return self.junk(r.randrange(257, 1500))
        if k < 0.84:  # random bytes
            return self.junk(r.randrange(1, 120))
        if k < 0.90:  # a person at the console
            return r.choice([b"hello", b"status", b"  count ", b"bump", b'bump {"n": 1}', b"help",
                             b'echo {"a": [1, 2]}', b"echo [1]", b"echo {x", b"nosuch", b"drop", b"\x01hello"])
        if k < 0.93:  # blank lines: whitespace and control characters only
            return bytes(r.choice(b" \t\x00\x01\x02\x04\x1b\x7f") for _ in range(r.randrange(6)))
        if k < 0.95:  # valid CRC, bad fields
            return self.raw_frame(r.choice([b"0", b"01", b"1234567890", b"x", b""]), b"hello")[:-1] \
                if r.random() < 0.6 else self.raw_frame(self.fresh_seq(), r.choice([b"", b"he*llo", b" hello",
                                                                                    b"h\xe9llo", b"a" * 33]))[:-1]
        if k < 0.97:  # our own output echoed back
            return r.choice([b"=5:ok {}*00000000", b"!tel {}*12345678", b"=0:err X y"])
        # two frames glued together, or a frame after junk on the same line
        return r.choice(self.recent) + r.choice([b"", self.junk(3)]) + r.choice(self.recent)

    def stream(self, n_lines: int) -> tuple[bytes, int]:
        parts: list[bytes] = []
        for _ in range(n_lines):
            parts.append(self.line())
            parts.append(self.r.choice([b"\n", b"\n", b"\n", b"\r\n", b"\r"]))
        parts.append(b"\n")
        return b"".join(parts), n_lines


def test_fuzz_protocol_in_micropython(tmp_path: Path) -> None:
    gen = Gen(SEED)
    stream, n_lines = gen.stream(N_LINES)
    # the end: a valid hello and count must still be answered
    tail_seq = 999_999_999
    stream += encode_request(tail_seq - 1, "hello") + encode_request(tail_seq, "count")
    assert b"\x03" not in stream
    src = tmp_path / "stream.bin"
    src.write_bytes(stream)

    argv, extra = micropython()
    env = dict(os.environ, MICROPYPATH=str(ROOT / "firmware"), **extra)
    t0 = time.monotonic()
    with src.open("rb") as fin:
        proc = subprocess.run([*argv, str(BOARD), "batch"],
                              stdin=fin, capture_output=True, env=env, timeout=240)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    out = proc.stdout.split(b"\n")
    assert out[-1] == b"" and out[-2].startswith(b"#END count="), out[-3:]
    board_count = int(out[-2].split(b"=")[1])
    got = out[:-2]

    model = Model()
    for raw in re.split(rb"\r|\n", stream)[:-1]:
        model.line(raw)
    exp = model.expect

    # every board line is a valid protocol line, one per answered input line, in order
    assert len(got) == len(exp), (len(got), len(exp))
    replies: list[Reply] = []
    for i, (line, e) in enumerate(zip(got, exp, strict=True)):
        r = parse_line(line, strict=True)
        assert isinstance(r, Reply), line
        replies.append(r)
        where = f"answer #{i}: {line[:120]!r}, expected {e}"
        assert r.seq == e.seq, where
        assert r.ok == e.ok, where
        if e.ok:
            if e.data is not None:
                assert r.data == e.data, where
            else:
                assert isinstance(r.data, dict) and "commands" in r.data, where
        else:
            assert r.code == e.code, where
        if e.replay_of >= 0:
            assert line == got[e.replay_of], f"replay differs: {where}"

    # the actuator moved once per distinct valid writing request, never otherwise
    writes = sum(1 for e in exp if e.write)
    assert board_count == model.count == writes
    assert exp[-1].data == {"count": writes} and replies[-1].seq == tail_seq
    assert replies[-2].seq == tail_seq - 1 and replies[-2].data == HELLO

    valid = sum(1 for e in exp if e.valid)
    replays = sum(1 for e in exp if e.replay_of >= 0)
    errors = sum(1 for e in exp if not e.ok)
    print(f"\nfuzz: seed {SEED}, {n_lines} lines, {len(stream)} bytes, {len(exp)} answers "
          f"({valid} valid frames, {replays} replays answered from cache, {writes} actuator moves, "
          f"{errors} errors) in {elapsed:.2f} s of MicroPython")
    assert n_lines >= 100_000 or "HEARTH_FUZZ_LINES" in os.environ
