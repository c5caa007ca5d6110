# The latch state machine: fail-secure, every interlock named, verified motion.
from hearth.control import latch as L


def mk(link=True, **cfg):
    lt = L.Latch(cfg)
    if link:
        lt.set_link(True)
    return lt


def locked(lt, t=0, present=True):
    assert lt.step(t, 1, 0, present) == "lock"
    assert lt.state == L.LOCKED, lt.state
    return lt


def events(lt):
    out = []
    e = lt.pop_event()
    while e is not None:
        out.append(e)
        e = lt.pop_event()
    return out


def test_boot_never_opens_and_verifies_lock():
    lt = mk()
    assert lt.state == L.CLOSING and lt.cmd == "lock"
    # even if the world says "open" at boot (power cut after a release)
    for t in range(0, 1400, 10):
        assert lt.step(t, 0, 1, 0) == "lock"
    assert lt.step(1400, 1, 0, 0) == "lock"
    assert lt.state == L.LOCKED


def test_boot_without_lock_switch_faults_locked():
    lt = mk()
    for t in range(0, 2000, 10):
        assert lt.step(t, 0, 0, 1) == "lock"
    assert lt.state == L.FAULT and lt.fault == "jam_close"


def test_release_needs_arm():
    lt = locked(mk())
    assert lt.request_release(10, "mavlink") == (False, "armed")
    assert lt.step(20, 1, 0, 1) == "lock"
    assert ("denied" in [e[1] for e in events(lt)])


def test_full_release_cycle_with_auto_close():
    lt = locked(mk(auto_close_ms=1000))
    assert lt.arm(100) == (True, "ok") and lt.state == L.ARMED
    assert lt.request_release(200, "mavlink") == (True, "ok")
    assert lt.state == L.RELEASING and lt.cmd == "open"
    assert lt.step(210, 1, 0, 1) == "open"  # moving
    assert lt.step(300, 0, 0, 1) == "open"
    assert lt.step(400, 0, 1, 0) == "open"
    assert lt.state == L.OPEN and lt.releases == 1
    assert lt.step(1399, 0, 1, 0) == "open"
    assert lt.step(1400, 0, 1, 0) == "lock"
    assert lt.state == L.CLOSING and lt.why == "auto_close"
    lt.step(1500, 0, 0, 0)
    lt.step(1600, 1, 0, 0)
    assert lt.state == L.LOCKED
    # the arm was used up: a second release needs a new arm
    assert lt.request_release(1700, "mavlink") == (False, "armed")


def test_jam_on_release_faults_and_locks():
    lt = locked(mk(release_timeout_ms=500))
    lt.arm(0)
    lt.request_release(0, "host")
    assert lt.step(499, 1, 0, 1) == "open"
    assert lt.step(500, 1, 0, 1) == "lock"
    assert lt.state == L.FAULT and lt.fault == "jam"
    # fault is sticky; nothing opens
    assert lt.arm(600) == (False, "fault")
    assert lt.request_release(600, "host") == (False, "fault")
    assert lt.grab(600) == (False, "fault")
    for t in range(600, 5000, 100):
        assert lt.step(t, 1, 0, 1) == "lock"
    assert lt.clear_fault(5000) == (True, "ok")
    assert lt.state == L.CLOSING and lt.cmd == "lock"
    lt.step(5010, 1, 0, 1)
    assert lt.state == L.LOCKED


def test_close_jam():
    lt = locked(mk(auto_close_ms=0, close_timeout_ms=300))
    lt.arm(0)
    lt.request_release(0, "mavlink")
    lt.step(100, 0, 1, 0)
    assert lt.state == L.OPEN
    assert lt.step(10000, 0, 1, 0) == "open"  # auto-close off: stays open
    assert lt.grab(10000) == (True, "ok")
    lt.step(10100, 0, 1, 0)
    lt.step(10300, 0, 1, 0)
    assert lt.state == L.FAULT and lt.fault == "jam_close" and lt.cmd == "lock"


