# Extruder planner: planning limits, the time profile (own acceleration and synced
# G1 E F D moves), pressure advance, counts.
from hearth.control.extruder import Extruder, PlanError


def _run(x, steps, rate, tick_us=10000, jitter=0, dur_us=0, carry_us=0, trace=None):
    x.start(steps, rate, dur_us, carry_us)
    emitted = 0
    hz = x.step(0)
    ticks = 0
    peak = 0
    i = 0
    while x.moving():
        dt = tick_us + (jitter if i % 2 else -jitter)
        emitted += hz * dt
        if trace is not None:
            trace.append(hz)
        i += 1
        peak = max(peak, hz)
        hz = x.step(dt)
        ticks += 1
        assert ticks < 100000
    return emitted / 1000000, ticks, peak


def _refused(fn, code, *args):
    try:
        fn(*args)
    except PlanError as e:
        assert e.code == code, (e.code, e.message)
        return e.message
    raise AssertionError("not refused: %r" % (args,))


def test_plan_limits_and_modes():
    x = Extruder({"steps_per_mm": 400, "max_rate_mm_s": 5, "max_len_mm": 50})
    assert x.plan(1.0, 120) == (400, 2.0 * 400, 0)
    # above the extruder's rate: refused naming the limit, nothing changes
    msg = _refused(x.plan, "BAD_ARGS", 2.0, 6000)
    assert "max_rate_mm_s 5.000" in msg and "F300" in msg, msg
    assert x.pos_mm == 1.0 and x.feed_mm_s == 2.0
    _refused(x.plan, "BAD_ARGS", None, 301)          # F alone too
    assert x.plan(None, 300) == (0, 0, 0) and x.feed_mm_s == 5.0
    _refused(x.plan, "RANGE", 60.0)
    assert x.pos_mm == 1.0       # the refused moves did not move the position
    x.relative = False
    assert x.plan(5.0)[0] == 1600  # absolute: 1 -> 5 mm
    x.set_position(0)
    assert x.plan(-0.5)[0] == -200
    y = Extruder({"steps_per_mm": 5000, "max_rate_mm_s": 5, "max_hz": 20000})
    assert "max_step_hz" in _refused(y.plan, "BAD_ARGS", 1.0, 250)   # 20833 steps/s


def test_synced_move_arguments_checked():
    x = Extruder({"steps_per_mm": 400, "max_rate_mm_s": 5})
    # E1 at F120 (2 mm/s) takes 500 ms at cruise; 500..1000 ms is a trapezoid
    assert x.plan(1.0, 120, 500) == (400, 800.0, 500000)
    assert x.plan(1.0, 120, 1000)[2] == 1000000
    pos = x.pos_mm
    assert "more than D400" in _refused(x.plan, "BAD_ARGS", 1.0, 120, 400)
    assert "never reaches" in _refused(x.plan, "BAD_ARGS", 1.0, 120, 1100)
    _refused(x.plan, "BAD_ARGS", 1.0, 120, 0)
    _refused(x.plan, "BAD_ARGS", 1.0, 120, -5)
    _refused(x.plan, "BAD_ARGS", None, 120, 500)
    assert x.pos_mm == pos
    assert x.plan(0.0, 120, 300) == (0, 800.0, 300000)   # E0 D: a timed wait


def test_counts_are_exact_and_profile_is_trapezoid():
    x = Extruder({"steps_per_mm": 400, "max_rate_mm_s": 5, "accel_mm_s2": 50})
    for steps, rate in ((400, 2000.0), (37, 800.0), (5000, 2000.0), (-1200, 1500.0), (1, 100.0)):
        n, ticks, peak = _run(x, steps, rate)
        assert abs(n - abs(steps)) < 1.0, (steps, n)
        assert peak <= rate + 1
    # 5000 steps at 2000/s with 20000 steps/s2: ~2.5 s cruise + 0.1 s ramps
    n, ticks, peak = _run(x, 5000, 2000.0)
    assert 250 <= ticks <= 262, ticks
    assert x.steps_total == 400 + 37 + 5000 - 1200 + 1 + 5000


