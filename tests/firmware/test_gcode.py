# G-code parser for the toolhead's job subset: numbers, checksums, the subset, limits.
from hearth.control.gcode import GcodeError, checksum, parse


def _err(code, n, line):
    try:
        parse(n, line)
    except GcodeError as e:
        assert e.code == code, (e.code, code, e.message)
        assert e.message
        return e
    raise AssertionError("no error for %r" % line)


def test_basic_commands():
    assert parse(1, "G1 E1.5 F120") == ("G1", {"E": 1.5, "F": 120.0})
    assert parse(2, "g01 e-0.5") == ("G1", {"E": -0.5})
    assert parse(3, "G0 E2") == ("G1", {"E": 2.0})
    assert parse(4, "M104 S32 ; chocolate") == ("M104", {"S": 32.0})
    assert parse(5, "M83") == ("M83", {})
    assert parse(6, "G4 P500") == ("G4", {"P": 500.0})
    assert parse(7, "G92 E0") == ("G92", {"E": 0.0})
    assert parse(8, "M109 S31.5") == ("M109", {"S": 31.5})


def test_blank_and_comment_lines_are_no_ops():
    assert parse(1, "") == ("", {})
    assert parse(2, "   ; only a comment") == ("", {})


def test_line_number_and_checksum():
    body = "N12 G1 E0.5 F120"
    line = "%s*%d" % (body, checksum(body))
    assert parse(12, line) == ("G1", {"E": 0.5, "F": 120.0})
    _err("BAD_LINE", 13, line)
    _err("BAD_CHECKSUM", 12, "%s*%d" % (body, (checksum(body) + 1) % 256))
    _err("BAD_CHECKSUM", 12, body + "*x")
    # the checksum as Marlin computes it: XOR of the bytes before '*'
    assert checksum("N1 M83") == 78 ^ 49 ^ 32 ^ 77 ^ 56 ^ 51


def test_slicer_additions():
    assert parse(1, "G1 E0.5 F120 D300") == ("G1", {"E": 0.5, "F": 120.0, "D": 300.0})
    assert parse(1, "M900 K0.2") == ("M900", {"K": 0.2})
    assert parse(1, "M106 S255") == ("M106", {"S": 255.0})
    assert parse(1, "M107") == ("M107", {})
    assert parse(1, "M104 T1 S40") == ("M104", {"T": 1.0, "S": 40.0})
    assert parse(1, "T1") == ("T1", {})
    # pauses carry Marlin's message or M600's positions: ignored, not refused
    assert parse(1, "M0 Click to continue") == ("M0", {})
    assert parse(1, "M600 X10 Y10 E-5") == ("M600", {})
    assert parse(1, "M25") == ("M25", {}) and parse(1, "M1") == ("M1", {})


def test_subset_only():
    _err("BAD_ARGS", 1, "G1 X10 E1")      # no XYZ on a toolhead
    _err("UNSUPPORTED", 1, "G28")
    _err("UNSUPPORTED", 1, "M140 S60")
    _err("UNSUPPORTED", 1, "T2")
    _err("BAD_ARGS", 1, "X10")
    _err("BAD_ARGS", 1, "G1 X10 E1")
    _err("BAD_ARGS", 1, "M106 S128 Q1")
    _err("BAD_ARGS", 1, "G1 E1 E2")
    _err("BAD_ARGS", 1, "G1 Eabc")


def test_over_long_line():
    _err("TOO_LONG", 1, "G1 E1 " + ";" * 200)
