# Extruder planner: planning limits, trapezoid profile, exact step counts.
from hearth.control.extruder import Extruder, PlanError


def _run(x, steps, rate, tick_us=10000, jitter=0):
    x.start(steps, rate)
    emitted = 0
    hz = x.step(0)
    ticks = 0
    peak = 0
    i = 0
    while hz:
        dt = tick_us + (jitter if i % 2 else -jitter)
        emitted += hz * dt
        i += 1
        peak = max(peak, hz)
        hz = x.step(dt)
        ticks += 1
        assert ticks < 100000
    return emitted / 1000000, ticks, peak


def test_plan_limits_and_modes():
    x = Extruder({"steps_per_mm": 400, "max_rate_mm_s": 5, "max_len_mm": 50})
    assert x.plan(1.0, 120) == (400, 2.0 * 400, False)
    steps, rate, clamped = x.plan(2.0, 6000)     # 100 mm/s asked, 5 allowed
    assert steps == 800 and rate == 2000 and clamped
    try:
        x.plan(60.0)
        raise AssertionError("no range error")
    except PlanError as e:
        assert e.code == "RANGE"
    assert x.pos_mm == 3.0       # the refused move did not move the position
    x.relative = False
    assert x.plan(5.0)[0] == 800  # absolute: 3 -> 5 mm
    x.set_position(0)
    assert x.plan(-0.5)[0] == -200
    assert x.plan(None, 60) == (0, 0, False)


def test_counts_are_exact_and_profile_is_trapezoid():
    x = Extruder({"steps_per_mm": 400, "max_rate_mm_s": 5, "accel_mm_s2": 50})
    for steps, rate in ((400, 2000.0), (37, 800.0), (5000, 2000.0), (-1200, 1500.0), (1, 100.0)):
        n, ticks, peak = _run(x, steps, rate)
        assert abs(n - abs(steps)) < 1.0, (steps, n)
        assert peak <= rate + 1
    # 5000 steps at 2000/s with 20000 steps/s2: ~2.5 s cruise + 0.1 s ramps
    n, ticks, peak = _run(x, 5000, 2000.0)
    assert 250 <= ticks <= 275, ticks
    assert x.steps_total == 400 + 37 + 5000 - 1200 + 1 + 5000


def test_tick_jitter_costs_a_fraction_of_a_step_per_tick():
    x = Extruder({"steps_per_mm": 400, "max_rate_mm_s": 5, "accel_mm_s2": 50})
    n, ticks, peak = _run(x, 3000, 2000.0, jitter=500)
    assert abs(n - 3000) < 20, n


def test_abort_reports_emitted():
    x = Extruder()
    x.start(-1000, 1000.0)
    hz = x.step(0)
    x.step(10000)
    assert x.moving()
    n = x.abort()
    assert n == -(hz * 10000 // 1000000) and not x.moving()
