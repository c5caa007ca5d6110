# Power-loss-safe journal on a raw NOR flash partition.
#
# The partition (hal.Partition or a test double) gives .block_size (4096),
# .block_count, .readblocks(block, buf, off), .program(block, data, off) and
# .erase(block), with NOR rules: erase sets a block to 0xFF, program only clears bits.
#
# Layout
# ------
# Every block is cut into 256-byte SLOTS (16 per 4 KiB block), aligned on the SPI NOR
# page (256 B), and a record lives in exactly one slot. A record is written by ONE
# program call of ONE preformatted buffer (header + payload + CRC), so a record never
# spans two flash pages: one commit is at most one page program.
#
#   off  size  field
#   0    2     magic b"hJ"
#   2    1     format version (1)
#   3    1     kind
#   4    4     board id (u32 LE): records of another board are "foreign"
#   8    4     seq (u32 LE): strictly increasing, newest wins
#   12   4     origin (u32 LE): seq when first written; kept when maintain() copies
#                the record forward, so "the same record" is recognisable after a copy
#   16   2     payload length n (u16 LE), n <= MAX_PAYLOAD (232)
#   18   2     reserved, 0
#   20   n     payload
#   20+n 4     CRC-32 (binascii.crc32) over bytes [0, 20+n)
#   the program length is 24+n rounded up to 4; the rest of the slot stays 0xFF.
#
# Torn writes. The sim tears a program after a prefix of its bytes; real NOR can
# leave any subset of the bits of the page half-programmed. Either way:
# * an erased slot (all 0xFF) is never a record: the magic is not 0xFF;
# * a prefix that stops before the last CRC byte leaves 0xFF where CRC bytes should
#   be, so the CRC check fails (except when the missing bytes really were 0xFF, in
#   which case every byte on flash is the intended one: the record IS complete);
# * arbitrary partial bits fail the CRC with probability 1 - 2**-32.
# The CRC is the commit marker; no separate marker byte is needed (it would cost a
# second program, and a torn program leaves it as garbage just the same).
# A torn slot is never reused: at mount the write position goes after the last
# non-0xFF slot AND skips one more slot, because a program cut before any bit read
# back as 0 can still leave weakly charged cells in that slot.
#
# Space. Blocks form a ring written in order 0, 1, ... n-1, 0 ... A normal append
# needs free space beyond a reserve (one slot for the power-fail record when it is
# prepared, plus one block so that maintain() can always copy records forward).
# Blocks are erased ONLY by maintain(power_ok) (and format(power_ok)): it erases the
# block after the erased run ahead of the head (the oldest one), after re-appending
# the newest record of each kind that lives only there. Nothing committed is lost.
#
# Power-fail path. prepare_powerfail() (power good) checks a free slot exists and
# preformats the POWERFAIL record buffer. The app keeps the snapshot in that buffer
# up to date every tick through `pf_payload` (a memoryview; write bytes in place).
# commit_powerfail() then fills seq and CRC in place (CRC by a viper routine that
# writes its result into the buffer: binascii.crc32 would return an int above
# 2**30, a heap object on the ESP32) and makes exactly ONE program call: no erase,
# no allocation, no wait.
import binascii
import struct
import sys

from hearth.runtime.crc32 import crc32_into
from micropython import const

SLOT = 256
HDR = 20
MAX_PAYLOAD = SLOT - HDR - 4  # 232
VERSION = 1
_MAGIC0 = const(0x68)  # "h"
_MAGIC1 = const(0x4A)  # "J"
_FMT = "<BBBBIIIHH"  # magic0 magic1 version kind board seq origin length reserved

# kinds
KIND_BOOT = 1
KIND_STATE = 2
KIND_POWERFAIL = 3
KIND_FAULT = 0x10  # 0x10..0x1F: one kind per fault-log slot (see runtime/faults.py)
KIND_USER = 0x40  # 0x40..0xFE: free for roles / apps

_ERASED_SLOT = b"\xff" * SLOT



class JournalError(Exception):
    def __init__(self, code, message):
        super().__init__(code, message)
        self.code = code
        self.message = message


class Record:
    def __init__(self, kind, seq, origin, payload, block, slot):
        self.kind = kind
        self.seq = seq
        self.origin = origin
        self.payload = payload
        self.block = block
        self.slot = slot

    def __repr__(self):
        return "Record(kind=%d seq=%d origin=%d len=%d @%d.%d)" % (
            self.kind, self.seq, self.origin, len(self.payload), self.block, self.slot)


