"""hearth config, host side: the schema check names the field and its range, nothing is
sent unless the whole document passes, chunked push fits the board's line limit."""

from __future__ import annotations

import binascii
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host_tools import config_host as ch
from host_tools.protocol import BoardError, encode_request

BOARD_SCHEMA = {  # as the board sends it: [type, default, min, max, unit]
    "common": {"tick_ms": ["int", 10, 5, 100, "ms"], "telemetry_ms": ["int", 0, 0, 60000, "ms"]},
    "printer": {"max_c": ["float", 70.0, 20.0, 80.0, "C"], "fan": ["bool", False, None, None, ""]},
    "latch": {"presence": ["str", "switch", ["switch", "loadcell", "either"], None, ""],
              "release_timeout_ms": ["int", 1500, 100, 10000, "ms"]},
}
SCHEMA = {sec: {k: ch.spec_from_board(v) for k, v in f.items()} for sec, f in BOARD_SCHEMA.items()}


def test_good_config() -> None:
    assert ch.validate({"common": {"tick_ms": 20}, "printer": {"max_c": 60, "fan": True}}, SCHEMA) == []
    assert ch.validate({}, SCHEMA) == []


@pytest.mark.parametrize("data,msg", [
    ({"common": {"tick_ms": 1}}, "common.tick_ms=1: must be an integer in 5..100 ms"),
    ({"common": {"tick_ms": 10.5}}, "common.tick_ms=10.5: must be an integer in 5..100 ms"),
    ({"common": {"tick_ms": True}}, "common.tick_ms=true: must be an integer in 5..100 ms"),
    ({"printer": {"max_c": "hot"}}, 'printer.max_c="hot": must be a number in 20.0..80.0 C'),
    ({"printer": {"max_c": 95}}, "printer.max_c=95: must be a number in 20.0..80.0 C"),
    ({"printer": {"fan": 1}}, "printer.fan=1: must be true or false"),
    ({"latch": {"presence": "magic"}}, 'latch.presence="magic": must be one of switch, loadcell, either'),
    ({"common": {"tik_ms": 10}}, "unknown config key common.tik_ms"),
    ({"heater": {"x": 1}}, "unknown config section 'heater'"),
    ({"common": 5}, "config section 'common' must be an object"),
    ([1, 2], "config must be a JSON object"),
])
def test_each_problem_names_the_field_and_range(data: Any, msg: str) -> None:
    problems = ch.validate(data, SCHEMA)
    assert len(problems) == 1 and problems[0].startswith(msg), problems


def test_all_problems_reported_at_once() -> None:
    p = ch.validate({"common": {"tick_ms": 1, "nope": 2}, "printer": {"max_c": 1000}}, SCHEMA)
    assert len(p) == 3


def test_assignments_merge_and_types() -> None:
    assert ch.parse_assignment("common.tick_ms=20", SCHEMA) == ("common", "tick_ms", 20)
    assert ch.parse_assignment("printer.fan=true", SCHEMA) == ("printer", "fan", True)
    assert ch.parse_assignment("latch.presence=loadcell", SCHEMA) == ("latch", "presence", "loadcell")
    assert ch.parse_assignment("latch.presence=123", SCHEMA) == ("latch", "presence", "123")  # str stays str
    for bad in ("tick_ms=3", "common.tick_ms", "a.b.c=1"):
        with pytest.raises(ch.ConfigError):
            ch.parse_assignment(bad, SCHEMA)
    stored = {"common": {"tick_ms": 20}}
    new = ch.merge(stored, [("printer", "fan", True), ("common", "telemetry_ms", 500)])
    assert new == {"common": {"tick_ms": 20, "telemetry_ms": 500}, "printer": {"fan": True}}
    assert stored == {"common": {"tick_ms": 20}}  # not modified in place


def test_diff_fills_defaults() -> None:
    assert ch.diff({"common": {"tick_ms": 10}}, {}, SCHEMA) == []  # 10 is the default
    d = ch.diff({"printer": {"max_c": 60}}, {"printer": {"max_c": 60.0}, "common": {"tick_ms": 20}}, SCHEMA)
    assert d == [{"key": "common.tick_ms", "host": 10, "board": 20}]
    assert ch.diff({"printer": {"fan": 1}}, {"printer": {"fan": True}}, SCHEMA)  # 1 is not true


def test_load_file_errors(tmp_path: Any) -> None:
    with pytest.raises(ch.ConfigError, match="cannot read"):
        ch.load_file(tmp_path / "missing.json")
    p = tmp_path / "bad.json"
    p.write_text('{"common": {"tick_ms": 10,}}')
    with pytest.raises(ch.ConfigError, match="not valid JSON .line 1"):
        ch.load_file(p)


