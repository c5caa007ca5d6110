# G-code parser for the toolhead's job subset, pure (no I/O).
#
# A job line arrives with its line number from the host (`gcode {"n": 12, "line": ...}`).
# The line itself may carry Marlin's framing, "N12 G1 E0.5 F120*93": when it does, the
# N must equal n and the checksum (XOR of every byte before '*', as Marlin and
# RepRapFirmware compute it) must match. Comments (';' to the end) are dropped.
#
# Accepted (anything else is refused, so a slicer's stray XYZ move never reaches a
# toolhead that cannot do it):
#   M104 [T<h>] S<c> set a heater's temperature, do not wait (S0: off); T1 is the
#                    second (body) heater where the board has one
#   M109 [T<h>] S<c> set it and wait until it is within the material tolerance
#   M105             report the temperature
#   G1 E<mm> [F<mm/min>] [D<ms> [C1]]  extrude (G0 is taken as G1); F alone sets the
#                    feed rate; with D, a synced move: E over exactly D ms, cruise F; C1:
#                    chained, the gantry ran it right after its move before, so it
#                    starts where the extruder's move before ended (up to 100 ms back)
#   M900 K<s>        pressure advance (Marlin's linear advance K, in seconds)
#   M106 [P0] S<0-255> / M107   fan
#   M0 / M1 / M25 / M600        pause the job (anything after the code is ignored:
#                    Marlin's messages, M600's change positions); job_resume goes on
#   T0 / T1          the heater M104/M109 without T set
#   G92 E<mm>        set the logical E position
#   M82 / M83        absolute / relative E
#   G4 P<ms> | S<s>  dwell
#   M112             emergency stop
#   M302 [S<c>]      report or raise the cold-extrusion limit (P1, "allow cold
#                    extrusion", is refused: the guard stays on)
#   M303 E0 S<c> [C<cycles>]  heater autotune (relay method) at S; the job waits for it
#   G10 / G11        firmware retract / unretract (length and speed from the config)
#
# parse(n, line) -> (code, params) where code is a short str ("G1", "M104", ...) and
# params a dict letter -> float ("", {} for a blank or comment-only line); raises GcodeError(code, message) with code one of
# BAD_ARGS, BAD_LINE, BAD_CHECKSUM, TOO_LONG, UNSUPPORTED.
from hearth.control import ControlError

MAX_LINE = 96

SUPPORTED = {
    "G1": "EFDC",
    "G4": "PS",
    "G10": "",
    "G11": "",
    "G92": "E",
    "M82": "",
    "M83": "",
    "M104": "ST",
    "M105": "",
    "M109": "ST",
    "M900": "K",
    "M106": "SP",
    "M107": "P",
    "M0": None,
    "M1": None,
    "M25": None,
    "M600": None,
    "T0": "",
    "T1": "",
    "M112": "",
    "M302": "SP",
    "M303": "ESC",
}


GcodeError = ControlError  # the parser's refusals are a controller's, codes as above


def checksum(text):
    # Marlin / RepRapFirmware line checksum: XOR of the bytes before '*'.
    cs = 0
    for ch in text:
        cs ^= ord(ch)
    return cs & 0xFF


def _number(word, text):
    try:
        return float(text)
    except ValueError:
        raise GcodeError("BAD_ARGS", "bad number in '%s'" % word)


def parse(n, line):
    if not isinstance(line, str):
        raise GcodeError("BAD_ARGS", "line must be a string")
    if len(line) > MAX_LINE:
        raise GcodeError("TOO_LONG", "job line longer than %d characters" % MAX_LINE)
    star = line.find("*")
    if star >= 0:
        body = line[:star]
        cs_text = line[star + 1:].strip()
        if not cs_text.isdigit() or int(cs_text) != checksum(body):
            raise GcodeError("BAD_CHECKSUM", "checksum mismatch on line %d: resend it" % n)
        line = body
    semi = line.find(";")
    if semi >= 0:
        line = line[:semi]
    words = line.upper().split()
    if words and words[0][0] == "N":
        ln = words[0][1:]
        if not ln.isdigit() or int(ln) != n:
            raise GcodeError("BAD_LINE", "line carries %s but was sent as line %d" % (words[0], n))
        words = words[1:]
    if not words:
        return "", {}
    code = words[0]
    if len(code) < 2 or code[0] not in "GMT" or not code[1:].isdigit():
        raise GcodeError("BAD_ARGS", "'%s' is not a G, M or T command" % code)
    code = code[0] + str(int(code[1:]))  # G01 -> G1
    if code == "G0":
        code = "G1"
    if code not in SUPPORTED:
        raise GcodeError("UNSUPPORTED", "%s is not in the toolhead's G-code subset" % code)
    allowed = SUPPORTED[code]
    if allowed is None:
        return code, {}  # a pause: its words are a message for a display this toolhead lacks
    params = {}
    for w in words[1:]:
        letter = w[0]
        if letter not in allowed:
            raise GcodeError("BAD_ARGS", "%s takes no %s parameter (a toolhead moves E only)" % (code, letter))
        if letter in params:
            raise GcodeError("BAD_ARGS", "%s given twice" % letter)
        params[letter] = _number(w, w[1:]) if len(w) > 1 else 0.0
    return code, params
