"""Glue between the world and the plant models of each role (plants.py, latch_plant.py)."""

from __future__ import annotations

from typing import Any


def for_board(board: dict[str, Any]) -> list[Any]:
    return []