class FakeBoard:
    """Plays the board's config_stage / config_push (as firmware/hearth/runtime/configcmd.py)."""

    max_line = 256

    def __init__(self) -> None:
        self.stage = b""
        self.pushed: Any = None
        self.lines: list[int] = []

    def request(self, cmd: str, args: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
        self.lines.append(len(encode_request(999_999_999, cmd, args)) - 1)
        if cmd == "config_stage":
            if args["off"] == 0:
                self.stage = b""
            assert args["off"] == len(self.stage)
            self.stage += args["text"].encode()
            return {"staged": len(self.stage)}
        assert cmd == "config_push"
        if args["crc"] != "%08x" % (binascii.crc32(self.stage) & 0xFFFFFFFF):
            raise BoardError("BAD_ARGS", "crc")
        self.pushed = json.loads(self.stage)
        return {"hash": "abcd", "saved": True, "reboot": args["reboot"]}


@given(st.dictionaries(st.text(min_size=1, max_size=12),
                       st.dictionaries(st.text(min_size=1, max_size=20),
                                       st.one_of(st.integers(-10**9, 10**9), st.booleans(), st.text(max_size=80),
                                                 st.floats(allow_nan=False, allow_infinity=False)),
                                       max_size=12), max_size=5))
def test_push_chunks_fit_a_line_and_arrive_whole(data: dict[str, Any]) -> None:
    b = FakeBoard()
    res = ch.push(b, data, reboot=False)
    assert res["hash"] == "abcd" and b.pushed == data
    assert max(b.lines) <= 256


def test_fetch_pages_the_schema() -> None:
    class Board:
        def __init__(self) -> None:
            self.calls = 0

        def request(self, cmd: str, args: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
            self.calls += 1
            sec = args.get("section")
            if sec is None:
                return {"hash": "h", "stored_hash": "h", "sections": list(BOARD_SCHEMA), "stored": None, "page": 1}
            if args.get("schema"):
                names = list(BOARD_SCHEMA[sec])
                s = args["start"]
                return {"section": sec, "start": s, "total": len(names),
                        "fields": {n: BOARD_SCHEMA[sec][n] for n in names[s:s + 1]}}
            return {"section": sec, "config": {k: v[1] for k, v in BOARD_SCHEMA[sec].items()}}

    b = Board()
    g = ch.fetch(b)
    assert g["schema"] == SCHEMA and g["config"]["common"] == {"tick_ms": 10, "telemetry_ms": 0}
    assert b.calls == 1 + 3 + 6


def _printer(**kw: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"max_c": 70.0, "min_setpoint_c": 20.0, "danger_lo_c": 5.0, "danger_hi_c": 57.0}
    for m, (sp, lo, hi) in {"dark": (32, 30, 34), "milk": (30, 28.5, 32), "white": (28.5, 27, 30),
                            "dough": (30, 20, 38), "puree": (65, 60, 70)}.items():
        c.update({f"{m}_c": sp, f"{m}_min_c": lo, f"{m}_max_c": hi})
    c.update(kw)
    return {"printer": c}


def test_consistency_of_the_defaults_and_contradictions_named() -> None:
    # issue 12: config set took a material maximum above max_c, a minimum above the maximum
    assert ch.consistency(_printer()) == []
    p = ch.consistency(_printer(dark_max_c=79))
    assert p == ["printer.dark_max_c=79 is above printer.max_c=70.0"], p
    p = ch.consistency(_printer(milk_min_c=33, milk_max_c=32))
    assert "printer.milk_min_c=33 is above printer.milk_max_c=32" in p
    p = ch.consistency(_printer(white_c=31))
    assert p == ["printer.white_c=31 is outside printer.white_min_c..white_max_c (27..30)"], p
    assert ch.consistency(_printer(danger_lo_c=60, danger_hi_c=57)) == [
        "printer.danger_lo_c=60 is not below printer.danger_hi_c=57"]
    assert ch.consistency(_printer(min_setpoint_c=70)) == ["printer.min_setpoint_c=70 is not below printer.max_c=70.0"]
    latch = {"servo_locked_us": 1000, "servo_open_us": 1000, "loadcell_on_g": 100, "loadcell_off_g": 150,
             "solenoid_pull_ms": 300, "solenoid_max_on_ms": 200}
    p = ch.consistency({"latch": latch})
    assert p == ["latch.servo_open_us=1000 is the same as latch.servo_locked_us: the bolt would never move",
                 "latch.loadcell_off_g=150 is not below latch.loadcell_on_g=100",
                 "latch.solenoid_pull_ms=300 is above latch.solenoid_max_on_ms=200"], p
