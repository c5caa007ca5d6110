"""Rules the firmware tree must keep so it runs unchanged on an ESP32."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from host_tools.deploy import board_rules

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_hal_esp32_imports_machine_or_esp32() -> None:
    offenders = []
    for p in sorted(FIRMWARE.rglob("*.py")):
        if p == FIRMWARE / "hearth" / "hal" / "esp32.py":
            continue
        bad = _imports(p) & {"machine", "esp32", "umachine"}
        if bad:
            offenders.append(f"{p.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, offenders
    assert {"machine", "esp32"} <= _imports(FIRMWARE / "hearth" / "hal" / "esp32.py")


def test_board_files_keep_every_rule() -> None:
    for path in sorted((ROOT / "boards").glob("*.json")):
        board = json.loads(path.read_text())
        assert board_rules.problems(board) == [], path.name


def _broken(base: str, **changes) -> list[str]:
    board = json.loads((ROOT / "boards" / f"{base}.json").read_text())
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            board.setdefault(section, {})[name] = value
        else:
            board[section] = value
    return board_rules.problems(board)


def test_board_rules_name_the_pin_and_the_rule() -> None:
    # each rule, broken once: the message names the pin and what is wrong
    (p,) = _broken("latch-esp32", pulls__bolt_open_sw=None)
    assert "pin 27 (bolt_open_sw)" in p and "floats" in p
    (p,) = _broken("latch-esp32", pulls__power_good="up")
    assert "pin 35 (power_good)" in p and "input-only" in p
    (p,) = _broken("latch-esp32", supply__divider=2.0)
    assert "pin 34 (supply_adc)" in p and "2500 mV" in p
    (p,) = _broken("printer-s3", pins__clog_sw=36)
    assert "pin 36 (clog_sw)" in p and "octal PSRAM" in p
    (p,) = _broken("latch-esp32", pins__supply_adc=4)
    assert "ADC1" in p
    bad = json.loads((ROOT / "boards" / "latch-esp32.json").read_text())
    bad["pins"]["servo"] = 12
    for item in bad["safe_outputs"]:
        if item["pin"] == 25:
            item["pin"] = 12
    (p,) = board_rules.problems(bad)
    assert "pin 12 (servo)" in p and "strapping" in p


def test_build_refuses_a_board_that_breaks_a_rule(tmp_path, monkeypatch) -> None:
    from host_tools.deploy import build as buildmod

    board = json.loads((ROOT / "boards" / "latch-esp32.json").read_text())
    board["pulls"].pop("payload_sw")
    monkeypatch.setattr(buildmod, "load_board", lambda name: board)
    try:
        buildmod.build("latch-esp32", "sim", out=tmp_path / "out")
    except buildmod.BuildError as e:
        assert "pin 14 (payload_sw)" in str(e)
    else:
        raise AssertionError("built a board file that breaks a rule")
    assert not (tmp_path / "out").exists()
