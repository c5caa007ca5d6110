# The journal's upkeep (runtime/journal.py): formatting, reclaiming blocks and the
# listing of every record. Loaded by Journal only when there is such work (a block to
# erase, a format going on, a diagnostic listing) and forgotten after it: a running
# board has this bytecode on its heap only while it erases. `j` is the Journal.


def format(j, max_erases):
    if j._fmt_next < 0:
        j._fmt_next = 0
        j.writable = False
        j.status = "formatting"
        j._pf_ready = j._pf_pending = False
    return format_more(j, max_erases)


def format_more(j, max_erases):
    n = 0
    while j._fmt_next < j._nb and (max_erases <= 0 or n < max_erases):
        j._part.erase(j._fmt_next)
        j._erased[j._fmt_next] = 1
        j._fmt_next += 1
        n += 1
    j.erases += n
    j.op_programs = 0
    j.op_erases = n
    if j._fmt_next >= j._nb:
        j._fmt_next = -1
        j._latest = {}
        j._head_blk = j._head_slot = 0
        j._seq = 1
        j.status = "empty"
        j.writable = True
        j.formatted = True
    return n


def records(j):
    out = []
    for b in range(j._nb):
        for s in range(j._per):
            r = j._read(b, s)
            if r is not None:
                out.append(r)
    out.sort(key=lambda r: r.seq)
    return out


def maintain(j, max_erases):
    # Power is good (Journal.maintain checked). A format going on: its next blocks.
    if j._fmt_next >= 0:
        return format_more(j, max_erases)
    if not j.writable:
        return 0
    j._sync()
    p0 = j.programs
    erased = 0
    for _ in range(j._nb if max_erases <= 0 else max_erases):
        nfree = j._free_blocks()
        if nfree >= j.min_free:
            break
        tail = (j._head_blk + 1 + nfree) % j._nb
        if tail == j._head_blk:
            break
        live = []
        for kind in j._latest:
            e = j._latest[kind]
            if e[1] == tail:
                live.append((e[0], kind))
        live.sort()
        if len(live) > j.free_slots() - (1 if j._pf_ready else 0):
            break  # cannot make progress: more live kinds than free space
        for _seq, kind in live:
            e = j._latest[kind]
            r = j._read(e[1], e[2])
            if r is None:
                # the only copy went bad on flash (bit rot): nothing to keep
                del j._latest[kind]
                continue
            j.append(kind, r.payload, r.origin, 0)
            j.copies += 1
        j._part.erase(tail)
        j._erased[tail] = 1
        j.erases += 1
        erased += 1
    j.op_programs = j.programs - p0
    j.op_erases = erased
    # keep the power-fail slot armed (it may have been used, or refused when full)
    j._pf_ready = False
    j.prepare_powerfail()
    return erased
