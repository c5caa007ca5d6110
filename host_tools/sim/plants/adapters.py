"""Glue between the world and the plant models of each role (heater.py, latch.py,
printer.py in this package).

``for_board(board)`` returns the plants a virtual board's World steps: objects with
``advance(world, dt_s)``, ``read_input(world, pin)``, ``read_adc(world, pin)``,
``snapshot(world)``, ``set_param(name, value)`` and a ``faults`` list of the fault names
the bench accepts. One builder per role; add a role by adding a ``_<role>_plants``
function and a line in ``_BUILDERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _printer_plants(board: dict[str, Any]) -> list[Any]:
    from host_tools.sim.plants.printer import PrinterPlant

    pins = {k: int(v) for k, v in board.get("pins", {}).items() if isinstance(v, int)}
    return [PrinterPlant(pins, board.get("thermistor"), preset=board.get("plant", {}).get("preset", "nozzle20"),
                         chip=board.get("chip"))]


def _latch_plants(board: dict[str, Any]) -> list[Any]:
    from host_tools.sim.plants.latch_world import latch_plants

    return latch_plants(board)


_BUILDERS: dict[str, Callable[[dict[str, Any]], list[Any]]] = {
    "printer": _printer_plants,
    "latch": _latch_plants,
}


def for_board(board: dict[str, Any]) -> list[Any]:
    build = _BUILDERS.get(str(board.get("role")))
    return build(board) if build is not None else []
