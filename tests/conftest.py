"""Test plumbing shared by all suites.

Firmware tests (tests/firmware/test_*.py) are MicroPython code: pytest collects their
test_* functions by name and runs each file once inside the ESP32-faithful unix port
(host_tools/interp: 32-bit, single float) with the heap a stock chip gives, then
reports each function as its own item, with the MicroPython traceback when it fails.
HEARTH_TEST_HEAP=NNK sets the heap (default HARNESS_HEAP: the role under test plus the
harness around it: plants, rigs, test code); HEARTH_TEST_CHIP=esp32|esp32s3 with
HEARTH_TEST_HEAP=stock gives exactly a stock chip's split heap; HEARTH_INTERP=unix64
runs the 64-bit wheel instead.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
FW_TESTS = ROOT / "tests" / "firmware"
CHIP = os.environ.get("HEARTH_TEST_CHIP", "esp32s3")
# The firmware's own fit in a stock chip is measured on virtual boards (bench/heap.py);
# unit tests also hold their harness. Interim figure until the roles fit (issue 11).
HARNESS_HEAP = "256K"


def micropython_cmd() -> tuple[list[str], dict[str, str]]:
    """argv prefix (interpreter and heap) and environment for the firmware tests."""
    from host_tools import interp

    heap = os.environ.get("HEARTH_TEST_HEAP", HARNESS_HEAP)
    return interp.command(CHIP, None if heap == "stock" else heap, build_if_missing=True)


def pytest_configure(config: pytest.Config) -> None:
    """Each test run gets a private virtual-board registry (HEARTH_RUNTIME, inherited by
    every `hearth` the tests start): boards of another run on this machine, or a
    developer's `hearth sim`, are never found by `--port auto`, `--all` or `hearth ports`."""
    import atexit
    import shutil
    import tempfile

    d = tempfile.mkdtemp(prefix="hearth-run-")
    os.environ["HEARTH_RUNTIME"] = d
    atexit.register(shutil.rmtree, d, True)


_results: dict[Path, dict[str, tuple[bool, str]]] = {}
_compiled: list[str] = []


def firmware_path() -> str:
    """Where the firmware tests import hearth from: the firmware compiled to .mpy with
    mpy-cross, as a board runs it (once per session). Compiling every module from
    source inside a 256 KiB heap measures the compiler, not the firmware, and leaves
    the heap fragmented by chance. HEARTH_TEST_SOURCE=1 imports the sources instead."""
    if os.environ.get("HEARTH_TEST_SOURCE"):
        return str(FIRMWARE)
    if not _compiled:
        import atexit
        import shutil
        import tempfile

        from host_tools.deploy.build import build

        tmp = tempfile.mkdtemp(prefix="hearth-fwtest-")
        atexit.register(shutil.rmtree, tmp, True)
        out = Path(tmp) / "fw"
        build("printer-s3", "sim", out=out)
        _compiled.append(str(out))
    return _compiled[0]


def _run_fw_file(path: Path) -> dict[str, tuple[bool, str]]:
    if path in _results:
        return _results[path]
    argv, extra = micropython_cmd()
    env = {**os.environ, **extra}
    from host_tools.sim import MICROPY_PATH

    env["MICROPYPATH"] = f"{FW_TESTS}:{firmware_path()}:{MICROPY_PATH}:.frozen"
    env["HEARTH_TEST_FLASH_DIR"] = os.path.dirname(firmware_path())
    proc = subprocess.run(
        [*argv, str(FW_TESTS / "runner.py"), path.stem],
        capture_output=True, text=True, env=env, cwd=str(FW_TESTS), timeout=600,
    )
    out: dict[str, tuple[bool, str]] = {}
    current = None
    buf: list[str] = []
    for line in proc.stdout.splitlines():
        m = re.match(r"^(PASS|FAIL) \S+?\.(test_\w+)$", line)
        if m:
            if current:
                out[current] = (out[current][0], "\n".join(buf))
            current = m.group(2)
            out[current] = (m.group(1) == "PASS", "")
            buf = []
        elif line.startswith("END "):
            if current:
                out[current] = (out[current][0], "\n".join(buf))
            current = None
        else:
            buf.append(line)
    if current:
        out[current] = (out[current][0], "\n".join(buf))
    out["__crash__"] = (proc.returncode == 0 and "END " in proc.stdout, proc.stdout[-4000:] + proc.stderr[-4000:])
    _results[path] = out
    return out


class FirmwareItem(pytest.Item):
    def runtest(self) -> None:
        res = _run_fw_file(self.path)
        if self.name not in res:
            crashed = res["__crash__"]
            raise FirmwareTestError(f"{self.name} never reported; the interpreter died:\n{crashed[1]}")
        ok, text = res[self.name]
        if not ok:
            raise FirmwareTestError(f"{self.path.name}::{self.name} failed in MicroPython:\n{text}")

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        if isinstance(excinfo.value, FirmwareTestError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"[micropython] {self.name}"


class FirmwareTestError(Exception):
    pass


class FirmwareFile(pytest.File):
    def collect(self):
        names = sorted(set(re.findall(r"^def (test_\w+)\(", self.path.read_text(), re.M)))
        for n in names:
            yield FirmwareItem.from_parent(self, name=n)


def pytest_pycollect_makemodule(module_path, parent):
    p = Path(module_path)
    if p.parent == FW_TESTS:
        return FirmwareFile.from_parent(parent, path=p)
    return None
