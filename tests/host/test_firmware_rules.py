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


# The floors of firmware/hearth (README's map): what each folder may import from hearth.
# control/ is pure (readings and `now` in, outputs out): no hal, no runtime services, no
# roles; drivers get their pins handed in and never import hal; the runtime serves the
# roles and never imports them. Leaves (ticks, options) import nothing of hearth.
FLOORS: dict[str, tuple[str, ...]] = {
    "control": ("hearth.control", "hearth.options", "hearth.ticks"),
    "drivers": ("hearth.drivers", "hearth.options", "hearth.ticks"),
    "runtime": ("hearth.runtime", "hearth.control", "hearth.options", "hearth.ticks", "hearth.hal"),
    "ticks.py": (),
    "options.py": (),
}


def _hearth_imports(path: Path, pkg_root: Path) -> list[tuple[int, str]]:
    """(line, dotted module) for every hearth import in a file, lazy ones inside
    functions included; `from hearth import hal` is hearth.hal, relative imports resolved."""
    here = [pkg_root.name, *path.relative_to(pkg_root).with_suffix("").parts]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == pkg_root.name:  # from hearth import hal, roles: the names are modules
                out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, mod))
    return [(n, m) for n, m in out if m == pkg_root.name or m.startswith(pkg_root.name + ".")]


def floor_violations(pkg_root: Path) -> list[str]:
    """Every import in pkg_root (a copy of firmware/hearth) that FLOORS does not allow."""
    bad = []
    for where, allowed in FLOORS.items():
        target = pkg_root / where
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target] if target.exists() else []
        for f in files:
            for line, mod in _hearth_imports(f, pkg_root):
                if not any(mod == a or mod.startswith(a + ".") for a in allowed):
                    bad.append(f"{f.relative_to(pkg_root.parent)}:{line} imports {mod}")
    return bad


def test_floors_import_only_downwards() -> None:
    assert floor_violations(FIRMWARE / "hearth") == []
    # the floors are where the rules say, and not empty
    for where in FLOORS:
        assert (FIRMWARE / "hearth" / where).exists(), where
    assert len(list((FIRMWARE / "hearth" / "control").glob("*.py"))) > 5


def test_floor_checker_finds_planted_violations(tmp_path) -> None:
    import shutil

    pkg = tmp_path / "hearth"
    shutil.copytree(FIRMWARE / "hearth", pkg)
    assert floor_violations(pkg) == []
    plants = {
        "control/gcode.py": "from hearth.runtime.protocol import CommandError\n",
        "control/pid.py": "def _lazy():\n    from hearth import hal\n",
        "control/latch.py": "from ..roles import latch\n",
        "drivers/servo.py": "import hearth.hal.esp32\n",
        "drivers/switch.py": "from .. import hal\n",
        "runtime/ticker.py": "def _lazy():\n    from hearth.roles.printer import Printer\n",
        "ticks.py": "from hearth.options import merge\n",
    }
    for rel, code in plants.items():
        with open(pkg / rel, "a") as f:
            f.write("\n" + code)
    found = floor_violations(pkg)
    want = ["hearth/control/gcode.py:", "imports hearth.runtime.protocol",
            "hearth/control/pid.py:", "imports hearth.hal",
            "hearth/control/latch.py:", "imports hearth.roles",
            "hearth/drivers/servo.py:", "imports hearth.hal.esp32",
            "hearth/drivers/switch.py:", "hearth/runtime/ticker.py:", "imports hearth.roles.printer",
            "hearth/ticks.py:", "imports hearth.options"]
    text = "\n".join(found)
    for w in want:
        assert w in text, (w, found)
    assert len(found) == len(plants), found


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


def _touches_sys_path(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name) \
                and node.value.id == "sys":
            return True
    return False


def test_firmware_tests_reach_the_plants_without_sys_path_hacks(tmp_path) -> None:
    # host_tools/sim is on MICROPYPATH from one place (host_tools.sim.MICROPY_PATH):
    # no firmware test edits sys.path to find the plants.
    from host_tools.sim import MICROPY_PATH, MICROPY_PLANTS

    tests = sorted((ROOT / "tests" / "firmware").glob("*.py"))
    assert [p.name for p in tests if _touches_sys_path(p) and p.name != "runner.py"] == []
    for rel in MICROPY_PLANTS:
        assert (Path(MICROPY_PATH) / rel).is_file(), rel
    planted = tmp_path / "test_x.py"
    planted.write_text("import sys\nsys.path.append('../../host_tools/sim')\nimport plants\n")
    assert _touches_sys_path(planted)


def test_frozen_chip_images_carry_no_simulated_hal() -> None:
    # The MicroPython board definitions freeze the firmware into a chip image: without
    # hal/sim*.py or hal/chips.py (the virtual board's), with hal/esp32.py.
    manifests = sorted((ROOT / "boards" / "micropython").glob("*/manifest.py"))
    assert manifests
    import re

    for m in manifests:
        files = re.findall(r'"([\w/]+\.py)"', m.read_text())
        assert "hal/esp32.py" in files and "app.py" in files, m
        assert [f for f in files if f.startswith(("hal/sim", "hal/chips"))] == [], m
