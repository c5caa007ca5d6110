# Supervisor: states and transitions, safe actions, faults, the power-fail path,
# recovery decided from the journal, checked resume/discard, the fault log.
import gc

import micropython

from hearth.hal import sim
from hearth.runtime.faults import FaultLog
from hearth.runtime.journal import KIND_FAULT, KIND_POWERFAIL, KIND_STATE, Journal
from hearth.runtime.resume import snapshot_fields
from hearth.runtime.supervisor import (
    ACTIVE, FAULT, POWERFAIL, READY, RECOVERY, SAFE, Supervisor, SupervisorError,
)

HEATER = 26
LATCH = 27


class Board:
    # A fresh boot over the same flash: journal, fault log, supervisor, two outputs.
    def __init__(self, part=None, cause="power_on", power_ok=True, **kw):
        self.part = part if part is not None else sim.Partition("journal", 8 * 4096)
        self.j = Journal(self.part, 77, **kw)
        self.log = FaultLog(self.j)
        self.sup = Supervisor(self.j, self.log, cause)
        self.heater = sim.Output(HEATER, 0)
        self.latch = sim.Output(LATCH, 1)  # 1 = locked (safe)
        self.safe_calls = 0

        def heater_off():
            self.heater.value(0)
            self.safe_calls += 1

        def latch_lock():
            self.latch.value(1)

        self.sup.register_safe(heater_off)
        self.sup.register_safe(latch_lock)
        self.j.mount()
        self.state = self.sup.boot(0, power_ok)

    def reboot(self, cause="power_on"):
        return Board(self.part, cause)

    def run_job(self, job=42):
        self.sup.ready()
        self.sup.job_start(job, 10)
        self.heater.value(1)
        self.latch.value(0)

    def outputs_safe(self):
        return sim.world.outputs[HEATER] == 0 and sim.world.outputs[LATCH] == 1


def _err(code, fn, *a):
    try:
        fn(*a)
    except SupervisorError as e:
        assert e.code == code, (e.code, code, e.message)
        assert e.message
        return e
    raise AssertionError("expected SupervisorError %s" % code)


def test_fresh_boot_is_safe_then_ready_active():
    b = Board()
    assert b.state == SAFE and b.safe_calls == 1 and b.outputs_safe()
    d = b.sup.describe()
    assert d["state"] == SAFE and d["recovery"] is None and d["reset_cause"] == "power_on"
    assert d["journal"] == "ok" and d["boots"] == 1 and d["last_fault"] is None
    b.run_job(5)
    assert b.sup.state == ACTIVE and b.sup.job_id == 5
    b.sup.job_end()
    assert b.sup.state == READY and b.sup.job_id == 0
    assert b.reboot().sup.describe()["boots"] == 2


def test_illegal_transitions_raise_state():
    b = Board()
    _err("STATE", b.sup.job_start, 1)  # SAFE -> ACTIVE
    _err("STATE", b.sup.job_end)
    _err("STATE", b.sup.clear_fault)
    b.sup.ready()
    _err("STATE", b.sup.ready)
    _err("BAD_ARG", b.sup.job_start, 0)
    b.sup.job_start(1)
    _err("STATE", b.sup.ready)
    assert b.sup.state == ACTIVE


def test_fault_runs_safe_actions_and_latches():
    b = Board()
    b.run_job()
    b.sup.fault("HEATER_OPEN", {"dT": 3}, 500)
    assert b.outputs_safe() and b.sup.state == FAULT
    f = b.sup.describe()["last_fault"]
    assert f["code"] == "HEATER_OPEN" and f["t_ms"] == 500 and f["ctx"] == {"dT": 3}
    _err("STATE", b.sup.ready)
    assert b.sup.clear() == SAFE
    # the fault aborted the job: no recovery after a reboot
    b2 = b.reboot()
    assert b2.state == SAFE
    assert b2.sup.describe()["last_fault"]["code"] == "HEATER_OPEN"


def test_estop_and_role_exception():
    b = Board()
    b.run_job()
    b.sup.estop("button")
    assert b.outputs_safe() and b.sup.state == SAFE and b.sup.job_id == 0
    assert b.log.last()["code"] == "ESTOP" and b.log.last()["ctx"]["reason"] == "button"
    b.run_job(7)
    try:
        raise ValueError("boom in role")
    except ValueError as e:
        b.sup.role_exception(e)
    assert b.outputs_safe() and b.sup.state == FAULT
    f = b.log.last()
    assert f["code"] == "ROLE_EXC" and f["ctx"]["exc"] == "ValueError" and "boom" in f["ctx"]["msg"]


def test_safe_actions_all_run_even_if_one_raises():
    b = Board()
    ran = []

    def bad():
        raise OSError(5)

    def after():
        ran.append(1)

    b.sup._safe.insert(0, bad)
    b.sup.register_safe(after)
    b.run_job()
    b.sup.fault("X")
    assert b.outputs_safe() and ran == [1]
    assert b.sup.safe_errors == 1
    assert "OSError" in b.sup.describe()["last_safe_error"]
    b.heater.value(1)
    b.sup.power_fail(100)
    assert b.outputs_safe() and ran == [1, 1] and b.sup.safe_errors == 2


