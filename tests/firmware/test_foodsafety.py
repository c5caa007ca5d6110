# Food safety core: danger-zone time, the resume rule, the bounded HACCP record.
from hearth.control.foodsafety import DangerZone, Haccp, check_resume


def test_danger_zone_counts_time_inside_the_bounds():
    dz = DangerZone(5.0, 57.0)
    assert dz.step(0, 65.0) is False            # hot holding: outside
    dz.step(1000, 65.0)
    assert dz.ms == 0
    assert dz.step(2000, 50.0) is True          # cooled into the zone
    dz.step(5000, 40.0)
    assert dz.ms == 3000
    dz.step(6000, None)                         # no reading counts as inside
    dz.step(7000, 3.0)
    assert dz.ms == 5000 and not dz.inside
    dz.step(9000, 2.0)
    assert dz.ms == 5000
    dz.reset(1234)
    assert dz.ms == 1234 and not dz.inside


def test_resume_rule():
    assert check_resume(0, 10 ** 8, None) is None          # exempt material (chocolate)
    assert "unknown" in check_resume(120, 0, None)
    assert "backwards" in check_resume(120, 0, -5)
    assert check_resume(120, 60 * 60000, 30 * 60) is None  # 90 min of 120
    r = check_resume(120, 100 * 60000, 30 * 60)            # 130 min
    assert "130 min" in r and "limit 120" in r


def test_haccp_record_is_bounded_and_decimates():
    h = Haccp(size=10, every_s=1, max_events=3)
    h.reset(5, 1000)
    for s in range(100):
        h.sample(1000 + s * 1000, 30.0 + s / 10, 32.0)
    assert h.n <= 10 and h.every_s >= 10
    r = h.report()
    assert r["job"] == 5 and len(r["temp_c"]) == h.n
    assert r["temp_c"][0] == 30.0 and r["setpoint_c"][0] == 32.0
    # samples stay on an even time base: sample i is at i * every_s
    assert abs(r["temp_c"][1] - (30.0 + h.every_s / 10)) < 0.11
    for i in range(5):
        h.event(2000 + i, "e%d" % i)
    assert [e["what"] for e in h.report()["events"]] == ["e2", "e3", "e4"]
    h.sample(999999, None, None)
    assert h.report(h.n - 1)["temp_c"] == [None]
