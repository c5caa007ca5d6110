# Journal mount: the scan of the partition at boot (runtime/journal.py's Journal.mount).
# Boot-time code in a module of its own: the app forgets it once the board is up, so
# its bytecode is not on the heap of a running board.
from hearth.runtime.journal import SLOT


def mount(self):
    # self: the Journal. Never writes.
    nb = self._nb
    per = self._per
    buf = self._rbuf
    self._latest = {}
    last_used = [-1] * nb  # last non-erased slot per block
    used = [0] * nb  # non-erased slots per block
    own = [0] * nb
    maxseq = -1
    maxblk = -1
    nown = nbad = nforeign = 0
    for b in range(nb):
        for s in range(per):
            self._part.readblocks(b, buf, s * SLOT)
            st, kind, seq, origin, n = self._parse(buf)
            if st == 0:
                continue
            used[b] += 1
            last_used[b] = s
            if st == 1:
                nown += 1
                own[b] += 1
                e = self._latest.get(kind)
                if e is None or seq > e[0]:
                    self._latest[kind] = [seq, b, s, origin, n]
                if seq > maxseq:
                    maxseq = seq
                    maxblk = b
            elif st == 2:
                nforeign += 1
            else:
                nbad += 1
    for b in range(nb):
        self._erased[b] = 1 if used[b] == 0 else 0
    self._pf_pending = False
    self._pf_ready = False
    if nown:
        status = "ok"
        hb = maxblk
        hs = last_used[hb] + 1
        if hs >= per:
            # the head block is full: a torn first record of the next block may
            # sit there (a run of bad slots from slot 0, rest erased)
            nx = (hb + 1) % nb
            if own[nx] == 0 and 0 < used[nx] == last_used[nx] + 1 < per:
                hb = nx
                hs = last_used[nx] + 1
        self._seq = maxseq + 1
    elif nforeign:
        status = "foreign"
        hb = hs = 0
    elif nbad:
        # only torn writes at the very start of a fresh journal look like this
        if used[0] == last_used[0] + 1 and sum(used) == used[0] and used[0] < per:
            status = "empty"
            hb = 0
            hs = used[0]
        else:
            status = "garbage"
            hb = hs = 0
    else:
        status = "empty"
        hb = hs = 0
    self.status = status
    self.writable = status in ("ok", "empty")
    if self.writable:
        self._head_blk = hb
        self._head_slot = hs
        if used[hb] or hs:
            self._skip_one()
    self.report = {
        "status": status, "records": nown, "torn": nbad if nown or status == "empty" else 0,
        "garbage": nbad if status == "garbage" else 0, "foreign": nforeign, "next_seq": self._seq,
    }
    return self.report
