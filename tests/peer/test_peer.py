"""MicroPython's own test tools against a virtual board (peer.py says how each is run).

One test per suite, each asserting the exact set of what passes: everything, apart from
what tests/peer/expected.toml lists with its reason. `make test` runs the quick subset
(about a minute and a half); `make peer` (HEARTH_PEER=full) runs every mpremote script and
adds float/ to run-tests.py's subset. Figures of the last run: build/peer/last-run.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from host_tools import interp
from host_tools.sim.relay import VirtualBoard
from tests.peer import peer

# The ESP32 board (a UART bridge: baud rate, latency timer, drops) for mpremote and
# pyboard.py, whose traffic is round trips; the S3 (USB-CDC) for run-tests.py's ~560
# tests, one soft reset each.
MPREMOTE_BOARD = "latch-esp32"
RUN_TESTS_BOARD = "printer-s3"
PYBOARD_BOARD = "latch-esp32"
# mpremote scripts left to `make peer`: test_filesystem.sh alone starts mpremote 103 times.
QUICK_SKIPS = {"test_filesystem.sh"}
STOCK_BOOT_PY = b"# This file is executed on every boot (including wake-boot from deepsleep)\n"


@pytest.fixture(scope="module")
def tree() -> Path:
    return peer.mpy_tree()


@pytest.fixture
def plain_board(tmp_path: Path):
    """A freshly flashed board with the plain MicroPython (no hearth firmware), at the
    stock chip's heap: what MicroPython's own suites expect to talk to."""
    boards: list[VirtualBoard] = []

    def make(name: str) -> VirtualBoard:
        vb = VirtualBoard(name, tmp_path / f"state-{name}-{len(boards)}")
        vb.start()
        boards.append(vb)
        return vb

    yield make
    for vb in boards:
        vb.stop()


def _record(suite: str, figures: dict[str, Any]) -> None:
    path = Path(os.environ.get("HEARTH_BUILD_DIR", peer.ROOT / "build")) / "peer" / "last-run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data[suite] = {"full": peer.full(), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{suite}: {figures}")


def _replace_last(text: str, old_line: str, new_line: str) -> str:
    lines = text.splitlines(True)
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].rstrip("\n") == old_line:
            lines[i] = new_line + "\n"
            break
    return "".join(lines)


@pytest.mark.timeout(1200)
def test_mpremote_suite(tree: Path, plain_board) -> None:
    vb = plain_board(MPREMOTE_BOARD)
    port = vb.console_path
    mpremote = [sys.executable, str(tree / "tools" / "mpremote" / "mpremote.py"), "connect", port]

    # The faithful interpreter as mpremote sees it: 32-bit small ints, single floats
    # printed in 1.28's shortest round-trip form (0.33333334, not 0.3333333).
    r = subprocess.run([*mpremote, "exec", "import sys; print(sys.maxsize, 1/3)"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "2147483647 0.33333334", r.stdout + r.stderr

    listed = peer.expected().get("mpremote", {})
    scripts = peer.mpremote_scripts(tree)
    assert len(scripts) >= 8, f"mpremote's tests not found in {tree}"
    chosen = [s for s in scripts if peer.full() or s.name not in QUICK_SKIPS]
    start = time.monotonic()
    results = {s.name: peer.run_mpremote_script(tree, s, port) for s in chosen}

    problems = []
    for name, res in results.items():
        if name in listed:
            entry = listed[name]
            exp = (tree / "tools" / "mpremote" / "tests" / (name + ".exp")).read_text()
            want = _replace_last(exp, entry["instead_of"], entry["got"])
            if res.status == "OK":
                problems.append(f"{name} passes now: remove it from tests/peer/expected.toml")
            elif res.output != want:
                problems.append(f"{name} (listed: needs {entry['needs']}) failed otherwise than listed:\n"
                                + peer._diff(want, res.output))
        elif res.status != "OK":
            problems.append(f"{name}: {res.status}\n{res.diff}")
    passing = {n for n, r in results.items() if r.status == "OK"}
    _record("mpremote", {"scripts": len(results), "passed": len(passing), "failed": len(results) - len(passing),
                         "listed": sorted(set(listed) & set(results)), "left_to_make_peer":
                         sorted(s.name for s in scripts if s not in chosen),
                         "seconds": round(time.monotonic() - start, 1),
                         "per_script": {n: [r.status, round(r.seconds, 1)] for n, r in results.items()}})
    assert passing == set(results) - set(listed), "\n\n".join(problems)


@pytest.mark.timeout(1200)
def test_run_tests_on_the_board_match_a_direct_run(tree: Path, plain_board, tmp_path: Path) -> None:
    vb = plain_board(RUN_TESTS_BOARD)
    tests = peer.run_tests_subset(tree)
    assert any(t.startswith("basics/") for t in tests) and any("vfs_lfs" in t for t in tests), tests
    # The same interpreter and heap as the board's, without the pty.
    direct = peer.run_tests(tree, None, tests, tmp_path / "unix", heap=interp.heap_for(vb.board["chip"]), jobs=2)
    board = peer.run_tests(tree, vb.console_path, tests, tmp_path / "board")

    listed = peer.expected().get("run-tests", {})
    differ_listed = {t: (e["board"], e["unix"]) for t, e in listed.get("differ", {}).items() if t in tests}
    fail_listed = {t for t in listed.get("fail", {}) if t in tests}
    assert set(board.results) == set(direct.results) == set(tests), (
        "run-tests.py did not report every test: board missed "
        f"{sorted(set(tests) - set(board.results))[:10]}, direct missed {sorted(set(tests) - set(direct.results))[:10]}")
    differ = {t: (board.results[t], direct.results[t]) for t in tests if board.results[t] != direct.results[t]}
    failed_direct = {t for t, r in direct.results.items() if r == "fail"}

    _record("run-tests", {"tests": len(tests), "board": {"seconds": round(board.seconds, 1),
                                                         "passed": board.count("pass"), "failed": board.count("fail"),
                                                         "skipped": board.count("skip")},
                          "direct": {"seconds": round(direct.seconds, 1), "passed": direct.count("pass"),
                                     "failed": direct.count("fail"), "skipped": direct.count("skip")},
                          "differ": {t: list(v) for t, v in differ.items()}})
    detail = "\n".join(f"{t}: board {b}, direct {u}\n{board.failures.get(t) or direct.failures.get(t, '')}"
                       for t, (b, u) in differ.items() if differ_listed.get(t) != (b, u))
    assert differ == differ_listed, f"board and direct runs differ beyond tests/peer/expected.toml:\n{detail}"
    detail = "\n".join(f"{t}:\n{direct.failures.get(t, '')}" for t in failed_direct - fail_listed)
    assert failed_direct == fail_listed, f"failing on both runs, not listed (or listed and passing):\n{detail}"


def test_pyboard_copies_files_both_ways(tree: Path, plain_board, tmp_path: Path) -> None:
    vb = plain_board(PYBOARD_BOARD)
    port = vb.console_path

    def pyboard(*args: str) -> subprocess.CompletedProcess[str]:
        r = peer.pyboard(tree, port, *args, cwd=tmp_path)
        assert r.returncode == 0, f"pyboard.py {' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
        return r

    start = time.monotonic()
    # board -> host: pyboard.py checks each chunk ends with "\r\n\x04" (print's CR LF).
    pyboard("-f", "cp", ":boot.py", "x")
    assert (tmp_path / "x").read_bytes() == STOCK_BOOT_PY

    # host -> board, and back: every byte value, CR LF and bare LF untouched both ways.
    blob = bytes(range(256)) * 6 + b"a\r\nb\nc\r"
    (tmp_path / "blob.bin").write_bytes(blob)
    pyboard("-f", "cp", "blob.bin", ":blob.bin")
    pyboard("-f", "cp", ":blob.bin", "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == blob

    # boot.py, edited on the host, goes back.
    (tmp_path / "x").write_bytes(STOCK_BOOT_PY + b"print('edited boot.py ran')\n")
    pyboard("-f", "cp", "x", ":boot.py")
    pyboard("-f", "cp", ":boot.py", "y")
    assert (tmp_path / "y").read_bytes() == (tmp_path / "x").read_bytes()
    r = pyboard("-c", "import os; print(sorted(os.listdir('/')))")
    assert r.stdout.strip() == "['blob.bin', 'boot.py']", r.stdout
    _record("pyboard", {"copies": 5, "bytes": len(blob), "seconds": round(time.monotonic() - start, 1)})
