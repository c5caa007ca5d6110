# Thermistor driver: conversion (beta, Steinhart-Hart), oversampling, filter, faults.


from plants import heater as heatplant  # noqa: E402
from hearth.drivers import thermistor as th  # noqa: E402


class FakeAdc:
    def __init__(self, uv=1650000):
        self.uv = uv
        self.seq = None
        self.reads = 0

    def read_uv(self):
        self.reads += 1
        if self.seq:
            return self.seq.pop(0)
        return self.uv


def test_beta_matches_the_divider_model():
    ntc = heatplant.NtcAdc(noise_uv=0)
    t = th.Thermistor(FakeAdc(), {"filter_ms": 0})
    for c in (0.0, 10.0, 22.0, 29.0, 32.0, 34.0, 45.0, 65.0, 90.0):
        got = t.convert(ntc.ideal_uv(c))
        assert abs(got - c) < 0.01, (c, got)


def test_resistance_topologies():
    assert abs(th.resistance(1650000, 3300000, 100000.0) - 100000.0) < 1e-6
    assert abs(th.resistance(1100000, 3300000, 10000.0, "low") - 5000.0) < 1e-6
    assert abs(th.resistance(1100000, 3300000, 10000.0, "high") - 20000.0) < 1e-6
    assert th.resistance(0, 3300000, 1.0) is None
    assert th.resistance(3300000, 3300000, 1.0) is None
    # NTC on the high side: 25 C sits at vref/2 as well
    t = th.Thermistor(FakeAdc(), {"topology": "high", "filter_ms": 0})
    assert abs(t.convert(1650000) - 25.0) < 0.01


def test_steinhart_hart_fit_beats_beta_on_a_real_curve():
    # a part whose curve bends away from the beta model (as real parts do)
    ntc = heatplant.NtcAdc(noise_uv=0, sh_skew=0.5)
    pts = [(c, ntc.resistance(c)) for c in (20.0, 45.0, 70.0)]
    a, b, c3 = th.sh_coeffs(pts)
    for c, r in pts:
        assert abs(th.sh_temp(r, a, b, c3) - c) < 0.001
    t_sh = th.Thermistor(FakeAdc(), {"model": "sh", "sh": (a, b, c3), "filter_ms": 0})
    t_beta = th.Thermistor(FakeAdc(), {"filter_ms": 0})
    worst_sh = worst_beta = 0.0
    for c in (25.0, 32.0, 40.0, 55.0, 65.0):
        uv = ntc.ideal_uv(c)
        worst_sh = max(worst_sh, abs(t_sh.convert(uv) - c))
        worst_beta = max(worst_beta, abs(t_beta.convert(uv) - c))
    assert worst_sh < 0.05, worst_sh
    assert worst_beta > 4 * worst_sh


def test_sh_needs_coefficients_and_unknown_keys_refused():
    for cfg in ({"model": "sh"}, {"model": "cubic"}, {"pullup": 1}):
        try:
            th.Thermistor(FakeAdc(), cfg)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % cfg)


def test_oversampling_trims_outliers():
    adc = FakeAdc()
    t = th.Thermistor(adc, {"oversample": 6, "filter_ms": 0})
    adc.seq = [1650000, 1650000, 3290000, 1650000, 10000, 1650000]
    v = t.read(0)
    assert adc.reads == 6
    assert t.uv == 1650000
    assert abs(v - 25.0) < 0.01


def test_filter_time_constant():
    ntc = heatplant.NtcAdc(noise_uv=0)
    adc = FakeAdc(ntc.ideal_uv(22.0))
    t = th.Thermistor(adc, {"filter_ms": 500})
    assert abs(t.read(0) - 22.0) < 0.01  # the first read initialises
    adc.uv = ntc.ideal_uv(32.0)
    for ms in range(100, 600, 100):
        t.read(ms)
    # after one time constant ~63 % of the step (discrete: 1-(5/6)^5 = 0.60)
    assert 27.5 < t.temp < 28.8, t.temp
    assert abs(t.raw - 32.0) < 0.01


def test_open_detected_within_one_second_and_clears():
    ntc = heatplant.NtcAdc()
    adc = FakeAdc(ntc.uv(30.0))
    t = th.Thermistor(adc)
    t.read(0)
    good = t.temp
    ntc.fault = "open"
    adc.uv = ntc.uv(30.0)
    ms = 0
    while t.fault is None:
        ms += 100
        assert t.read(ms) is None
        assert ms <= 1000
    assert t.fault == th.OPEN
    assert ms <= 300
    assert t.temp == good  # last good value kept, but flagged
    ntc.fault = None
    adc.uv = ntc.uv(30.0)
    assert t.read(ms + 100) is not None
    assert t.fault is None


def test_short_detected_within_one_second():
    ntc = heatplant.NtcAdc()
    adc = FakeAdc(ntc.uv(30.0))
    t = th.Thermistor(adc)
    t.read(0)
    ntc.fault = "short"
    adc.uv = ntc.uv(30.0)
    ms = 0
    while t.fault is None:
        ms += 100
        t.read(ms)
        assert ms <= 1000
    assert t.fault == th.SHORT


def test_single_glitch_is_not_a_fault():
    ntc = heatplant.NtcAdc()
    adc = FakeAdc(ntc.uv(30.0))
    t = th.Thermistor(adc)
    t.read(0)
    adc.seq = [3300000] * 4  # one whole read out of band
    assert t.read(100) is None
    assert t.fault is None
    assert t.read(200) is not None
    assert t.fault is None


def test_plausible_band_covers_food_temperatures_with_noise():
    ntc = heatplant.NtcAdc(noise_uv=20000)
    adc = FakeAdc()
    t = th.Thermistor(adc)
    ms = 0
    for c in (-5.0, 0.0, 22.0, 65.0, 100.0):
        for _ in range(20):
            adc.uv = ntc.uv(c)
            ms += 100
            t.read(ms)
            assert t.fault is None, (c, adc.uv)


def test_from_board_reads_the_board_files_thermistor_section():
    # The board file speaks the datasheet's units (r25, pullup, vref_mv); the driver
    # reads them itself (no role translates them).
    from hearth.pinout import Pins

    class FakeHal:
        def Adc(self, pin):
            assert pin == 1
            return FakeAdc()

    pins = Pins(FakeHal(), {"pins": {"thermistor_adc": 1}})
    t = th.Thermistor.from_board(pins, {"r25": 10000, "beta": 3435, "pullup": 4700, "vref_mv": 3300})
    assert t.cfg["r0"] == 10000.0 and t.cfg["beta"] == 3435.0
    assert t.cfg["r_pullup"] == 4700.0 and t.cfg["vref_uv"] == 3300000
    d = th.Thermistor.from_board(pins, {})
    assert d.cfg["r0"] == th.DEFAULTS["r0"] and d.cfg["vref_uv"] == th.DEFAULTS["vref_uv"]