def _plen(n):
    return (HDR + n + 4 + 3) & ~3


def _keep(name, *args):
    # The journal's upkeep (format, reclaiming blocks, the record listing) is in
    # runtime/journalkeep.py: loaded when there is such work, forgotten after it, so
    # that its bytecode is not on the heap of a running board between two reclaims.
    from hearth.runtime import journalkeep

    try:
        return getattr(journalkeep, name)(*args)
    finally:
        sys.modules.pop("hearth.runtime.journalkeep", None)
        try:
            delattr(sys.modules["hearth.runtime"], "journalkeep")
        except (KeyError, AttributeError):
            pass


class Journal:
    def __init__(self, part, board_id=None, snap_size=64, min_free=2):
        # board_id: u30 identifying this board (records of another id are "foreign");
        # None: derived from hal.unique_id().
        if part.block_size % SLOT or part.block_count < 3:
            raise ValueError("journal needs >= 3 blocks of a multiple of 256 bytes")
        if not 0 < snap_size <= MAX_PAYLOAD:
            raise ValueError("snap_size must be 1..%d" % MAX_PAYLOAD)
        self._part = part
        if board_id is None:
            from hearth import hal
            board_id = binascii.crc32(hal.unique_id())
        self.board_id = board_id & 0x3FFFFFFF
        self._nb = part.block_count
        self._per = part.block_size // SLOT
        self.min_free = min_free
        self._rbuf = bytearray(SLOT)
        self._wbuf = bytearray(SLOT)
        self._erased = bytearray(self._nb)  # 1: block known to be fully erased
        self._latest = {}  # kind -> [seq, block, slot, origin, length]
        self._head_blk = 0
        self._head_slot = 0
        self._seq = 1
        self.status = "unmounted"
        self.writable = False
        self._fmt_next = -1  # >= 0: a format in progress, the next block to erase
        self.formatted = False  # set when a format completes (the owner checkpoints)
        self.report = {}
        # counters (benchmarks): totals, and the cost of the last public operation
        self.programs = 0
        self.erases = 0
        self.copies = 0
        self.op_programs = 0
        self.op_erases = 0
        # power-fail record: preallocated buffer, fixed length, fields filled in place
        self.snap_size = snap_size
        self._pf_buf = bytearray(b"\xff" * SLOT)
        self._pf_len = _plen(snap_size)
        self._pf_mv = memoryview(self._pf_buf)[:self._pf_len]
        self.pf_payload = memoryview(self._pf_buf)[HDR:HDR + snap_size]
        for i in range(snap_size):
            self._pf_buf[HDR + i] = 0
        self._pf_ready = False
        self._pf_pending = False  # committed, not yet folded into _latest
        self.pf_seq = 0  # seq of the last power-fail record committed (0: none)
        self._pf_blk = 0
        self._pf_slot = 0
        self.pf_commits = 0
        self.pf_skipped = 0
        self.pf_bad_data = 0

    # ---- mount ------------------------------------------------------------------
    def _parse(self, buf):
        # -> (state, kind, seq, origin, n): state 0 erased, 1 own, 2 foreign, 3 bad
        if buf == _ERASED_SLOT:
            return 0, 0, 0, 0, 0
        m0, m1, ver, kind, board, seq, origin, n, _r = struct.unpack_from(_FMT, buf, 0)
        if m0 != _MAGIC0 or m1 != _MAGIC1 or n > MAX_PAYLOAD:
            return 3, 0, 0, 0, 0
        crc = buf[HDR + n] | (buf[HDR + n + 1] << 8) | (buf[HDR + n + 2] << 16) | (buf[HDR + n + 3] << 24)
        if binascii.crc32(memoryview(buf)[:HDR + n]) != crc:
            return 3, 0, 0, 0, 0
        if ver != VERSION or board != self.board_id:
            return 2, kind, seq, origin, n
        return 1, kind, seq, origin, n

    def mount(self):
        """Scan the partition; never writes. Returns (and keeps in .report) a dict:
        status ok|empty|garbage|foreign, records, torn (bad slots), foreign, next_seq.
        The scan is boot-time code: runtime/journalmount.py, forgotten after boot."""
        from hearth.runtime.journalmount import mount

        return mount(self)

    def _skip_one(self):
        # Never program the slot at the frontier again (see the header comment).
        if self._head_slot < self._per:
            self._head_slot += 1
            return
        nx = (self._head_blk + 1) % self._nb
        if self._erased[nx]:
            self._erased[nx] = 0
            self._head_blk = nx
            self._head_slot = 1

    def format(self, power_ok, max_erases=0):
        """Erase the whole partition (e.g. a garbage or foreign image), only when the
        app says so and power is good. max_erases > 0 erases at most that many blocks
        now; maintain() erases the rest, the same number per call (an erase stalls the
        chip for up to 400 ms: one per tick keeps the loop and the watchdog fed).
        Returns the number of blocks erased by this call."""
        if not power_ok:
            return 0
        return _keep("format", self, max_erases)

    # ---- space ------------------------------------------------------------------
    def _free_blocks(self):
        n = 0
        b = self._head_blk
        for _ in range(self._nb - 1):
            b = (b + 1) % self._nb
            if not self._erased[b]:
                break
            n += 1
        return n

    def free_slots(self):
        return (self._per - self._head_slot) + self._per * self._free_blocks()

    def needs_maintenance(self):
        """Fewer than `min_free` erased blocks ahead: maintain() has work to do."""
        return self.writable and self._free_blocks() < self.min_free

    def _take_slot(self):
        # Advance the head to the next writable slot and return (block, slot).
        if self._head_slot >= self._per:
            nx = (self._head_blk + 1) % self._nb
            if not self._erased[nx]:
                raise JournalError("FULL", "no erased block ahead: call maintain()")
            self._head_blk = nx
            self._head_slot = 0
        b = self._head_blk
        s = self._head_slot
        self._head_slot = s + 1
        self._erased[b] = 0
        return b, s

    def _sync(self):
        if self._pf_pending:
            self._pf_pending = False
            self._latest[KIND_POWERFAIL] = [self.pf_seq, self._pf_blk, self._pf_slot, self.pf_seq, self.snap_size]

    # ---- normal path ------------------------------------------------------------
    def append(self, kind, payload, _origin=None, _reserve=None):
        """Append one record (one program). Raises JournalError NOT_WRITABLE, TOO_BIG,
        BAD_KIND or FULL. Returns its seq."""
        if not self.writable:
            raise JournalError("NOT_WRITABLE", "journal is %s: format() it first" % self.status)
        if not 0 < kind < 0xFF:
            raise JournalError("BAD_KIND", "kind must be 1..254")
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload)
        if n > MAX_PAYLOAD:
            raise JournalError("TOO_BIG", "payload %d > %d bytes" % (n, MAX_PAYLOAD))
        self._sync()
        reserve = (1 if self._pf_ready else 0) + (self._per if _reserve is None else _reserve)
        if self.free_slots() <= reserve:
            raise JournalError("FULL", "journal full: call maintain() while power is good")
        seq = self._seq
        origin = seq if _origin is None else _origin
        w = self._wbuf
        struct.pack_into(_FMT, w, 0, _MAGIC0, _MAGIC1, VERSION, kind, self.board_id, seq, origin, n, 0)
        w[HDR:HDR + n] = payload
        struct.pack_into("<I", w, HDR + n, binascii.crc32(memoryview(w)[:HDR + n]))
        pl = _plen(n)
        for i in range(HDR + n + 4, pl):
            w[i] = 0xFF
        b, s = self._take_slot()
        self._seq = seq + 1
        self.programs += 1
        self._part.program(b, memoryview(w)[:pl], s * SLOT)
        self._latest[kind] = [seq, b, s, origin, n]
        self.status = "ok"
        self.op_programs = 1
        self.op_erases = 0
        return seq

    def checkpoint(self, kind=KIND_STATE):
        """Append the current snapshot (pf_payload) as a normal record."""
        return self.append(kind, self._pf_buf[HDR:HDR + self.snap_size])

    def _read(self, b, s):
        buf = self._rbuf
        self._part.readblocks(b, buf, s * SLOT)
        st, kind, seq, origin, n = self._parse(buf)
        if st != 1:
            return None
        return Record(kind, seq, origin, bytes(buf[HDR:HDR + n]), b, s)

    def latest(self, kind):
        """Newest valid record of `kind`, or None."""
        self._sync()
        e = self._latest.get(kind)
        if e is None:
            return None
        return self._read(e[1], e[2])

    def read(self, kind):
        r = self.latest(kind)
        return None if r is None else r.payload

    def kinds(self):
        self._sync()
        return sorted(self._latest)

    def next_seq(self):
        return self._seq

    def records(self):
        """Every valid own record on flash, oldest first (diagnostics, tests)."""
        return _keep("records", self)

    # ---- maintenance (power good only) ---------------------------------------------
    def maintain(self, power_ok, max_erases=0):
        """Reclaim space while power is good: keep `min_free` erased blocks ahead of
        the head by erasing the oldest block, after copying forward the newest
        record of each kind that lives only there; or go on with a format. At most
        max_erases blocks (> 0) per call. Re-prepares the power-fail slot if it was
        prepared. Returns the number of blocks erased."""
        if not power_ok:
            return 0
        if self._fmt_next >= 0 or (self.writable and self._free_blocks() < self.min_free):
            return _keep("maintain", self, max_erases)  # blocks to erase: the upkeep module
        if not self.writable:
            return 0
        # Nothing to erase (the app asks every journal_maintain_ms): the power-fail slot
        # is re-armed as after a reclaim, without loading the upkeep code.
        self._sync()
        self.op_programs = 0
        self.op_erases = 0
        self._pf_ready = False
        self.prepare_powerfail()
        return 0

    # ---- power-fail path ----------------------------------------------------------
    def prepare_powerfail(self):
        """While power is good: make sure one erased slot is reserved and preformat
        the POWERFAIL record. Returns True when commit_powerfail() will write."""
        if not self.writable:
            self._pf_ready = False
            return False
        self._sync()
        if self.free_slots() < 1:
            self._pf_ready = False
            return False
        struct.pack_into(_FMT, self._pf_buf, 0, _MAGIC0, _MAGIC1, VERSION, KIND_POWERFAIL,
                         self.board_id, 0, 0, self.snap_size, 0)
        for i in range(HDR + self.snap_size + 4, self._pf_len):
            self._pf_buf[i] = 0xFF
        self._pf_ready = True
        return True

    @property
    def pf_ready(self):
        return self._pf_ready

    def commit_powerfail(self, data=None):
        """Write the POWERFAIL record: ONE program call, no erase, no allocation, no
        wait. `data`: None (pf_payload already up to date), a bytes-like copied into
        the payload, or a callable writer(pf_payload) that fills it in place.
        Returns False (nothing written) if prepare_powerfail() did not succeed."""
        if not self._pf_ready:
            self.pf_skipped += 1
            return False
        buf = self._pf_buf
        if data is not None:
            if callable(data):
                data(self.pf_payload)
            elif len(data) <= self.snap_size:
                buf[HDR:HDR + len(data)] = data
            else:
                self.pf_bad_data += 1  # too long: keep the snapshot already in place
        b = self._head_blk
        s = self._head_slot
        if s >= self._per:
            b = b + 1
            if b >= self._nb:
                b = 0
            s = 0
        seq = self._seq
        buf[8] = seq & 0xFF
        buf[9] = (seq >> 8) & 0xFF
        buf[10] = (seq >> 16) & 0xFF
        buf[11] = (seq >> 24) & 0xFF
        buf[12] = buf[8]
        buf[13] = buf[9]
        buf[14] = buf[10]
        buf[15] = buf[11]
        crc32_into(buf, HDR + self.snap_size)
        self._head_blk = b
        self._head_slot = s + 1
        self._erased[b] = 0
        self._seq = seq + 1
        self._pf_ready = False
        self._pf_blk = b
        self._pf_slot = s
        self.pf_seq = seq
        self._pf_pending = True
        self.status = "ok"
        self.programs += 1
        self.pf_commits += 1
        self.op_programs = 1
        self.op_erases = 0
        self._part.program(b, self._pf_mv, s * SLOT)
        return True

    def stats(self):
        return {
            "status": self.status, "programs": self.programs, "erases": self.erases,
            "copies": self.copies, "pf_commits": self.pf_commits, "pf_skipped": self.pf_skipped,
            "free_slots": self.free_slots() if self.writable else 0, "next_seq": self._seq,
        }
