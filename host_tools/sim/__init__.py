"""The virtual board: relay (pty + interpreter), world (plants), bench, state images."""

from __future__ import annotations

from typing import Any


def plants_for(board: dict[str, Any]) -> list[Any]:
    """The simulated hardware around a board, from its role."""
    from host_tools.sim import plant_adapters

    return plant_adapters.for_board(board)
