# Power cuts at every flash program boundary of a realistic session, with several
# tear lengths, plus random cut points (fixed seed): after each cut the board
# "reboots" (a new Journal mounted over the same flash bytes) and we check that
#   * every record on flash is one that was committed (or the one in flight, whole),
#   * every committed record is still there unless maintain() erased it, and
#     maintain() never erased the newest record of a kind (checked at each erase),
#   * the newest record of each kind is the index's latest,
#   * RECOVERY is decided from the newest STATE/POWERFAIL snapshot,
#   * the journal stays usable after the cut (append, remount, read back).
# And a flapping supply: 100 fast off/on cycles through the power monitor and the
# supervisor, outputs safe every time, journal consistent.
import random
import struct

from hearth.hal import sim
from hearth.runtime.faults import FaultLog
from hearth.runtime.journal import HDR, KIND_POWERFAIL, KIND_STATE, SLOT, Journal
from hearth.runtime.supervisor import ACTIVE, POWERFAIL, RECOVERY, SAFE, Supervisor
from hearth.drivers.power import PowerMonitor

BOARD = 4242
BLOCKS = 5
SNAP = 40
HEATER = 26
LATCH = 27


class Ledger:
    # Wraps the sim partition and keeps the truth: which record sits in which slot.
    def __init__(self, part, at=None):
        self.p = part
        self.block_size = part.block_size
        self.block_count = part.block_count
        self.at = {} if at is None else at  # (block, slot) -> (kind, seq, origin, payload)
        self.inflight = None
        self.bad_erase = None

    def readblocks(self, block, buf, off=0):
        self.p.readblocks(block, buf, off)

    def program(self, block, data, off=0):
        kind = data[3]
        seq, origin, n = struct.unpack_from("<IIH", data, 8)
        rec = (kind, seq, origin, bytes(data[HDR:HDR + n]))
        key = (block, off // SLOT)
        self.inflight = (key, rec)
        self.p.program(block, data, off)
        self.at[key] = rec
        self.inflight = None

    def erase(self, block):
        for key in [k for k in self.at if k[0] == block]:
            kind, seq = self.at[key][0], self.at[key][1]
            newer = [1 for k, r in self.at.items() if r[0] == kind and r[1] > seq and k[0] != block]
            if not newer and self.bad_erase is None:
                self.bad_erase = (key, self.at[key][:3])
            del self.at[key]
        self.p.erase(block)


def _outputs_safe():
    return sim.world.outputs.get(HEATER) == 0 and sim.world.outputs.get(LATCH) == 1


class Rig:
    def __init__(self, at=None):
        self.ledger = Ledger(sim.Partition("journal", BLOCKS * 4096), at)
        self.j = Journal(self.ledger, BOARD, snap_size=SNAP, min_free=2)
        self.log = FaultLog(self.j)
        self.sup = Supervisor(self.j, self.log, "power_on")
        self.heater = sim.Output(HEATER, 0)
        self.latch = sim.Output(LATCH, 1)
        self.sup.register_safe(lambda: self.heater.value(0))
        self.sup.register_safe(lambda: self.latch.value(1))
        self.report = self.j.mount()

    def boot(self):
        return self.sup.boot(0, True)


def session(rig):
    # boot, jobs with per-tick snapshot updates, periodic STATE, faults, power fails
    # with restores, maintenance every tick (ring wraps several times).
    sup = rig.sup
    j = rig.j
    rs = sup.role_state
    sup_state = rig.boot()
    assert sup_state == SAFE
    sup.ready()
    job = 100
    t = 0
    for i in range(420):
        t += 10
        if sup.state == "READY":
            job += 1
            sup.job_start(job, t)
            rig.heater.value(1)
            rig.latch.value(0)
        sup.tick(t)
        rs[0] = i & 0xFF
        rs[1] = (i >> 8) & 0xFF
        if i % 3 == 2:
            sup.checkpoint(t)
        if i % 37 == 20:
            sup.fault("SENSOR", {"i": i}, t)
            sup.clear()
            sup.ready()
        if i % 29 == 15 and sup.state == ACTIVE:
            sup.job_end(t)
        if i % 41 == 30:
            sup.power_fail(t)
            assert _outputs_safe()
            if sup.power_restore(t + 5) == RECOVERY:
                sup.resume(sup.describe()["recovery"]["token"])
        j.maintain(True)
    if sup.state == "READY":
        sup.job_start(job + 1, t)
    sup.power_fail(t + 10)


def _valid_set(j):
    return {(r.block, r.slot): (r.kind, r.seq, r.origin, r.payload) for r in j.records()}


def check_after_cut(led, cut_info):
    at = dict(led.at)
    infl = led.inflight
    assert led.bad_erase is None, ("newest-of-kind erased", led.bad_erase, cut_info)
    sim.world.cut_at_program = 0
    rig = Rig(at)
    j = rig.j
    assert rig.report["status"] in ("ok", "empty"), (rig.report, cut_info)
    valid = _valid_set(j)
    # no invented record, no lost record
    for key, rec in valid.items():
        if key in at:
            assert at[key] == rec, ("changed record", key, cut_info)
        else:
            assert infl is not None and infl[0] == key and infl[1] == rec, ("invented record", key, rec, cut_info)
            at[key] = rec  # the in-flight record made it whole: it is committed now
    for key in at:
        assert key in valid, ("lost committed record", key, at[key][:3], cut_info)
    # newest per kind
    newest = {}
    for key, rec in at.items():
        if rec[0] not in newest or rec[1] > newest[rec[0]][1]:
            newest[rec[0]] = rec
    for kind, rec in newest.items():
        r = j.latest(kind)
        assert r is not None and r.seq == rec[1] and r.payload == rec[3], (kind, cut_info)
    # recovery decided from the newest snapshot
    snap = None
    for kind in (KIND_STATE, KIND_POWERFAIL):
        if kind in newest and (snap is None or newest[kind][1] > snap[1]):
            snap = newest[kind]
    want = RECOVERY if snap is not None and snap[3][1] & 3 else SAFE
    got = rig.boot()
    assert got == want, (got, want, cut_info)
    assert _outputs_safe()
    if got == RECOVERY:
        rec = rig.sup.describe()["recovery"]
        assert rec["job"] == struct.unpack_from("<I", snap[3], 4)[0]
        assert rec["seq"] == snap[2]
    # still usable: write, maintain, remount, read back
    rig.ledger.at = at
    seq = j.append(KIND_STATE, b"\x01\x00" + bytes(SNAP - 2))
    j.maintain(True)
    assert rig.ledger.bad_erase is None
    j2 = Journal(sim.Partition("journal", BLOCKS * 4096), BOARD, snap_size=SNAP)
    j2.mount()
    assert j2.latest(KIND_STATE).seq == seq
    assert _valid_set(j2) == rig.ledger.at
    return got


def _run_cut(cut, tear):
    sim.world.reset()
    rig = Rig()
    sim.world.cut_at_program = cut
    sim.world.tear_bytes = tear
    cut_hit = False
    try:
        session(rig)
    except sim.PowerCut:
        cut_hit = True
    led = rig.ledger
    rig = None
    outcome = check_after_cut(led, (cut, tear))
    return cut_hit, outcome


def _count_programs():
    sim.world.reset()
    rig = Rig()
    session(rig)
    return sim.world.programs, sim.world.erases


def test_every_program_boundary():
    n, erases = _count_programs()
    assert erases >= 2 * BLOCKS, (n, erases)  # the ring wrapped more than twice
    tried = 0
    recov = 0
    for cut in range(1, n + 1):
        for tear in (0, 1, 19, 45):  # nothing / magic only / header / partial payload
            hit, outcome = _run_cut(cut, tear)
            if hit:
                tried += 1
                if outcome == RECOVERY:
                    recov += 1
    print("sweep: %d programs (%d erases) per session, %d cut points tried (4 tears), "
          "%d ended in RECOVERY, all consistent" % (n, erases, tried, recov))
    assert tried >= n


def test_random_cut_points():
    n, _ = _count_programs()
    random.seed(20240611)
    tried = 0
    for _ in range(120):
        cut = random.randint(1, n)
        tear = random.randint(0, 80)
        hit, _o = _run_cut(cut, tear)
        tried += 1 if hit else 0
    print("random: %d cut points tried (seed 20240611), all consistent" % tried)
    assert tried >= 100


def test_flapping_supply_100_cycles():
    sim.world.reset()
    rig = Rig()
    sup = rig.sup
    j = rig.j
    sim.world.adc[34] = 5000 * 100  # pin uV (ratio 10 -> 5000 mV supply)
    mon = PowerMonitor(adc=sim.Adc(34), ratio=10, fail_mv=4500, restore_mv=4750, restore_ms=60, ok=False)
    t = 0
    while mon.step(t) != "restore":
        t += 10
    assert rig.boot() == SAFE
    sup.ready()
    sup.job_start(555, t)
    fails = restores = 0
    cycle = 0
    random.seed(7)
    while cycle < 100:
        # supply off for 1-3 ticks, then on for 2..12 ticks (some shorter than restore_ms)
        off = random.randint(1, 3)
        on = random.randint(2, 12)
        sim.world.adc[34] = 3000 * 100
        for _ in range(off):
            t += 10
            ev = mon.step(t)
            if ev == "fail":
                fails += 1
                sup.power_fail(t)
                assert _outputs_safe() and sup.state == POWERFAIL  # same tick
            if sup.state == ACTIVE:
                rig.heater.value(1)
            assert _outputs_safe() == (sup.state != ACTIVE) or sup.state != ACTIVE
        sim.world.adc[34] = 5000 * 100
        for _ in range(on):
            t += 10
            ev = mon.step(t)
            if ev == "restore":
                restores += 1
                st = sup.power_restore(t)
                assert st == RECOVERY and _outputs_safe()
                sup.resume(sup.describe()["recovery"]["token"])
            if sup.state == ACTIVE:
                rig.heater.value(1)  # the role drives again only when ACTIVE
                rig.latch.value(0)
            else:
                assert _outputs_safe()
            sup.tick(t)
            if mon.ok:
                j.maintain(True)
        cycle += 1
    assert fails >= 30 and restores == fails, (fails, restores)
    assert j.pf_commits == fails and j.pf_skipped == 0
    assert rig.ledger.bad_erase is None
    at = rig.ledger.at
    # consistent after the storm: remount sees exactly what was committed
    j2 = Journal(sim.Partition("journal", BLOCKS * 4096), BOARD, snap_size=SNAP)
    rep = j2.mount()
    assert rep["torn"] == 0 and rep["status"] == "ok"
    assert _valid_set(j2) == at
    assert j2.latest(KIND_POWERFAIL).seq == j.pf_seq
    print("flapping: %d fails, %d restores, %d power-fail records, %d erases" % (
        fails, restores, j.pf_commits, sim.world.erases))
    # and a final power fail while ACTIVE boots into RECOVERY for job 555
    if sup.state != ACTIVE:
        while mon.step(t) != "restore":
            t += 10
        sup.power_restore(t)
        if sup.state == RECOVERY:
            sup.resume(sup.describe()["recovery"]["token"])
    sup.power_fail(t + 10)
    r2 = Rig(at)
    assert r2.boot() == RECOVERY and r2.sup.describe()["recovery"]["job"] == 555
