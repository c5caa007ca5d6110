"""A virtual board's state folder: identity, filesystem image, journal partition image.

A fresh board has an empty (formatted) LittleFS v2 filesystem, like an ESP32 just
flashed with MicroPython, and an erased journal partition.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from littlefs import LittleFS

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "boards"
FS_IMAGE = "fs.img"
JOURNAL_IMAGE = "journal.img"
IDENTITY = "identity.json"
FS_BLOCK = 4096
FS_BLOCKS = 512  # 2 MiB, the vfs partition of a 4 MiB ESP32 module
JOURNAL_SIZE = 64 * 1024


class SimError(Exception):
    """A problem with the virtual board's set-up, worded for the person at the terminal."""


def board_names() -> list[str]:
    return sorted(p.stem for p in BOARDS.glob("*.json"))


def load_board(name: str) -> dict[str, Any]:
    path = BOARDS / f"{name}.json"
    if not path.is_file():
        raise SimError(f"unknown board {name!r}; known boards: {', '.join(board_names())}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise SimError(f"board file {path} is not valid JSON: {e}") from e


def new_fs_image() -> bytes:
    fs = LittleFS(block_size=FS_BLOCK, block_count=FS_BLOCKS, name_max=255)
    return bytes(fs.context.buffer)


def prepare(state: Path, board: dict[str, Any]) -> Path:
    """Create the state folder for `board`, or check that an existing one belongs to it."""
    state.mkdir(parents=True, exist_ok=True)
    ident = state / IDENTITY
    if ident.exists():
        try:
            who = json.loads(ident.read_text())
        except json.JSONDecodeError as e:
            raise SimError(f"{ident} is corrupt ({e}); remove the state folder to start fresh") from e
        if who.get("board") != board["name"]:
            raise SimError(
                f"state folder {state} belongs to board {who.get('board')!r}, not {board['name']!r}: "
                "use another --state folder or remove this one"
            )
    else:
        ident.write_text(json.dumps({"board": board["name"], "chip": board["chip"]}, indent=1) + "\n")
    fs = state / FS_IMAGE
    if not fs.exists() or fs.stat().st_size != FS_BLOCK * FS_BLOCKS:
        fs.write_bytes(new_fs_image())
    j = state / JOURNAL_IMAGE
    if not j.exists() or j.stat().st_size != JOURNAL_SIZE:
        j.write_bytes(b"\xff" * JOURNAL_SIZE)
    return state
