# hearth.ticks: the one wrap-around time difference the pure floors use (ESP32 ticks
# wrap at 2**30).
from hearth.ticks import PERIOD, ticks_add, ticks_diff


def test_diff_across_the_wrap():
    assert PERIOD == 1 << 30
    assert ticks_diff(5, PERIOD - 1) == 6
    assert ticks_diff(PERIOD - 1, 5) == -6
    assert ticks_diff(1000, 900) == 100
    assert ticks_diff(7, 7) == 0


def test_diff_is_signed_within_half_a_period():
    half = PERIOD // 2
    assert ticks_diff(half - 1, 0) == half - 1
    assert ticks_diff(half, 0) == -half  # half a period apart or more: ambiguous, reads back
    assert ticks_diff(0, half - 1) == -(half - 1)


def test_add_wraps_like_the_clock():
    assert ticks_add(PERIOD - 10, 25) == 15
    assert ticks_add(10, -25) == PERIOD - 15
    assert ticks_diff(ticks_add(PERIOD - 3, 100), PERIOD - 3) == 100
    assert ticks_add(123, 0) == 123