def test_power_fail_safe_first_then_one_record():
    b = Board()
    b.run_job(9)
    seen = []
    real = b.part.program

    def spy(block, data, off=0):
        seen.append(sim.world.outputs[HEATER] == 0 and sim.world.outputs[LATCH] == 1)
        real(block, data, off)

    b.part.program = spy
    e0 = sim.world.erases
    assert b.sup.power_fail(1234)
    assert b.sup.state == POWERFAIL and b.outputs_safe()
    assert seen == [True]  # exactly one program, and the outputs were already safe
    assert sim.world.erases == e0
    assert not b.sup.power_fail(1240)  # already in POWERFAIL: safe again, no second record
    assert len(seen) == 1
    r = Journal(b.part, 77)
    r.mount()
    snap = snapshot_fields(r.read(KIND_POWERFAIL))
    assert snap["flags"] & 1 and snap["job"] == 9 and snap["t_ms"] == 1234 and snap["why"] == 1


def test_power_fail_path_does_not_allocate():
    b = Board()
    b.run_job(3)
    gc.collect()
    a0 = gc.mem_alloc()
    b.sup.tick(50)
    b.sup.role_state[0] = 1
    a1 = gc.mem_alloc()
    assert a1 == a0  # per-tick snapshot update is allocation-free
    b.heater.value(1)
    # sim.Partition.program allocates its own slices; swap in a non-allocating program.
    # The slot was prepared erased (0xFF), so its NOR AND is the data itself.
    f = sim.world.flash["journal"]._f

    def program(block, data, off=0):
        f.seek(block * 4096 + off)
        f.write(data)

    b.part.program = program
    gc.collect()
    micropython.heap_lock()
    try:
        ok = b.sup.power_fail(60)
    finally:
        micropython.heap_unlock()
    assert ok and b.outputs_safe()


def test_recovery_after_power_fail_with_job():
    b = Board()
    b.run_job(42)
    b.sup.power_fail(777)
    b2 = b.reboot("power_on")  # a brown-out reads as power-on: the journal decides
    assert b2.state == RECOVERY and b2.outputs_safe()
    rec = b2.sup.describe()["recovery"]
    assert rec["job"] == 42 and rec["kind"] == "POWERFAIL" and rec["t_ms"] == 777 and rec["was"] == ACTIVE
    assert rec["token"] == "42:%d" % rec["seq"]


def test_recovery_from_state_record_without_powerfail_signal():
    b = Board()
    b.run_job(8)  # STATE record with the job active; then a sudden reset (watchdog)
    b2 = b.reboot("wdt")
    assert b2.state == RECOVERY and b2.sup.describe()["recovery"]["kind"] == "STATE"


def test_no_recovery_when_idle_or_job_ended():
    b = Board()
    b.run_job(8)
    b.sup.job_end()
    b.sup.power_fail(10)
    assert b.reboot().state == SAFE
    b3 = Board(sim.Partition("other", 4 * 4096), cause="brownout")
    b3.sup.power_fail(1)
    assert b3.reboot().state == SAFE


def test_recovery_for_held_payload():
    b = Board()
    b.sup.ready()
    b.sup.set_held(True)
    b.sup.power_fail(5)
    b2 = b.reboot()
    assert b2.state == RECOVERY
    rec = b2.sup.describe()["recovery"]
    assert rec["held"] and rec["job"] == 0
    b2.sup.resume(rec["token"])
    assert b2.sup.state == READY and b2.sup.flags & 2
    b2.sup.set_held(False)
    assert b2.reboot().state == SAFE


def test_resume_and_discard_checks():
    b = Board()
    _err("STATE", b.sup.resume, "1:1")
    b.run_job(42)
    b.sup.power_fail(100)
    b2 = b.reboot()
    rec = b2.sup.describe()["recovery"]
    for bad, code in (("43:%d" % rec["seq"], "NO_JOB"), ("42:%d" % (rec["seq"] - 1), "STALE"),
                      ("nonsense", "BAD_TOKEN"), ({"job": 42}, "BAD_TOKEN")):
        _err(code, b2.sup.resume, bad)
        _err(code, b2.sup.discard, bad)
        assert b2.sup.state == RECOVERY and b2.outputs_safe()
    # console args forms work too
    got = b2.sup.resume({"token": rec["token"]})
    assert got["job"] == 42 and b2.sup.state == ACTIVE
    _err("STATE", b2.sup.resume, rec["token"])  # already resumed


def test_discard_forgets_the_job():
    b = Board()
    b.run_job(42)
    b.sup.power_fail(100)
    b2 = b.reboot()
    tok = b2.sup.describe()["recovery"]["token"]
    b2.sup.discard({"job": 42, "seq": int(tok.split(":")[1])})
    assert b2.sup.state == READY and b2.sup.job_id == 0
    assert b2.reboot().state == SAFE


