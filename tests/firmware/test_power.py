# Power monitor: 2-of-3 sub-sample vote per tick, hysteresis, restore delay,
# brown-out ramps, flapping, power-good input.
import gc

import micropython

from hearth.hal import sim
from hearth.drivers.power import PowerMonitor

TICK = 10


class SeqAdc:
    # Returns queued pin voltages (uV) one read at a time, then `level` forever.
    def __init__(self, level_uv):
        self.level = level_uv
        self.queue = []
        self.reads = 0

    def read_uv(self):
        self.reads += 1
        if self.queue:
            return self.queue.pop(0)
        return self.level


class SeqPin:
    def __init__(self, v=1):
        self.v = v
        self.queue = []

    def value(self):
        if self.queue:
            return self.queue.pop(0)
        return self.v


def _uv(mv, ratio=10):
    return mv * 1000 // ratio


def _mon(adc=None, pg=None, ok=True, **kw):
    return PowerMonitor(adc=adc, ratio=10, pgood=pg, fail_mv=4500, restore_mv=4750,
                        restore_ms=kw.pop("restore_ms", 100), ok=ok, **kw)


def test_divider_math_and_mv():
    a = SeqAdc(_uv(5000))
    m = _mon(a)
    assert m.step(0) is None and m.ok
    assert abs(m.mv - 5000) <= 10
    m2 = PowerMonitor(adc=a, divider=2.0, fail_mv=100, restore_mv=200, ok=True)
    m2.step(0)
    assert abs(m2.mv - 1000) <= 2


def test_one_noisy_sample_never_trips():
    a = SeqAdc(_uv(5000))
    m = _mon(a)
    for t in range(0, 1000, TICK):
        a.queue = [0]  # one sub-sample per tick reads 0 V
        assert m.step(t) is None
        a.queue = [_uv(5000), 0]  # the middle one
        assert m.step(t) is None
    assert m.ok and m.fails == 0


def test_real_drop_trips_in_the_same_tick():
    a = SeqAdc(_uv(5000))
    m = _mon(a)
    m.step(0)
    a.level = _uv(4400)
    assert m.step(10) == "fail" and not m.ok
    assert m.step(20) is None  # one event per failure
    # two of three low within the tick is a drop too
    a.level = _uv(5000)
    for t in range(30, 200, TICK):
        m.step(t)
    assert m.ok
    a.queue = [_uv(4000), _uv(5000), _uv(4000)]
    assert m.step(300) == "fail"


def test_restore_only_after_restore_ms_above_restore_mv():
    a = SeqAdc(_uv(3000))
    m = _mon(a)
    assert m.step(0) == "fail"
    a.level = _uv(4600)  # above fail, below restore: hysteresis band
    for t in range(10, 500, TICK):
        assert m.step(t) is None
    assert not m.ok
    a.level = _uv(4800)
    events = [(t, m.step(t)) for t in range(500, 700, TICK)]
    got = [t for t, e in events if e == "restore"]
    assert got == [600], events


def test_starts_not_ok_and_reports_restore_once_stable():
    a = SeqAdc(_uv(5000))
    m = _mon(a, ok=False)
    evs = [m.step(t) for t in range(0, 200, TICK)]
    assert evs.count("restore") == 1 and evs.index("restore") == 10 and m.ok


def test_brownout_ramp_down_and_up():
    a = SeqAdc(_uv(5000))
    m = _mon(a)
    evs = []
    mv = 5000
    t = 0
    while mv > 3000:  # slow ramp down, 5 mV per tick, with +-30 mV ripple
        a.level = _uv(mv + (30 if t % 20 else -30))
        evs.append(m.step(t))
        mv -= 5
        t += TICK
    while mv < 5000:  # and back up
        a.level = _uv(mv + (30 if t % 20 else -30))
        evs.append(m.step(t))
        mv += 5
        t += TICK
    for _ in range(20):
        evs.append(m.step(t))
        t += TICK
    assert evs.count("fail") == 1 and evs.count("restore") == 1, (evs.count("fail"), evs.count("restore"))
    assert m.ok


def test_flapping_supply_one_fail_restore_only_when_steady():
    a = SeqAdc(_uv(5000))
    m = _mon(a)
    evs = []
    t = 0
    for i in range(100):  # 40 ms on / 10 ms off: never steady for restore_ms
        a.level = _uv(4000)
        evs.append(m.step(t))
        t += TICK
        a.level = _uv(5000)
        for _ in range(4):
            evs.append(m.step(t))
            t += TICK
    assert evs.count("fail") == 1 and evs.count("restore") == 0
    for _ in range(12):
        evs.append(m.step(t))
        t += TICK
    assert evs.count("restore") == 1 and m.ok


def test_power_good_input_with_glitch():
    pg = SeqPin(1)
    m = PowerMonitor(pgood=pg, restore_ms=50, ok=True)
    pg.queue = [0]
    assert m.step(0) is None  # one glitch outvoted
    pg.queue = [0, 0]
    assert m.step(10) == "fail"
    assert m.step(20) is None
    evs = [m.step(t) for t in range(30, 100, TICK)]
    assert evs.count("restore") == 1


def test_either_source_trips():
    a = SeqAdc(_uv(5000))
    pg = SeqPin(1)
    m = _mon(a, pg)
    m.step(0)
    pg.v = 0
    assert m.step(10) == "fail"  # supply ADC still fine, power-good says no
    pg.v = 1
    a.level = _uv(4000)
    for t in range(20, 300, TICK):
        assert m.step(t) != "restore"  # pgood fine but supply low
    a.level = _uv(5000)
    assert "restore" in [m.step(t) for t in range(300, 500, TICK)]


def test_with_sim_hal_adc_and_input():
    sim.world.adc[34] = _uv(5000, 11)
    sim.world.inputs[25] = 1
    m = PowerMonitor(adc=sim.Adc(34), ratio=11, pgood=sim.Input(25), fail_mv=4500, restore_mv=4750, ok=True)
    assert m.step(0) is None and abs(m.mv - 5000) < 15
    sim.world.adc[34] = _uv(4000, 11)
    assert m.step(10) == "fail"


def test_active_low_power_good():
    pg = SeqPin(0)
    m = PowerMonitor(pgood=pg, pgood_level=0, ok=True)
    assert m.step(0) is None
    pg.v = 1
    assert m.step(10) == "fail"


def test_step_does_not_allocate():
    a = SeqAdc(_uv(5000))
    pg = SeqPin(1)
    m = _mon(a, pg)
    m.step(0)
    gc.collect()
    micropython.heap_lock()
    try:
        t = 10
        while t < 100:  # (a range() with a non-literal step would allocate itself)
            m.step(t)
            t += 10
        a.level = _uv(4000)
        ev = m.step(100)
    finally:
        micropython.heap_unlock()
    assert ev == "fail"


def test_bad_config():
    for kw in ({}, {"adc": SeqAdc(0), "fail_mv": 5000, "restore_mv": 4000}):
        try:
            PowerMonitor(**kw)
            raise AssertionError("accepted %r" % kw)
        except ValueError:
            pass


def test_ticks_wrap():
    a = SeqAdc(_uv(3000))
    m = _mon(a, restore_ms=50)
    t0 = (1 << 30) - 30
    m.step(t0)
    a.level = _uv(5000)
    evs = []
    for i in range(1, 10):
        evs.append(m.step((t0 + i * TICK) & ((1 << 30) - 1)))
    assert evs.count("restore") == 1 and evs.index("restore") == 5