def test_synced_move_lasts_its_duration_with_its_ramps():
    x = Extruder({"steps_per_mm": 400, "max_rate_mm_s": 5})
    # 400 steps at 800/s over 700 ms: ramps of 200 ms each side
    tr = []
    n, ticks, peak = _run(x, 400, 800.0, dur_us=700000, trace=tr)
    assert abs(n - 400) < 1.0, n
    assert ticks == 70, ticks
    assert 790 <= peak <= 810, peak
    assert tr[0] < 100 and tr[35] > 780 and tr[-1] < 100, tr
    # the ramps are linear: the rate 100 ms in is half the cruise
    assert 350 <= tr[9] <= 450, tr[9]


def test_tick_jitter_costs_a_fraction_of_a_step_per_tick():
    x = Extruder({"steps_per_mm": 400, "max_rate_mm_s": 5, "accel_mm_s2": 50})
    n, ticks, peak = _run(x, 3000, 2000.0, jitter=500)
    assert abs(n - 3000) < 1.0, n
    n, ticks, peak = _run(x, 3000, 2000.0, jitter=500, dur_us=1800000)
    assert abs(n - 3000) < 1.0, n


def test_back_to_back_synced_moves_keep_the_timeline():
    # moves of 333 ms each end inside a tick: the rest of the tick goes to the next,
    # so 9 moves take 3 s, not 9 x 340 ms
    x = Extruder({"steps_per_mm": 400, "max_rate_mm_s": 5})
    t = 0
    carry = 0
    for _ in range(9):
        n, ticks, peak = _run(x, 200, 800.0, dur_us=333000, carry_us=carry)
        carry = x.carry_us
        t += ticks
    assert 299 <= t <= 301, t


def test_pressure_advance_leads_the_ramps_and_keeps_the_count():
    x = Extruder({"steps_per_mm": 400, "max_rate_mm_s": 5, "pa_s": 0.1})
    tr = []
    n, ticks, peak = _run(x, 400, 800.0, dur_us=700000, trace=tr)
    assert abs(n - 400) < 1.0 and ticks == 70, (n, ticks)
    # ramp-up: v + K a = v + 0.1 x 4000 steps/s2: 400 steps/s above the plain ramp
    assert 700 <= tr[9] <= 900, tr[9]
    # ramp-down: v - K a, below 0 in the last K of the move: the piston pulls the lead
    # back out of the nozzle by the stop, down to -K a = -400 steps/s at the end
    assert -440 <= min(tr) <= -340 and tr[-1] < 0, tr[-10:]
    # without pressure advance nothing ever runs backwards
    x.set_pa(0.0)
    tr = []
    n, ticks, peak = _run(x, 400, 800.0, dur_us=700000, trace=tr)
    assert abs(n - 400) < 1.0 and min(tr) >= 0, (n, tr[-10:])
    x.set_pa(0.1)
    _refused(x.set_pa, "BAD_ARGS", 1.5)
    _refused(x.set_pa, "BAD_ARGS", -0.1)
    assert x.pa == 0.1


def test_counted_pulses_steer_the_move():
    # a counter that saw 20 pulses fewer than the estimate: the move makes them up
    x = Extruder({"steps_per_mm": 400, "max_rate_mm_s": 5})
    x.start(400, 800.0, 700000)
    hz = x.step(0)
    made = 0
    ticks = 0
    while x.moving():
        made += hz * 10000 // 1000000
        if ticks == 30:
            made -= 20
        hz = x.step(10000, made)
        ticks += 1
        assert ticks < 200
    assert made == 400, made
    assert x.steps_total == 400 and x.made_total == 400


def test_abort_reports_emitted():
    x = Extruder()
    x.start(-1000, 1000.0)
    hz = x.step(0)
    x.step(10000)
    assert x.moving()
    n = x.abort()
    assert n == -(hz * 10000 // 1000000) and not x.moving()