def test_resume_refused_by_role_keeps_outputs_safe():
    b = Board()
    b.run_job(42)
    b.sup.power_fail(100)
    b2 = b.reboot()

    def check(rec):
        raise SupervisorError("REFUSED", "food spent too long in the danger zone")

    b2.sup.on_resume = check
    _err("REFUSED", b2.sup.resume, b2.sup.describe()["recovery"]["token"])
    assert b2.sup.state == RECOVERY and b2.outputs_safe()


def test_power_fail_during_recovery_keeps_the_job():
    b = Board()
    b.run_job(42)
    b.sup.power_fail(100)
    b2 = b.reboot()
    old = b2.sup.describe()["recovery"]["token"]
    b2.sup.power_fail(200)
    b3 = b2.reboot()
    assert b3.state == RECOVERY and b3.sup.describe()["recovery"]["job"] == 42
    # the token shown before the second power loss is stale now
    _err("STALE", b3.sup.resume, old)
    b3.sup.resume(b3.sup.describe()["recovery"]["token"])
    assert b3.sup.state == ACTIVE


def test_power_restore_without_reset():
    b = Board()
    b.run_job(11)
    b.sup.power_fail(100)
    assert b.sup.power_restored(300) == RECOVERY
    rec = b.sup.describe()["recovery"]
    assert rec["job"] == 11
    b.sup.resume(rec["token"])
    assert b.sup.state == ACTIVE
    assert b.j.pf_ready  # re-armed for the next power fail
    b.sup.job_end()
    b.sup.power_fail(400)
    assert b.sup.power_restore(500) == SAFE
    b.sup.fault("X")
    b.sup.power_fail(600)
    assert b.sup.power_restore(700) == FAULT


def test_fault_log_ring_persisted_and_reloaded():
    b = Board()
    b.log.set_wall(700000000, 0)
    for i in range(11):
        b.sup.fault("F%d" % i, {"i": i}, 1000 * i)
        b.sup.clear()
    lst = b.log.list()
    assert len(lst) == 8 and lst[0]["code"] == "F3" and lst[-1]["code"] == "F10"
    assert lst[-1]["wall"] == 700000010 and lst[-1]["t_ms"] == 10000
    b2 = b.reboot()
    lst2 = b2.log.list()
    assert [f["code"] for f in lst2] == ["F%d" % i for i in range(3, 11)]
    assert lst2[-1]["ctx"] == {"i": 10} and b2.log.total == 11
    b2.sup.fault("F11")
    assert b2.log.last()["n"] == 12
    # faults are FAULT-kind journal records
    assert b2.j.read(KIND_FAULT + 12 % 8) is not None


def test_fault_log_survives_ring_wraps():
    b = Board(min_free=2)
    b.sup.fault("OLD", {"a": 1}, 5)
    b.sup.clear()
    b.sup.ready()
    for i in range(400):
        b.sup.checkpoint(i)
        b.j.maintain(True)
    b2 = b.reboot()
    assert b2.log.list()[0]["code"] == "OLD"
    assert b2.j.read(KIND_STATE) is not None


def test_huge_fault_ctx_is_truncated_not_lost():
    b = Board()
    b.sup.fault("BIG", {"blob": "x" * 500})
    b2 = b.reboot()
    assert b2.log.last()["code"] == "BIG" and b2.log.last()["ctx"] == {"trunc": 1}


def test_foreign_journal_reported_and_formatted_on_request():
    part = sim.Partition("journal", 8 * 4096)
    other = Journal(part, 999)
    other.mount()
    other.append(KIND_STATE, bytes(64))
    b = Board(part)
    d = b.sup.describe()
    assert d["journal"] == "foreign" and b.state == SAFE
    b.run_job(1)  # the board still works, it just cannot remember
    assert not b.sup.power_fail(10)
    assert b.outputs_safe()
    b.sup.power_restore(20)
    assert b.sup.format_journal(True)
    # one block erased per call, the rest one per maintain() (one per tick in the app)
    assert b.j.status == "formatting" and not b.j.writable
    erased = 1
    while b.j.maintain(True, max_erases=1):
        erased += 1
    assert erased == 8  # every block, one at a time
    b.sup.tick(30)  # the supervisor checkpoints its state into the fresh journal
    assert b.j.status == "ok" and b.j.pf_ready


def test_no_journal_at_all():
    sup = Supervisor(None, FaultLog(None))
    assert sup.boot_done(0) == SAFE
    sup.ready()
    sup.job_start(3)
    assert not sup.power_fail(5) and sup.state == POWERFAIL
    assert sup.describe()["journal"] == "none"


def test_powerfail_record_kind_is_newest():
    b = Board()
    b.run_job(4)
    b.sup.power_fail(9)
    j = Journal(b.part, 77)
    j.mount()
    assert j.latest(KIND_POWERFAIL).seq > j.latest(KIND_STATE).seq
