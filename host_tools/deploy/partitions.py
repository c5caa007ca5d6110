"""A board's flash layout: its partition table (a CSV next to the board file) and flash size.

The table is parsed, checked and turned into the binary that the bootloader reads at
0x8000 with esp-idf-defs (an extract of ESP-IDF's own gen_esp32part.py). What MicroPython
adds on top (ports/esp32/main.c, v1.26+): when the table has no "vfs"/"ffat" partition, a
"vfs" partition is registered from the end of the last partition to the end of the real
flash. So an image sized for one flash size does not mount on another: `layout()`
applies that rule for a given flash size, and the virtual board and `hearth image` use
it.

Board file:  "flash": {"size_mb": 4, "partitions": "latch-esp32.csv"}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esp_idf_defs.partitions import PARTITION_TABLE_OFFSET, InputError, PartitionTable

from host_tools.boards import BOARDS

TABLE_OFFSET = PARTITION_TABLE_OFFSET  # 0x8000 on every ESP32 chip
MB = 1024 * 1024


class PartitionError(Exception):
    """A partition table that is malformed, overlaps, or does not fit the flash."""


@dataclass(frozen=True)
class Part:
    name: str
    type: int
    subtype: int
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


def flash_size(board: dict[str, Any]) -> int:
    fl = board.get("flash") or {}
    return int(fl.get("size_mb", 4)) * MB


def table_path(board: dict[str, Any]) -> Path | None:
    name = (board.get("flash") or {}).get("partitions")
    return BOARDS / name if name else None


def parse(csv_text: str, where: str = "partition table") -> PartitionTable:
    try:
        table = PartitionTable.from_csv(csv_text)
        table.verify(partition_table_offset=TABLE_OFFSET)
    except (InputError, ValueError) as e:
        raise PartitionError(f"{where}: {e}") from e
    return table


def load(board: dict[str, Any]) -> PartitionTable:
    path = table_path(board)
    if path is None:
        raise PartitionError(f"board {board.get('name')!r} names no partition table "
                             '(add "flash": {"partitions": "NAME.csv"} to its board file)')
    if not path.is_file():
        raise PartitionError(f"board {board.get('name')!r}: partition table {path} is missing")
    return parse(path.read_text(), str(path))


def layout(table: PartitionTable, flash_bytes: int) -> dict[str, Part]:
    """Every partition by name, with MicroPython's automatic "vfs" when the table has none.
    Refuses a table that does not fit `flash_bytes`."""
    try:
        table.verify_size_fits(flash_bytes)
    except InputError as e:
        raise PartitionError(str(e)) from e
    parts = {p.name: Part(p.name, p.type, p.subtype, p.offset, p.size) for p in table}
    if "vfs" not in parts and "ffat" not in parts:
        end = max((p.end for p in parts.values()), default=0)
        if 0 < end < flash_bytes:
            parts["vfs"] = Part("vfs", 1, 0x81, end, flash_bytes - end)
    return parts


def board_layout(board: dict[str, Any], flash_bytes: int | None = None) -> dict[str, Part]:
    return layout(load(board), flash_bytes or flash_size(board))


def binary(table: PartitionTable) -> bytes:
    """The 0xC00-byte table the bootloader reads at 0x8000 (entries, MD5, 0xFF padding)."""
    try:
        return table.to_binary()
    except InputError as e:
        raise PartitionError(str(e)) from e


def from_binary(data: bytes) -> PartitionTable:
    try:
        return PartitionTable.from_binary(data)
    except InputError as e:
        raise PartitionError(f"not a valid partition table: {e}") from e