def test_each_interlock_named():
    lt = locked(mk(require_confirm=True, confirm_max_age_ms=1000, sources=("mavlink",)))
    assert lt.request_release(0, "mavlink") == (False, "armed")
    lt.arm(0)
    assert lt.request_release(0, "host") == (False, "source")
    assert lt.request_release(0, "mavlink") == (False, "confirm")
    lt.confirm(0)
    lt.set_supply(False)
    assert lt.request_release(10, "mavlink") == (False, "supply")
    lt.set_supply(True)
    lt.set_link(False)
    assert lt.request_release(10, "mavlink") == (False, "link")
    lt.set_link(True)
    # confirmation ages out
    assert lt.request_release(1001, "mavlink") == (False, "confirm")
    lt.confirm(1001)
    assert lt.request_release(1002, "mavlink") == (True, "ok")
    assert lt.request_release(1003, "mavlink") == (False, "busy")
    lt.step(1100, 0, 1, 0)
    assert lt.request_release(1101, "mavlink") == (False, "open")
    lt.set_fault(1200, "servo")
    assert lt.request_release(1201, "mavlink") == (False, "fault")


def test_arm_times_out():
    lt = locked(mk(arm_timeout_ms=2000))
    lt.arm(0)
    assert lt.armed_left_ms(1500) == 500
    lt.step(1999, 1, 0, 1)
    assert lt.state == L.ARMED
    lt.step(2000, 1, 0, 1)
    assert lt.state == L.LOCKED and lt.why == "arm_timeout"
    assert lt.request_release(2001, "mavlink") == (False, "armed")


def test_arm_expiry_checked_without_step():
    lt = locked(mk(arm_timeout_ms=2000))
    lt.arm(0)
    assert lt.request_release(2500, "mavlink") == (False, "armed")


def test_link_loss_disarms_and_denies_arm():
    lt = locked(mk())
    lt.arm(0)
    lt.set_link(False, 5)
    lt.step(10, 1, 0, 1)
    assert lt.state == L.LOCKED and lt.why == "link"
    assert lt.arm(20) == (False, "link")


def test_release_in_motion_not_aborted_by_link_loss():
    lt = locked(mk())
    lt.arm(0)
    lt.request_release(0, "mavlink")
    lt.set_link(False)
    assert lt.step(50, 0, 0, 1) == "open"
    lt.step(100, 0, 1, 0)
    assert lt.state == L.OPEN


def test_supply_bad_disarms():
    lt = locked(mk())
    lt.arm(0)
    lt.set_supply(False)
    lt.step(10, 1, 0, 1)
    assert lt.state == L.LOCKED and lt.why == "supply"
    assert lt.arm(20) == (False, "supply")


def test_payload_events_and_slip_regrab():
    lt = locked(mk(max_regrabs=2))
    ev = events(lt)
    assert (0, "payload", True, None) in ev
    lt.arm(10)
    # payload gone while locked: slip -> disarm, CLOSING "regrab"
    assert lt.step(20, 1, 0, 0) == "lock"
    assert lt.state == L.CLOSING and lt.why == "slip" and lt.regrabs == 1
    kinds = [e[1] for e in events(lt)]
    assert "slip" in kinds and "payload" in kinds
    seq = lt.motion_seq
    lt.step(30, 1, 0, 0)
    assert lt.state == L.LOCKED
    assert lt.request_release(40, "mavlink") == (False, "armed")
    # repeated slips end in a fault, not an endless loop
    lt.step(50, 1, 0, 1)
    lt.step(60, 1, 0, 0)
    assert lt.regrabs == 2 and lt.motion_seq == seq + 1
    lt.step(70, 1, 0, 0)
    lt.step(80, 1, 0, 1)
    lt.step(90, 1, 0, 0)
    assert lt.state == L.FAULT and lt.fault == "regrab_limit"


def test_lock_switch_lost_regrabs():
    lt = locked(mk(switch_fault_ms=100))
    lt.step(10, 0, 0, 1)
    assert lt.state == L.LOCKED  # a bounce is tolerated
    lt.step(50, 1, 0, 1)
    lt.step(60, 0, 0, 1)
    lt.step(160, 0, 0, 1)
    assert lt.state == L.CLOSING and lt.why == "lock_lost" and lt.cmd == "lock"


def test_both_switches_fault():
    lt = locked(mk(switch_fault_ms=100))
    lt.step(10, 1, 1, 1)
    lt.step(110, 1, 1, 1)
    assert lt.state == L.FAULT and lt.fault == "switches"


def test_hold_suspends_auto_close_and_grab_closes():
    lt = locked(mk(auto_close_ms=500))
    lt.arm(0)
    lt.request_release(0, "host")
    lt.step(10, 0, 1, 0)
    assert lt.hold(20) == (True, "open")
    assert lt.step(5000, 0, 1, 0) == "open"
    assert lt.grab(5001) == (True, "ok")
    assert lt.grab(5002) == (True, "in_progress")
    assert lt.hold(5003) == (False, "busy")
    lt.step(5100, 1, 0, 0)
    assert lt.state == L.LOCKED
    lt.arm(5200)
    assert lt.hold(5201) == (True, "locked") and lt.state == L.LOCKED


