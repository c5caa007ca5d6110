"""Read a slicer's G-code file: refuse what is not a G-code text file, split the rest
into words. Pure: no board, no ports.

Refused before anything is planned or heats, each with its line number:
  - a file larger than MAX_FILE_BYTES (checked on its size, before reading it);
  - bytes that are not text: NUL or other control characters, or invalid UTF-8;
  - a line longer than MAX_LINE_CHARS (a slicer line is short; a long one is junk);
  - a last line with no line end that holds a command: the file was cut short (an
    unfinished copy or download), and its last command may be cut too;
  - a line whose Marlin framing (N<n> ... *<checksum>) does not check out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_LINE_CHARS = 4096
# Commands whose argument is free text (Marlin): no word parsing after the code.
TEXT_ARG = {"M23", "M28", "M30", "M32", "M117", "M118", "M16", "M808"}

_WORD = re.compile(r"([A-Za-z])\s*([-+]?(?:\d+\.?\d*|\.\d+))?")
_CODE = re.compile(r"\s*([A-Za-z])\s*(\d+(?:\.\d+)?)")


class FileRefused(Exception):
    """The file cannot be printed: `line` (1-based, 0 for the whole file) and why."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line, self.reason = line, reason


@dataclass
class Line:
    n: int                     # 1-based line number in the file
    raw: str                   # the line as in the file, without its line end
    code: str = ""             # "G1", "M104", "T0", "W1"; "" for a blank or comment-only line
    params: dict[str, float | None] = field(default_factory=dict)
    text: str = ""             # free-text argument (M117 ...), or the unparsed rest
    comment: str = ""


def _strip_comment(s: str) -> tuple[str, str]:
    comment = ""
    semi = s.find(";")
    if semi >= 0:
        s, comment = s[:semi], s[semi + 1:].strip()
    if "(" in s:  # RepRap/CNC-style (comments)
        out, depth = [], 0
        for ch in s:
            if ch == "(":
                depth += 1
            elif ch == ")" and depth:
                depth -= 1
            elif not depth:
                out.append(ch)
        s = "".join(out)
    return s, comment


def _checksum(body: str) -> int:
    cs = 0
    for ch in body:
        cs ^= ord(ch)
    return cs & 0xFF


def parse_line(n: int, raw: str) -> Line:
    """Split one line into code, parameters and comment; FileRefused when its framing is
    wrong or a parameter is not a number."""
    body = raw
    star = body.find("*")
    semi = body.find(";")
    if star >= 0 and (semi < 0 or star < semi):
        cs = body[star + 1:].split(";", 1)[0].strip()
        if not cs.isdigit() or int(cs) != _checksum(body[:star]):
            raise FileRefused(n, f"checksum mismatch ({raw.strip()!r})")
        body = body[:star] + (body[semi:] if semi > star else "")
    body, comment = _strip_comment(body)
    body = body.strip()
    ln = Line(n, raw, comment=comment)
    if not body:
        return ln
    m = re.match(r"[Nn]\s*(\d+)\s*", body)
    if m and len(body) > m.end() and body[m.end()].isalpha():
        body = body[m.end():]
    cm = _CODE.match(body)
    if not cm:
        word = body.split()[0]
        raise FileRefused(n, f"{word!r} is not a G-code command (expected a letter and a number, e.g. G1 or M104)")
    letter, num = cm.group(1).upper(), cm.group(2)
    code = letter + (str(int(float(num))) if "." not in num else num.rstrip("0").rstrip("."))
    ln.code = code
    rest = body[cm.end():]
    if code in TEXT_ARG:
        ln.text = rest.strip()
        return ln
    pos = 0
    rest_s = rest.strip()
    while pos < len(rest_s):
        if rest_s[pos].isspace():
            pos += 1
            continue
        wm = _WORD.match(rest_s, pos)
        if not wm:
            ln.text = rest_s[pos:]
            break
        letter = wm.group(1).upper()
        val = wm.group(2)
        ln.params[letter] = float(val) if val not in (None, "", "+", "-") else None
        pos = wm.end()
    return ln


def read(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> list[Line]:
    """Every line of the file, parsed; FileRefused for a file that is not printable
    text (see the module doc)."""
    p = Path(path)
    size = p.stat().st_size
    if size > max_bytes:
        raise FileRefused(0, f"the file is {size / 1e6:.0f} MB, above the {max_bytes / 1e6:.0f} MB a job may be "
                             "(a slicer file for a food toolhead is far smaller: is this the right file?)")
    data = p.read_bytes()
    if not data.strip():
        raise FileRefused(0, "the file is empty")
    out: list[Line] = []
    lines = data.split(b"\n")
    last_has_end = lines[-1] == b""
    if last_has_end:
        lines = lines[:-1]
    for i, b in enumerate(lines, 1):
        if b.endswith(b"\r"):
            b = b[:-1]
        bad = next((c for c in b if (c < 32 and c != 9) or c == 127), None)
        if bad is not None:
            raise FileRefused(i, f"byte 0x{bad:02x} is not text: binary data in a G-code file (a corrupt copy, or "
                                 "not a G-code file)")
        try:
            s = b.decode("utf-8")
        except UnicodeDecodeError:
            raise FileRefused(i, "bytes that are not UTF-8 text: binary data in a G-code file") from None
        if len(s) > MAX_LINE_CHARS:
            raise FileRefused(i, f"line of {len(s)} characters, longer than {MAX_LINE_CHARS}: not a G-code line")
        out.append(parse_line(i, s))
    if not last_has_end and out and out[-1].code:
        raise FileRefused(out[-1].n, f"the last line ({out[-1].raw.strip()!r}) has no line end: the file looks cut "
                                     "short (an unfinished copy or download); copy or export it again")
    return out


def slicer_of(lines: list[Line]) -> str:
    """Which program wrote the file, from its comments ('' when none says)."""
    for ln in lines[:400] + lines[-400:]:
        c = ln.comment
        low = c.lower()
        if "generated with cura" in low:
            return c.split("with", 1)[1].strip()
        if low.startswith("generated by prusaslicer") or "prusaslicer_config" in low:
            return "PrusaSlicer" + (" " + c.split()[2] if low.startswith("generated by") and len(c.split()) > 2
                                    else "")
        if "simplify3d" in low:
            return "Simplify3D"
        if low.startswith("pancakepainter"):
            return c.split(" GCODE")[0]
        if low.startswith("generated by superslicer") or low.startswith("generated by slic3r"):
            return c[len("generated by "):]
    return ""


def flavour_of(lines: list[Line]) -> str:
    for ln in lines[:50]:
        if ln.comment.upper().startswith("FLAVOR:"):
            return ln.comment.split(":", 1)[1].strip()
    for ln in lines[-600:]:
        if ln.comment.startswith("gcode_flavor ="):
            return ln.comment.split("=", 1)[1].strip()
    return ""
