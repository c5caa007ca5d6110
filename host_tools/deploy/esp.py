"""esptool: the MicroPython base image and production filesystem images.

Only argument lists are built here and handed to esptool in a subprocess; nothing is
pretended. Before a base image is written its header is checked: an ESP image starts
with 0xE9, and its extended header carries the chip id at bytes 12-13 (little-endian),
so a firmware built for another chip is refused before anything is erased.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from host_tools.boards import load_board

# esptool's chip ids (ESP_CHIP_ID in the image's extended header).
CHIP_IDS = {"esp32": 0, "esp32s2": 2, "esp32c3": 5, "esp32s3": 9, "esp32c2": 12, "esp32c6": 13, "esp32h2": 16}
CHIP_NAMES = {v: k for k, v in CHIP_IDS.items()}
# Where the second-stage bootloader (the start of MicroPython's firmware.bin) lives.
BOOTLOADER_OFFSET = {"esp32": 0x1000, "esp32s2": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0, "esp32c6": 0x0,
                     "esp32c2": 0x0, "esp32h2": 0x0}
IMAGE_MAGIC = 0xE9
TABLE_OFFSET = 0x8000  # the partition table, on every ESP32 chip


class EspError(Exception):
    """A base or filesystem image cannot go to this board; the message says why."""


def image_chip(data: bytes) -> str:
    """The chip an ESP image is built for, from its header."""
    if len(data) < 24:
        raise EspError(f"not an ESP image: {len(data)} bytes, shorter than its 24-byte header")
    if data[0] != IMAGE_MAGIC:
        raise EspError(f"not an ESP image: first byte 0x{data[0]:02x}, expected 0xE9 (is this a .bin from micropython.org?)")
    chip_id = int.from_bytes(data[12:14], "little")
    if chip_id not in CHIP_NAMES:
        raise EspError(f"unknown chip id {chip_id} in the image header")
    return CHIP_NAMES[chip_id]


def check_base_image(path: Path, chip: str) -> int:
    """Refuse an image for another chip; return the offset to write it at."""
    if chip not in BOOTLOADER_OFFSET:
        raise EspError(f"no base-image offset known for chip {chip!r}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EspError(f"cannot read {path}: {e}") from e
    got = image_chip(data)
    if got != chip:
        raise EspError(
            f"{path.name} is a MicroPython image for {got}, but this board is an {chip}: "
            f"download the {chip.upper()} firmware (refusing before anything is erased)"
        )
    return BOOTLOADER_OFFSET[chip]


def esptool_cmd() -> list[str]:
    return [sys.executable, "-m", "esptool"]


def base_commands(port: str, chip: str, image: Path, table: Path | None = None,
                  baud: int = 460800) -> list[list[str]]:
    """Erase the whole flash, write the base image at the chip's bootloader offset, then
    the board's partition table at 0x8000 (a MicroPython image carries its stock table,
    which has no journal; it overlaps, so it is a second write)."""
    off = check_base_image(image, chip)
    common = [*esptool_cmd(), "--chip", chip, "--port", port, "--baud", str(baud)]
    cmds = [
        [*common, "erase-flash"],
        [*common, "write-flash", "-z", f"0x{off:x}", str(image)],
    ]
    if table is not None:
        cmds.append([*common, "write-flash", f"0x{TABLE_OFFSET:x}", str(table)])
    return cmds


def flash_size_command(port: str, chip: str) -> list[str]:
    return [*esptool_cmd(), "--chip", chip, "--port", port, "flash-id"]


def detected_flash_mb(esptool_output: str) -> int | None:
    """The flash size esptool read from the chip ("Detected flash size: 8MB")."""
    import re

    m = re.search(r"Detected flash size:\s*(\d+)\s*MB", esptool_output)
    return int(m.group(1)) if m else None


def chip_flash_mb(port: str, chip: str) -> int:
    """Ask the chip (esptool flash-id) how much flash it has."""
    cmd = flash_size_command(port, chip)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EspError(f"esptool did not run: {e}") from e
    mb = detected_flash_mb(p.stdout + p.stderr)
    if p.returncode != 0 or mb is None:
        raise EspError("esptool could not read the flash size (flash-id): hold BOOT while pressing EN "
                       "to enter the download mode, and check the port")
    return mb


def image_commands(port: str, chip: str, image: Path, offset: int, baud: int = 460800) -> list[list[str]]:
    """Write a filesystem image over the vfs partition, in one pass (a production line)."""
    return [[*esptool_cmd(), "--chip", chip, "--port", port, "--baud", str(baud),
             "write-flash", "-z", f"0x{offset:x}", str(image)]]


def run(commands: list[list[str]], timeout: float = 600) -> None:
    for cmd in commands:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise EspError(f"esptool did not run: {e}") from e
        if p.returncode != 0:
            tail = (p.stderr or p.stdout).strip().splitlines()[-5:]
            raise EspError(
                f"esptool failed ({' '.join(cmd[3:])}):\n" + "\n".join(tail)
                + "\nHold BOOT while pressing EN to enter the download mode, and check the port."
            )


def plan(kind: str, board_name: str, ports: list[str], base: Path | None = None, target: str = "board",
         size: int | None = None, dry_run: bool = False,
         check_port: Callable[[str], None] | None = None) -> tuple[list[list[str]], list[str]]:
    """(esptool commands, notes) for `hearth flash --base FILE` (kind "base": erase, the
    MicroPython image, then the board's partition table) or `--image` (kind "image": the
    app filesystem over the vfs partition) on each port. Writes the table binary or the
    image the commands name. A chip whose flash size is not the board file's is refused
    (the vfs partition would sit elsewhere); a dry run assumes the board file's size.
    Raises BoardError, EspError, ImageError, BuildError or PartitionError; check_port(port)
    may refuse a port first."""
    from host_tools.deploy import partitions
    from host_tools.deploy.build import BUILD, build
    from host_tools.deploy.image import ImageError, make_image, vfs_partition

    b = load_board(board_name)
    chip = str(b["chip"])
    cmds: list[list[str]] = []
    notes: list[str] = []
    table = partitions.load(b)  # a table that overlaps or does not fit stops here
    partitions.layout(table, partitions.flash_size(b))
    board_mb = partitions.flash_size(b) // partitions.MB
    for port in ports:
        if check_port is not None:
            check_port(port)
        if kind == "base":
            assert base is not None
            tbin = BUILD / f"{board_name}-partitions.bin"
            tbin.parent.mkdir(parents=True, exist_ok=True)
            tbin.write_bytes(partitions.binary(table))
            cmds += base_commands(port, chip, base, tbin)
            continue
        if dry_run:
            mb = board_mb
            notes.append(f"{port}: flash size not read (dry run): the board file's {mb} MiB assumed")
        else:
            mb = chip_flash_mb(port, chip)
            if mb != board_mb:
                raise EspError(
                    f"{port}: the chip has {mb} MiB of flash, the board file says {board_mb} MiB: the "
                    "vfs partition would sit elsewhere and the image would not mount (stock _boot.py "
                    "would loop in fs_corrupted()); fix \"flash\" in the board file")
        off, part = vfs_partition(b, "board", mb * partitions.MB)
        if size is not None and size != part:
            raise ImageError(f"--size {size} is not the vfs partition's {part} bytes (from "
                             f"{partitions.table_path(b)} on {mb} MiB): it would not mount")
        out, _ = build(board_name, target if target not in ("auto", "sim") else "board")
        img, _man, _n = make_image(out, part)
        path = out.parent / f"{board_name}.img"
        path.write_bytes(img)
        cmds += image_commands(port, chip, path, off)
    return cmds, notes
