"""MicroPython board definitions for the production firmware (boards/micropython/).

One folder per board file, HEARTH_<NAME> (e.g. boards/micropython/HEARTH_LATCH_ESP32
for boards/latch-esp32.json), in the form MicroPython's esp32 port builds
(``make BOARD_DIR=...``, ports/esp32/README.md):

* ``mpconfigboard.cmake``: the chip (IDF_TARGET), the sdkconfig fragments (the generic
  boards' base and BLE ones, as the port's C config assumes them; no PSRAM: the GC heap
  stays in internal RAM, where a collection is fast), the frozen manifest, and the
  partition table;
* ``mpconfigboard.h``: the board's name, ROMFS on (``MICROPY_VFS_ROM``);
* ``sdkconfig.board``: the module's flash size (and flash mode on the S3);
* ``partitions.csv``: a copy of the board's own table (boards/NAME.csv): factory app,
  nvs, phy, journal, romfs, vfs;
* ``manifest.py``: freezes the esp32 port's start-up modules and the ``hearth`` package
  without its simulated HAL (flashfw.firmware_modules(), the same list the virtual
  board's frozen interpreter uses, plus the sim HAL there).

The folders are generated from the board files (`hearth firmware board`) and kept in
git so a newcomer finds them by name; a test checks they match what the board files
say, so they cannot drift. `hearth firmware build` builds one (host_tools/deploy/idfbuild.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from host_tools.boards import BOARDS, ROOT, load_board
from host_tools.deploy import partitions
from host_tools.deploy.build import FIRMWARE
from host_tools.deploy.flashfw import firmware_modules

DEFS = BOARDS / "micropython"
IDF_TARGETS = {"esp32": "esp32", "esp32s3": "esp32s3"}
MCU_NAMES = {"esp32": "ESP32", "esp32s3": "ESP32S3"}
FILES = ("mpconfigboard.cmake", "mpconfigboard.h", "sdkconfig.board", "partitions.csv", "manifest.py")


class BoardDefError(Exception):
    """A board file that cannot become a MicroPython board definition."""


def def_name(board: str) -> str:
    return "HEARTH_" + board.upper().replace("-", "_")


def def_dir(board: str, root: Path | None = None) -> Path:
    return (root or DEFS) / def_name(board)


def _rel_firmware(dest: Path) -> str:
    # The manifest finds the firmware relative to $(BOARD_DIR), so the folder works
    # wherever the repository is checked out (or mounted in a container).
    import os

    return os.path.relpath(FIRMWARE, dest)


def generate(board: str, dest: Path | None = None) -> dict[str, str]:
    """The board definition's files, {name: text}, for boards/micropython/HEARTH_<BOARD>
    (or `dest`)."""
    b: dict[str, Any] = load_board(board)
    chip = str(b["chip"])
    if chip not in IDF_TARGETS:
        raise BoardDefError(f"board {board!r}: chip {chip!r} has no definition template "
                            f"(known: {', '.join(IDF_TARGETS)})")
    table = partitions.table_path(b)
    if table is None or not table.is_file():
        raise BoardDefError(f"board {board!r} names no partition table file: add "
                            '"flash": {"partitions": "NAME.csv"} to its board file')
    size = partitions.flash_size(b)
    try:
        parts = partitions.board_layout(b, size)
    except partitions.PartitionError as e:
        raise BoardDefError(str(e)) from e
    for need in ("factory", "romfs", "vfs"):
        if need not in parts:
            raise BoardDefError(f"board {board!r}: its partition table ({table.name}) has no {need!r} partition")
    mb = size // partitions.MB
    dest = dest or def_dir(board)
    head = f"Generated from boards/{board}.json by `hearth firmware board --board {board}`: edit the board file."
    mods = [m[len("hearth/"):] for m in firmware_modules(chip=True)]
    manifest = "\n".join([
        f"# {head}",
        "# ruff: noqa: F821 - freeze() and package() come from MicroPython's manifest tool",
        "# Frozen into the firmware: the esp32 port's start-up modules (_boot.py, inisetup.py, ...)",
        "# and the hearth package without its simulated HAL (hal/sim*.py).",
        'freeze("$(PORT_DIR)/modules")',
        "package(",
        '    "hearth",',
        "    files=[",
        *[f'        "{m}",' for m in mods],
        "    ],",
        f'    base_path="$(BOARD_DIR)/{_rel_firmware(dest)}",',
        ")",
        "",
    ])
    cmake = "\n".join([
        f"# {head}",
        f"set(IDF_TARGET {IDF_TARGETS[chip]})",
        "",
        "# ESP-IDF reads a relative partition table name against ports/esp32: name this",
        "# folder's copy by its absolute path, in a fragment written at configure time.",
        'file(WRITE ${CMAKE_BINARY_DIR}/sdkconfig.hearth_partitions',
        '    "CONFIG_PARTITION_TABLE_CUSTOM=y\\nCONFIG_PARTITION_TABLE_CUSTOM_FILENAME=\\"${MICROPY_BOARD_DIR}/partitions.csv\\"\\n")',
        "",
        "set(SDKCONFIG_DEFAULTS",
        "    boards/sdkconfig.base",
        "    boards/sdkconfig.ble",
        "    ${MICROPY_BOARD_DIR}/sdkconfig.board",
        "    ${CMAKE_BINARY_DIR}/sdkconfig.hearth_partitions",
        ")",
        "",
        "set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)",
        "",
    ])
    header = [
        f"// {head}",
        f'#define MICROPY_HW_BOARD_NAME "hearth {board}"',
        f'#define MICROPY_HW_MCU_NAME "{MCU_NAMES[chip]}"',
        "",
        "// ROMFS: the romfs partition of partitions.csv, mounted at /rom and on sys.path",
        "// (`hearth flash --format romfs`); bytecode there runs in place, not in the heap.",
        "#define MICROPY_VFS_ROM (1)",
    ]
    if chip == "esp32s3":
        header += ["", "// The REPL on UART0 as well as native USB, as the generic S3 board.",
                   "#define MICROPY_HW_ENABLE_UART_REPL (1)"]
    console = b.get("console") or {}
    if console.get("link") == "usbcdc" and "cdc_timeout_ms" in console:
        header += ["", "// A host that keeps the USB port open but does not read makes each console write",
                   "// wait this long before TinyUSB drops it (500 ms in stock MicroPython): short, so the",
                   "// control loop never stalls on the host (docs/boards.md).",
                   f"#define MICROPY_HW_USB_CDC_TX_TIMEOUT ({int(console['cdc_timeout_ms'])})"]
    sdk = [f"# {head}", f"# {b.get('description', board)}".rstrip(), "", f"# {mb} MiB flash"]
    for other in (4, 8, 16):
        if other != mb:
            sdk.append(f"CONFIG_ESPTOOLPY_FLASHSIZE_{other}MB=")
    sdk.append(f"CONFIG_ESPTOOLPY_FLASHSIZE_{mb}MB=y")
    if chip == "esp32s3":
        sdk += ["", "# Quad I/O at 80 MHz, as the ESP32-S3-WROOM modules run", "CONFIG_ESPTOOLPY_FLASHMODE_QIO=y",
                "CONFIG_ESPTOOLPY_FLASHFREQ_80M=y"]
    return {
        "mpconfigboard.cmake": cmake,
        "mpconfigboard.h": "\n".join(header) + "\n",
        "sdkconfig.board": "\n".join(sdk) + "\n",
        "partitions.csv": table.read_text(),
        "manifest.py": manifest,
    }


def write(board: str, dest: Path | None = None) -> Path:
    dest = dest or def_dir(board)
    dest.mkdir(parents=True, exist_ok=True)
    for name, text in generate(board, dest).items():
        (dest / name).write_text(text)
    return dest


def stale(board: str, dest: Path | None = None) -> list[str]:
    """The files of a board definition that differ from what its board file says."""
    dest = dest or def_dir(board)
    out = []
    for name, text in generate(board, dest).items():
        f = dest / name
        if not f.is_file() or f.read_text() != text:
            out.append(name)
    return out


def relative(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)
