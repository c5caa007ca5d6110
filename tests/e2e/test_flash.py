"""`hearth flash` / `hearth test` against virtual boards (unthrottled, to keep CI quick)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from host_tools.boards import load_board
from host_tools.deploy import fwtest
from host_tools.deploy.build import FIRMWARE, build
from host_tools.deploy.image import install_sim_image, make_image, vfs_partition
from host_tools.deploy.multi import Job, exit_code, flash_many
from host_tools.deploy.sync import flash_build
from host_tools.transport.rawrepl import RawRepl
from tests.e2e.conftest import bench, board

HEARTH = str(Path(sys.executable).with_name("hearth"))


@pytest.fixture(scope="module")
def latch_build(tmp_path_factory: pytest.TempPathFactory):
    return build("latch-esp32", "sim", tmp_path_factory.mktemp("b") / "latch")


def _refused_boot(port: str, timeout: float = 15.0) -> None:
    """Wait for main.py's "app not started" line: a Ctrl-C sooner would interrupt the boot
    check itself (as on a chip), and the board would rightly say it was never checked."""
    import serial

    with serial.Serial(port, 115200, timeout=0.2) as s:
        seen = b""
        deadline = time.monotonic() + timeout
        while b"app not started" not in seen:
            assert time.monotonic() < deadline, f"no boot verdict within {timeout} s: {seen[-300:]!r}"
            seen += s.read(256)


def _board_state(port: str) -> tuple[str | None, bool, list[str]]:
    """(safe_boot.problem, was the app started, files) as the board sees them after boot."""
    with RawRepl.open(port) as r:
        r.enter()
        out = r.run(
            "import sys,os\n"
            "sb=sys.modules.get('hearth.safe_boot') or sys.modules.get('hearth')\n"
            "print(repr(getattr(sb,'boot_problem',getattr(sb,'problem','no safe_boot'))))\n"
            "print('hearth.app' in sys.modules)\n"
            "print(' '.join(os.listdir('/')))\n"
        ).decode().splitlines()
    return eval(out[0]), out[1].strip() == "True", out[2].split()  # noqa: S307 - our own repr


def test_full_unchanged_and_one_file_change(make_board, latch_build, tmp_path: Path) -> None:
    out, man = latch_build
    vb = make_board("latch-esp32", "files")
    r1 = flash_build(out, vb.console_path)
    assert r1.ok, r1.message
    assert len(r1.sent_files) == len(man.files) + 1  # + config.json
    assert r1.hello["board"] == "latch-esp32"
    if "build" in r1.hello:
        assert r1.hello["build"] == man.build
    problem, app_started, files = _board_state(vb.console_path)
    assert problem is None and app_started
    assert "manifest.json" in files

    r2 = flash_build(out, vb.console_path)
    assert r2.ok and r2.unchanged and r2.sent_files == [] and r2.payload_bytes == 0

    # one module changes, one stale file sits on the board: only that file moves, the stale one goes
    src = tmp_path / "fw"
    shutil.copytree(FIRMWARE, src, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "hearth" / "control" / "pid.py").write_text((src / "hearth" / "control" / "pid.py").read_text() + "\nCHANGED = 1\n")
    out3, man3 = build("latch-esp32", "sim", tmp_path / "b3", src=src)
    with RawRepl.open(vb.console_path) as r:
        r.enter()
        r.run("f=open('/hearth/stale.py','w');f.write('x=1');f.close()")
    r3 = flash_build(out3, vb.console_path)
    assert r3.ok, r3.message
    assert r3.sent_files == ["hearth/control/pid.mpy"] and r3.removed == ["hearth/stale.py"]
    if "build" in r3.hello:
        assert r3.hello["build"] == man3.build


def test_interrupted_flash_boots_safe_then_completes(make_board, latch_build) -> None:
    out, man = latch_build
    vb = make_board("latch-esp32", "files")
    cut_at = random.Random().uniform(0.02, 0.98)  # a random point of the transfer
    cut = threading.Event()

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "send" and done >= cut_at * total and not cut.is_set():
            cut.set()
            vb.power_off()

    res = flash_build(out, vb.console_path, progress=progress, timeout=2.0)
    assert cut.is_set(), res.message  # the flash failed before the cut: say why
    assert not res.ok and res.code == 2  # a lost connection (issue 12: as documented)
    assert "mid-transfer" in res.message or "hearth flash" in res.message, res.message

    vb.power_on()
    # hello and diag say so (issue 12), not just "no answer"
    from click.testing import CliRunner

    from host_tools.cli import main

    r = CliRunner().invoke(main, ["hello", "--port", vb.console_path, "--timeout", "0.5"])
    assert r.exit_code == 1 and "incomplete firmware" in r.stderr and "hearth flash" in r.stderr, r.output
    r = CliRunner().invoke(main, ["diag", "--port", vb.console_path, "--timeout", "0.5", "--json"])
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["result"] == "FAIL" and "incomplete firmware" in rep["reasons"][0], r.output
    problem, app_running, files = _board_state(vb.console_path)
    assert problem and not app_running, (problem, files)
    assert "manifest.json" not in files
    st = bench(vb).call(op="state")["state"]
    assert st["outputs"].get("servo", 0) == 0 and st["outputs"].get("solenoid", 0) == 0

    res2 = flash_build(out, vb.console_path)
    assert res2.ok, res2.message
    assert 0 < len(res2.sent_files) <= len(man.files) + 1
    problem, _, _ = _board_state(vb.console_path)
    assert problem is None


def test_board_reset_mid_transfer_is_a_clear_failure(make_board, latch_build) -> None:
    out, _ = latch_build
    vb = make_board("latch-esp32", "files")
    done = threading.Event()

    def progress(phase: str, d: int, total: int) -> None:
        if phase == "send" and d > total // 3 and not done.is_set():
            done.set()
            threading.Thread(target=lambda: (vb.power_off(), vb.power_on()), daemon=True).start()

    res = flash_build(out, vb.console_path, progress=progress, timeout=2.0)
    assert done.is_set() and not res.ok and res.code == 2
    assert "run `hearth flash` again" in res.message, res.message
    problem, app_running, _ = _board_state(vb.console_path)
    assert problem and not app_running


def test_many_boards_in_parallel_one_failure_does_not_stop_the_others(make_board, latch_build, tmp_path) -> None:
    out, _ = latch_build
    boards = [make_board("latch-esp32", "files") for _ in range(3)]
    jobs = [Job(vb.console_path, out) for vb in boards] + [Job(str(tmp_path / "no-such-port"), out)]
    seen: dict[int, set[str]] = {}

    def progress(i: int, phase: str, done: int, total: int) -> None:
        seen.setdefault(i, set()).add(phase)

    results = flash_many(jobs, progress)
    assert [r.ok for r in results] == [True, True, True, False]
    assert "no such port" in results[3].message
    assert exit_code(results) == 1
    assert all("send" in seen[i] and "done" in seen[i] for i in range(3))


def test_cli_flash_json_autodetects_the_virtual_board(make_board) -> None:
    # the board file's way: frozen, on a virtual board with the firmware frozen in
    vb = make_board("printer-s3")
    p = subprocess.run([HEARTH, "flash", "--board", "printer-s3", "--port", vb.console_path, "--json"],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr + p.stdout
    d = json.loads(p.stdout)
    assert d["ok"] and d["boards"][0]["board"] == "printer-s3" and d["boards"][0]["hello"]["board"] == "printer-s3"
    p = subprocess.run([HEARTH, "flash", "--board", "latch-esp32", "--port", "/dev/nonexistent-port"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "no such port" in p.stderr
    err = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and err[0].count("/dev/nonexistent-port") == 1, p.stderr  # no repeated prefix


def test_virtual_board_boots_from_an_image(tmp_path, latch_build) -> None:
    from host_tools.protocol import BoardClient
    from host_tools.transport.serialport import open_port

    out, man = latch_build
    img, _, _ = make_image(out, vfs_partition(load_board("latch-esp32"))[1])
    f = tmp_path / "latch.img"
    f.write_bytes(img)
    state = tmp_path / "st"
    vb = board("latch-esp32", state, "files")
    install_sim_image(f, state, vb.board)
    vb.start()
    try:
        c = BoardClient(open_port(vb.console_path))
        try:
            h = c.request("hello", None, timeout=0.5, retries=20)
        finally:
            c.close()
        assert h["board"] == "latch-esp32"
        if "build" in h:
            assert h["build"] == man.build
        assert not [p for p in h.get("problems", []) if "manifest" in p]
    finally:
        vb.stop()


def test_firmware_tests_run_on_the_board_with_a_per_test_timeout(make_board, latch_build, tmp_path, monkeypatch) -> None:
    out, _ = latch_build
    vb = make_board("latch-esp32", "files")
    assert flash_build(out, vb.console_path).ok
    tests = tmp_path / "fwtests"
    tests.mkdir()
    shutil.copy(fwtest.FW_TESTS / "runner.py", tests / "runner.py")
    (tests / "test_a.py").write_text(
        "from hearth.hal import sim\n"
        "def test_local_world():\n    assert type(sim.world).__name__ == 'LocalWorld'\n"
        "def test_fails():\n    assert 1 == 2\n"
    )
    # A test that outlives the timeout. (It ends by itself: the virtual board's interpreter
    # pty has ISIG off while the raw REPL runs code, so Ctrl-C cannot stop a busy loop there
    # as it does on an ESP32.)
    (tests / "test_hang.py").write_text("import time\ndef test_quick():\n    pass\ndef test_slow():\n    time.sleep(4)\n")
    monkeypatch.setattr(fwtest, "FW_TESTS", tests)
    res = fwtest.run_tests(vb.console_path, fwtest.select_modules(), timeout=1.5)
    a, h = res
    assert a.passed == ["test_local_world"] and list(a.failed) == ["test_fails"] and a.timeout is None
    assert h.passed == ["test_quick"] and h.timeout and "test_quick" in h.timeout
    # the real suite's smallest module, through the CLI
    monkeypatch.undo()
    p = subprocess.run([HEARTH, "test", "--port", vb.console_path, "test_hal_sim", "--json"],
                       capture_output=True, text=True, timeout=120)
    d = json.loads(p.stdout)
    assert p.returncode == 0 and d["failed"] == 0 and d["passed"] > 0, p.stdout + p.stderr


def test_flash_refuses_a_board_file_for_another_board(make_board, latch_build, tmp_path) -> None:
    # issue 12, defect 3: the latch's board file went onto a printer (ESP32-S3), which
    # then drove the printer's clog-switch pin and stepper DIR and crashed on boot
    out, _ = latch_build
    vb = make_board("printer-s3")
    port = vb.console_path
    r = flash_build(out, port)  # a blank board: its chip says no
    assert not r.ok and r.code == 1 and "esp32s3" in r.message and "--force" in r.message, r.message
    _, _, files = _board_state(port)
    assert "board.json" not in files and "main.py" not in files  # nothing was written
    pb, _ = build("printer-s3", "sim", tmp_path / "printer")
    assert flash_build(pb, port).ok
    p = subprocess.run([HEARTH, "flash", "--board", "latch-esp32", "--port", port, "--json"],
                       capture_output=True, text=True, timeout=120)
    d = json.loads(p.stdout)
    assert p.returncode == 1 and "refused" in d["boards"][0]["message"], p.stdout + p.stderr
    assert "printer-s3" in d["boards"][0]["message"]  # says which board file is its own
    from host_tools.protocol import BoardClient

    c = BoardClient(port)
    try:
        h = c.request("hello", timeout=0.5, retries=20)
    finally:
        c.close()
    assert h["board"] == "printer-s3" and h["state"] == "SAFE"
    # --force writes it; the firmware then drives none of this chip's pins with it
    p = subprocess.run([HEARTH, "flash", "--board", "latch-esp32", "--port", port, "--force", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0, p.stdout
    vb.power_off()
    vb.power_on()
    _refused_boot(port)
    problem, app_running, files = _board_state(port)
    assert "board.json" in files and not app_running and problem is not None
    assert "esp32s3" in problem and "latch-esp32" in problem, problem
    st = bench(vb).call(op="state")["state"]
    assert st["outputs"] == {} and st["pwm"] == {}, st


# ---- flashing that survives the world (issue 11) --------------------------------------------
def _changed_build(tmp: Path, mark: str) -> Path:
    src = tmp / f"fw-{mark}"
    shutil.copytree(FIRMWARE, src, ignore=shutil.ignore_patterns("__pycache__"))
    pid = src / "hearth" / "control" / "pid.py"
    pid.write_text(pid.read_text() + f"\nCHANGED = {mark!r}\n")
    out, _ = build("latch-esp32", "sim", tmp / f"b-{mark}", src=src)
    return out


def test_flash_works_whatever_directory_a_session_left_the_board_in(make_board, latch_build,
                                                                     tmp_path: Path) -> None:
    from tests.e2e.conftest import mpremote

    out, _ = latch_build
    vb = make_board("latch-esp32", "files")
    assert flash_build(out, vb.console_path).ok
    r = mpremote(vb.console_path, "exec", "import os; os.chdir('/hearth'); print(os.getcwd())")
    assert r.returncode == 0 and "/hearth" in r.stdout, r.stdout + r.stderr
    res = flash_build(_changed_build(tmp_path, "cwd"), vb.console_path)
    assert res.ok, res.message
    assert res.sent_files == ["hearth/control/pid.mpy"]  # the inventory saw every file where it is
    problem, app_started, _ = _board_state(vb.console_path)
    assert problem is None and app_started


class _LosesTheLastWriteOnClose:
    """A network serial port (ser2net, RFC 2217) as pyserial's URL handlers see it:
    flush() does nothing, and what was written just before close() never leaves."""

    def __init__(self, ser) -> None:
        self._ser = ser
        self._held = b""
        self.port = ser.port

    def write(self, data: bytes) -> int:
        self._send()
        self._held = bytes(data)  # goes out only when the connection is used again
        return len(data)

    def _send(self) -> None:
        if self._held:
            self._ser.write(self._held)
            self._held = b""

    def flush(self) -> None:
        pass

    @property
    def in_waiting(self) -> int:
        self._send()
        return self._ser.in_waiting

    def read(self, n: int = 1) -> bytes:
        self._send()
        return self._ser.read(n)

    def close(self) -> None:
        self._held = b""  # lost
        self._ser.close()


def test_a_reset_over_a_link_that_loses_the_last_bytes_is_confirmed(make_board, latch_build, tmp_path: Path,
                                                                    monkeypatch) -> None:
    import host_tools.transport.rawrepl as rawrepl
    from host_tools.transport.serialport import open_port

    out, _ = latch_build
    vb = make_board("latch-esp32", "files")
    monkeypatch.setattr(rawrepl, "open_port", lambda *a, **k: _LosesTheLastWriteOnClose(open_port(*a, **k)))
    res = flash_build(out, vb.console_path)
    # the flash read the board's soft-reboot banner before it closed the port: the reset
    # went out, the app runs and answered hello
    assert res.ok, res.message
    assert res.hello["board"] == "latch-esp32"


def test_the_flash_agent_runs_in_the_heap_the_app_leaves_free(make_board, latch_build, tmp_path: Path) -> None:
    # Near the smallest heap the latch's .mpy app runs its workload in (bench/heap.py,
    # ~128 KiB): the agent is compiled after a soft reset, not beside the running app,
    # and collects before it allocates its inflate window.
    out, _ = latch_build
    vb = make_board("latch-esp32", "files", heap="136K")
    first = flash_build(out, vb.console_path)
    assert first.ok, first.message
    res = flash_build(_changed_build(tmp_path, "heap"), vb.console_path)
    assert res.ok, res.message
    assert res.sent_files == ["hearth/control/pid.mpy"] and res.hello["board"] == "latch-esp32"
