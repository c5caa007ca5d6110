"""Board files in one place (host_tools/boards.py): flashing a real board finds its board
without the simulator, and a bad board name says which boards there are."""

from __future__ import annotations

import subprocess
import sys

import pytest

from host_tools.boards import BoardError, board_format, board_names, load_board


def test_flashing_real_hardware_does_not_import_the_simulator() -> None:
    code = ("import sys, host_tools.cli, host_tools.deploy.flashfw, host_tools.deploy.image, "
            "host_tools.deploy.boarddef, host_tools.deploy.idfbuild, host_tools.ports; "
            "print(sorted(m for m in sys.modules if m.startswith('host_tools.sim')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_board_names_the_known_ones() -> None:
    with pytest.raises(BoardError) as e:
        load_board("no-such-board")
    assert all(n in str(e.value) for n in board_names())
    assert board_format("no-such-board") == "files" and board_format(None) == "files"
    assert board_format("latch-esp32") == load_board("latch-esp32").get("firmware", "files")
