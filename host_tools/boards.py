"""The board files (boards/NAME.json): the list, loading one, and what follows from one
alone (its flash layout, how its firmware goes on by default).

Real-hardware flashing, the virtual board and `hearth diag` all find a board here, so
none of them imports another's package to read a board file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from host_tools.deploy.partitions import Part

ROOT = Path(__file__).resolve().parents[1]
BOARDS = ROOT / "boards"


class BoardError(Exception):
    """An unknown board, or a board file that cannot be read or cannot boot."""


def board_names() -> list[str]:
    return sorted(p.stem for p in BOARDS.glob("*.json"))


def load_board(name: str) -> dict[str, Any]:
    path = BOARDS / f"{name}.json"
    if not path.is_file():
        raise BoardError(f"unknown board {name!r}; known boards: {', '.join(board_names())}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise BoardError(f"board file {path} is not valid JSON: {e}") from e


def board_format(name: str | None) -> str:
    """How a board's firmware goes on it by default: its board file's "firmware" (files,
    romfs or frozen); files when the board is not known."""
    if not name:
        return "files"
    try:
        return str(load_board(name).get("firmware", "files"))
    except BoardError:
        return "files"


def flash_layout(board: dict[str, Any], flash_mb: int | None = None) -> tuple[int, dict[str, Part]]:
    """(flash size in bytes, partitions) of a board, as its chip would see them."""
    from host_tools.deploy import partitions  # partitions finds its tables through BOARDS

    size = flash_mb * partitions.MB if flash_mb else partitions.flash_size(board)
    try:
        return size, partitions.board_layout(board, size)
    except partitions.PartitionError as e:
        raise BoardError(f"board {board['name']!r} cannot boot: {e}") from e