def test_open_switch_lost_closes():
    lt = locked(mk(switch_fault_ms=100, auto_close_ms=0))
    lt.arm(0)
    lt.request_release(0, "host")
    lt.step(10, 0, 1, 0)
    lt.step(20, 1, 0, 0)  # bolt sprang back (solenoid tripped)
    lt.step(120, 1, 0, 0)
    assert lt.state == L.CLOSING and lt.why == "open_lost"


def test_events_bounded():
    lt = locked(mk(events=4))
    for t in range(1, 50):
        lt.arm(t)
        lt.disarm(t)
    assert len(lt.events) == 4 and lt.events_dropped > 0


def test_unknown_config_rejected():
    try:
        L.Latch({"release_timout_ms": 5})
    except ValueError:
        return
    raise AssertionError("typo accepted")


def test_ticks_wrap():
    start = (1 << 30) - 100
    lt = mk(release_timeout_ms=500)
    lt.step(start, 1, 0, 1)
    lt.arm(start)
    lt.request_release(start, "host")
    assert lt.step((start + 400) & ((1 << 30) - 1), 1, 0, 1) == "open"
    assert lt.step((start + 500) & ((1 << 30) - 1), 1, 0, 1) == "lock"
    assert lt.fault == "jam"


def test_random_never_opens_without_request():
    seed = 7
    lt = mk(arm_timeout_ms=300, release_timeout_ms=200, close_timeout_ms=200, auto_close_ms=100,
            switch_fault_ms=50, max_regrabs=1000)
    granted = 0
    entered = 0
    prev = lt.state
    t = 0
    for _ in range(4000):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        r = seed >> 8
        t += 1 + (r & 31)
        a = (r >> 5) & 15
        if a == 0:
            lt.arm(t)
        elif a == 1:
            ok, _ = lt.request_release(t, "mavlink" if r & 1 else "host")
            granted += ok
        elif a == 2:
            lt.grab(t)
        elif a == 3:
            lt.set_link(r & 2)
        elif a == 4:
            lt.clear_fault(t)
        elif a == 5:
            lt.disarm(t)
        if lt.state == L.RELEASING and prev != L.RELEASING:
            entered += 1
        prev = lt.state
        cmd = lt.step(t, (r >> 9) & 1, (r >> 10) & 1, (r >> 11) & 1)
        if cmd == "open":
            assert lt.state in (L.RELEASING, L.OPEN)
        prev = lt.state
    assert entered == granted
    assert granted > 0


def test_steady_step_allocates_nothing():
    import gc
    lt = locked(mk())
    lt.arm(0)
    ts = list(range(10, 2000, 10))
    gc.collect()
    before = gc.mem_free()
    for t in ts:
        lt.step(t, 1, 0, 1)
    used = before - gc.mem_free()
    assert used < 64, used


def test_gate_function_adds_the_embedders_interlocks():
    # The board's interlocks come in as a plain function (roles/latch.py passes its
    # supervisor check): asked before the latch's own arm checks, after it armed (a
    # refusal disarms again), and after the latch's own release checks.
    asked = []
    answers = {"arm": None, "armed": None, "release": None}

    def gate(now, action):
        asked.append((now, action))
        return answers[action]

    lt = L.Latch({}, gate)
    lt.set_link(True)
    locked(lt)
    answers["arm"] = "fault"
    assert lt.arm(10) == (False, "fault") and lt.state == L.LOCKED
    assert asked == [(10, "arm")]  # refused before the latch's own checks
    answers["arm"] = None
    answers["armed"] = "board"
    assert lt.arm(20) == (False, "board") and lt.state == L.LOCKED  # armed, then disarmed
    answers["armed"] = None
    assert lt.arm(30) == (True, "ok") and lt.state == L.ARMED
    assert asked[-2:] == [(30, "arm"), (30, "armed")]
    del asked[:]
    answers["release"] = "board"
    assert lt.request_release(40, "host") == (False, "board") and lt.state == L.ARMED
    assert asked == [(40, "release")]
    lt.set_link(False)
    del asked[:]
    assert lt.request_release(50, "host") == (False, "link")  # the latch's own check first
    assert asked == []
    lt.set_link(True)
    answers["release"] = None
    assert lt.request_release(60, "host") == (True, "ok") and lt.state == L.RELEASING
