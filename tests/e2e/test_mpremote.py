"""The real mpremote works against a virtual board, as against an ESP32 on a cable."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.e2e.conftest import mpremote


def test_exec_fs_sha256_softreset_mount(make_board, tmp_path: Path) -> None:
    vb = make_board("latch-esp32")
    port = vb.console_path

    r = mpremote(port, "exec", "print(6*7)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "42"

    # A fresh board's first boot made its filesystem and a stock boot.py, as MicroPython's
    # inisetup does on a freshly flashed ESP32.
    r = mpremote(port, "fs", "ls", ":")
    assert r.returncode == 0 and [ln.split()[-1] for ln in r.stdout.strip().splitlines()[1:]] == ["boot.py"], \
        r.stdout

    payload = bytes(range(256)).replace(b"\x03", b"") * 40
    src = tmp_path / "blob.bin"
    src.write_bytes(payload)
    r = mpremote(port, "fs", "cp", str(src), ":blob.bin")
    assert r.returncode == 0, r.stderr
    r = mpremote(port, "sha256sum", ":blob.bin")
    assert hashlib.sha256(payload).hexdigest() in r.stdout

    d = tmp_path / "pkg"
    (d / "sub").mkdir(parents=True)
    (d / "a.py").write_text("X = 1\n")
    (d / "sub" / "b.py").write_text("Y = 2\n")
    r = mpremote(port, "fs", "cp", "-r", str(d), ":")
    assert r.returncode == 0, r.stderr
    r = mpremote(port, "fs", "mkdir", ":newdir")
    assert r.returncode == 0, r.stderr
    r = mpremote(port, "exec", "import os; print(sorted(os.listdir('/'))); print(sorted(os.listdir('/pkg/sub')))")
    assert "['blob.bin', 'boot.py', 'newdir', 'pkg']" in r.stdout and "['b.py']" in r.stdout, r.stdout
    r = mpremote(port, "fs", "rm", ":blob.bin")
    assert r.returncode == 0, r.stderr

    # A soft reset keeps the filesystem and comes back to a working REPL.
    r = mpremote(port, "soft-reset")
    assert r.returncode == 0, r.stderr
    r = mpremote(port, "exec", "import os; print('pkg' in os.listdir('/'), 'blob.bin' in os.listdir('/'))")
    assert r.stdout.strip() == "True False", r.stdout

    # mount: the board runs a host file through mpremote's remote filesystem.
    (tmp_path / "hostmod.py").write_text("print('from the host', 2 + 3)\n")
    r = mpremote(port, "mount", str(tmp_path), "exec", "import hostmod", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "from the host 5" in r.stdout


def test_filesystem_survives_power_cycle(make_board) -> None:
    vb = make_board("printer-s3")
    port = vb.console_path
    r = mpremote(port, "exec", "f=open('keep.txt','w'); f.write('kept'); f.close()")
    assert r.returncode == 0, r.stderr
    vb.power_off()
    vb.power_on()
    r = mpremote(port, "exec", "print(open('keep.txt').read())")
    assert r.stdout.strip() == "kept", r.stdout + r.stderr


def test_ctrl_c_breaks_into_running_main(make_board) -> None:
    vb = make_board("latch-esp32")
    port = vb.console_path
    main = "import time\nprint('app up')\nwhile True:\n    time.sleep_ms(5)\n"
    r = mpremote(port, "exec", f"f=open('main.py','w'); f.write({main!r}); f.close()")
    assert r.returncode == 0
    vb.power_off()
    vb.power_on()  # main.py now loops forever, as the app does
    r = mpremote(port, "exec", "print('broke in')", timeout=20)
    assert r.returncode == 0 and "broke in" in r.stdout, r.stdout + r.stderr


def test_a_vfs_that_does_not_mount_never_reaches_boot_py(make_board) -> None:
    # As stock MicroPython on an ESP32 (modules/inisetup.py): a vfs partition that is not
    # blank and does not mount (an image for another size, say) loops in fs_corrupted()
    # before boot.py could make any output safe.
    import time

    from host_tools.sim import state as simstate
    from host_tools.transport.serialport import open_port

    vb = make_board("latch-esp32", "plain")
    _size, parts = simstate.flash_layout(vb.board)
    vb.power_off()
    simstate.write_region(vb.state, parts["vfs"], b"not a filesystem" * 256)
    ser = open_port(vb.console_path)
    try:
        vb.power_on()
        got = b""
        end = time.monotonic() + 10
        while b"appears to be corrupted" not in got and time.monotonic() < end:
            got += ser.read(4096)
        assert b"The filesystem appears to be corrupted" in got, got
        ser.write(b"\x03")  # Ctrl-C leaves the loop, as on a chip
        end = time.monotonic() + 5
        while b">>> " not in got and time.monotonic() < end:
            got += ser.read(4096)
        assert b">>> " in got
    finally:
        ser.close()


def test_after_mpremote_hello_says_the_app_is_stopped_and_reset_restarts_it(make_board) -> None:
    # issue 12: after `mpremote exec` the app stays stopped; hello pointed at `hearth
    # monitor`, which failed the same way. hello now says why; `hearth reset` restarts it.
    from click.testing import CliRunner

    from host_tools.cli import main
    from tests.e2e.conftest import flash_board

    vb = make_board("printer-s3")
    flash_board(vb)
    port = vb.console_path
    r = mpremote(port, "exec", "print('hi')")
    assert r.returncode == 0 and "hi" in r.stdout
    r = CliRunner().invoke(main, ["hello", "--port", port, "--timeout", "0.5"])
    assert r.exit_code == 1, r.output
    assert "stopped" in r.stderr and "hearth reset" in r.stderr, r.stderr
    r = CliRunner().invoke(main, ["reset", "--port", port])
    assert r.exit_code == 0 and "printer-s3 state SAFE" in r.stdout, r.output
    r = CliRunner().invoke(main, ["hello", "--port", port])
    assert r.exit_code == 0 and "printer-s3: printer role on an esp32s3" in r.stdout, r.output
    # a hard reset comes back the same way
    r = CliRunner().invoke(main, ["reset", "--port", port, "--hard", "--json"])
    assert r.exit_code == 0, r.output
