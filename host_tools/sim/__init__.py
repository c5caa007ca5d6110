"""The virtual board: relay (pty + interpreter), world (plants), bench, state images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: What MicroPython code outside the firmware (firmware tests, benches, `hearth test` on a
#: board) puts on its path to import the plant models as `plants` (host_tools/sim/plants):
#: the one place that says where they are.
MICROPY_PATH = str(Path(__file__).resolve().parent)
#: The plant modules that also run in MicroPython, relative to MICROPY_PATH.
MICROPY_PLANTS = ("plants/__init__.py", "plants/heater.py", "plants/latch.py", "plants/printer.py")


def plants_for(board: dict[str, Any]) -> list[Any]:
    """The simulated hardware around a board, from its role."""
    from host_tools.sim.plants import adapters

    return adapters.for_board(board)
