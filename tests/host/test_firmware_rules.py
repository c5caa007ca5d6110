"""Rules the firmware tree must keep so it runs unchanged on an ESP32."""

from __future__ import annotations

import ast
import json
from pathlib import Path

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


def test_board_files_use_safe_pins() -> None:
    chips = ast.literal_eval(
        (FIRMWARE / "hearth" / "hal" / "chips.py").read_text().split("CHIPS = ", 1)[1]
    )
    for path in sorted((ROOT / "boards").glob("*.json")):
        board = json.loads(path.read_text())
        chip = chips[board["chip"]]
        for item in board["safe_outputs"]:
            pin = item["pin"]
            assert pin in chip["gpio"], (path.name, pin)
            assert pin not in chip["strapping"], f"{path.name}: actuator on strapping pin {pin}"
            assert pin not in chip["input_only"] and pin not in chip["reserved"], (path.name, pin)
        for name, pin in board["pins"].items():
            if isinstance(pin, int):
                assert pin in chip["gpio"] and pin not in chip["reserved"], (path.name, name, pin)
        for name in ("supply_adc", "thermistor_adc"):
            if name in board["pins"]:
                assert board["pins"][name] in chip["adc"], (path.name, name)
