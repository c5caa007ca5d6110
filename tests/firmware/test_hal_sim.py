# The simulated HAL refuses what an ESP32 refuses, and keeps NOR-flash rules.
from hearth.hal import sim


def _raises(fn, *a):
    try:
        fn(*a)
    except ValueError:
        return True
    raise AssertionError("expected ValueError from %r%r" % (fn, a))


def test_pwm_needs_freq_and_duty():
    _raises(sim.Pwm, 4, None, None)
    _raises(sim.Pwm, 4, 1000, None)
    p = sim.Pwm(4, 1000, 0)
    assert sim.world.pwm[4] == (1000, 0)
    p.duty_u16(1000)
    assert sim.world.pwm[4] == (1000, 1000)
    p.deinit()
    assert 4 not in sim.world.pwm


def test_strapping_and_input_only_pins_refused_as_outputs():
    for pin in (0, 2, 5, 12, 15, 34, 39):
        _raises(sim.Output, pin, 0)
    _raises(sim.Output, 6, 0)  # SPI flash
    _raises(sim.Pwm, 35, 50, 0)
    sim.Input(34)  # input-only pin is fine as input
    sim.Output(26, 0)


def test_s3_pins():
    sim.world.reset("esp32s3")
    for pin in (0, 3, 45, 46, 19, 20):
        _raises(sim.Output, pin, 0)
    sim.Output(12, 0)
    sim.Adc(4)
    _raises(sim.Adc, 12)


def test_hard_irq_refused():
    pin = sim.Input(25, "up")
    _raises(pin.irq, lambda p: None, 3, True)
    pin.irq(lambda p: None)


def test_adc_only_adc1():
    _raises(sim.Adc, 25)
    a = sim.Adc(34)
    sim.world.adc[34] = 1234567
    assert a.read_uv() == 1234567


def test_clock_wraps_like_esp32():
    sim.world.now = ((1 << 30) - 5) * 1000
    a = sim.ticks_ms()
    sim.sleep_ms(10)
    b = sim.ticks_ms()
    assert b < a
    assert sim.ticks_diff(b, a) == 10
    assert sim.ticks_add(a, 10) == b


def test_flash_nor_rules():
    p = sim.Partition("journal", 8192)
    assert p.block_count == 2
    buf = bytearray(4)
    p.readblocks(0, buf, 0)
    assert buf == b"\xff\xff\xff\xff"
    p.program(0, b"\x0f\xf0\xaa\x55", 0)
    p.program(0, b"\xf0\xff\xff\xff", 0)  # programming only clears bits
    p.readblocks(0, buf, 0)
    assert buf == b"\x00\xf0\xaa\x55"
    p.erase(0)
    p.readblocks(0, buf, 0)
    assert buf == b"\xff\xff\xff\xff"
    assert sim.world.programs == 2 and sim.world.erases == 1


def test_flash_torn_program():
    p = sim.Partition("journal", 8192)
    sim.world.cut_at_program = 2
    sim.world.tear_bytes = 3
    p.program(1, b"\x00\x00\x00\x00\x00\x00", 0)
    try:
        p.program(1, b"\x00\x00\x00\x00\x00\x00", 16)
    except sim.PowerCut:
        pass
    else:
        raise AssertionError("no power cut")
    buf = bytearray(8)
    p.readblocks(1, buf, 16)
    assert buf == b"\x00\x00\x00\xff\xff\xff\xff\xff"
