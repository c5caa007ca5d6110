"""Board farms: every verb that takes a port, over every way a farm exports a board.

Transports: the virtual board's pty (local), `rfc2217://` through Debian's ser2net,
`rfc2217://` through pyserial's own server (serial.rfc2217.PortManager), and
`socket://` through ser2net's raw TCP accepter. The servers and every `hearth` run
live in a network namespace the test makes (`unshare -n`, only `lo`), so nothing is
reachable from outside; without namespaces (no root, no user namespaces) they fall
back to the host's 127.0.0.1 and the reason is printed.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from host_tools.sim.netports import NetNS, PyserialRfc2217, Ser2net, free_port
from tests.e2e.conftest import board, flash_board

HEARTH = str(Path(sys.executable).with_name("hearth"))
TRANSPORTS = ["pty", "ser2net-rfc2217", "pyserial-rfc2217", "ser2net-socket"]


@pytest.fixture(scope="module")
def netns() -> Iterator[list[str]]:
    """argv prefix that runs a command in our network namespace ([] on the host's loopback)."""
    if not NetNS.available():
        print(f"\nfarm tests on the host's loopback: no network namespace ({NetNS.why_not})")
        yield []
        return
    ns = NetNS().start()
    try:
        yield ns.prefix
    finally:
        ns.stop()


@pytest.fixture(scope="module")
def farm_board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    vb = board("printer-s3", tmp_path_factory.mktemp("farm") / "state")
    vb.start()
    flash_board(vb)
    yield vb
    vb.stop()


@pytest.fixture(scope="module", params=TRANSPORTS)
def port(request: pytest.FixtureRequest, farm_board: Any, netns: list[str],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The board's console as one transport gives it."""
    kind = request.param
    work = tmp_path_factory.mktemp(kind)
    if kind == "pty":
        yield farm_board.console_path
        return
    if kind.startswith("ser2net") and not Ser2net.available():
        pytest.skip("ser2net is not installed (Debian: apt-get install ser2net; .ci/run does it as root)")
    server: Any = (Ser2net(farm_board.console_path, work, netns) if kind.startswith("ser2net")
                   else PyserialRfc2217(farm_board.console_path, work, netns))
    server.start()
    try:
        yield {"ser2net-rfc2217": lambda: server.rfc2217_url, "ser2net-socket": lambda: server.socket_url,
               "pyserial-rfc2217": lambda: server.url}[kind]()
    finally:
        server.stop()


def hearth(prefix: list[str], *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, HEARTH, *args], capture_output=True, text=True, timeout=timeout)


def ok_json(r: subprocess.CompletedProcess[str]) -> Any:
    assert r.returncode == 0, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    return json.loads(r.stdout)


# ---- the verb x transport matrix ----------------------------------------------------------
def test_hello_status_call(port: str, netns: list[str]) -> None:
    assert ok_json(hearth(netns, "hello", "--port", port, "--json"))["board"] == "printer-s3"
    assert "state" in ok_json(hearth(netns, "status", "--port", port, "--json"))
    assert ok_json(hearth(netns, "call", "--port", port, "--json", "hello"))["board"] == "printer-s3"


def test_config_set_applies_with_a_confirmed_reboot(port: str, netns: list[str]) -> None:
    key = "printer.m109_hold_ms"
    before = ok_json(hearth(netns, "config", "get", key, "--port", port, "--json"))
    new = 1500 if json.dumps(before).find("1500") < 0 else 1200
    r = hearth(netns, "config", "set", f"{key}={new}", "--port", port, "--json")
    ok_json(r)
    after = ok_json(hearth(netns, "config", "get", key, "--port", port, "--json"))
    assert str(new) in json.dumps(after)
    r = hearth(netns, "config", "show", "--port", port)
    assert r.returncode == 0 and "m109_hold_ms" in r.stdout, r.stderr


def test_diag_and_recovery_show(port: str, netns: list[str]) -> None:
    r = hearth(netns, "diag", "--port", port, "--json")
    assert r.returncode in (0, 1), r.stderr  # PASS or FAIL: the report came back
    assert "printer-s3" in r.stdout
    r = hearth(netns, "recovery", "show", "--port", port, "--json")
    assert r.returncode == 0, r.stderr


def test_reset_is_confirmed_and_the_app_answers(port: str, netns: list[str]) -> None:
    res = ok_json(hearth(netns, "reset", "--port", port, "--json"))
    assert res["hello"]["board"] == "printer-s3"


def test_full_flash(port: str, netns: list[str], farm_board: Any) -> None:
    from host_tools.transport.rawrepl import RawRepl

    # remove what `hearth flash` writes, so this one sends every file (a full flash)
    with RawRepl.open(farm_board.console_path) as r:
        r.enter()
        r.run("import os\nfor f in ('boot.py','main.py','board.json','manifest.json'):\n"
              " try:os.remove(f)\n except OSError:pass\n")
        r.reset()
    res = ok_json(hearth(netns, "flash", "--board", "printer-s3", "--port", port, "--json"))
    (one,) = res["boards"] if "boards" in res else [res]
    assert one["ok"] and not one["unchanged"] and one["sent_files"], one
    assert ok_json(hearth(netns, "hello", "--port", port, "--json"))["state"] != "NO_APP"


# ---- bad input: one message, exit 2, within the timeout -------------------------------------
def _one_error(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_unknown_scheme(netns: list[str]) -> None:
    _one_error(hearth(netns, "hello", "--port", "telnet://127.0.0.1:1", timeout=20), "unknown port scheme")


def test_refused_port(netns: list[str]) -> None:
    p = free_port(netns)
    for url in (f"rfc2217://127.0.0.1:{p}", f"socket://127.0.0.1:{p}"):
        _one_error(hearth(netns, "status", "--port", url, timeout=20), "connection refused")


def test_unreachable_host(netns: list[str]) -> None:
    # In our namespace 10/8 has no route: ENETUNREACH at once. On the host's network
    # 192.0.2.1 (TEST-NET-1) is routed nowhere: the connect times out (pyserial: 5 s).
    host = "10.1.2.3" if netns else "192.0.2.1"
    t0 = time.monotonic()
    r = hearth(netns, "hello", "--port", f"rfc2217://{host}:2217", timeout=30)
    assert time.monotonic() - t0 < 20
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1, r.stderr


class _Silent:
    """A TCP port that accepts and never says a word: not a board (in the namespace,
    a child process; here, a thread)."""

    def __init__(self, prefix: list[str]) -> None:
        self.prefix = prefix
        self.port = free_port(prefix)
        if prefix:
            code = ("import socket,time\ns=socket.create_server(('127.0.0.1',%d))\nc=[]\n"
                    "while 1:\n c.append(s.accept()[0])\n" % self.port)
            self.proc: subprocess.Popen[bytes] | None = subprocess.Popen([*prefix, sys.executable, "-c", code])
            from host_tools.sim.netports import wait_listening

            wait_listening(self.port, prefix, self.proc, "silent server")
        else:
            self.proc = None
            self.sock = socket.create_server(("127.0.0.1", self.port))
            self.conns: list[socket.socket] = []
            threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
        else:
            self.sock.close()


def test_a_url_to_something_that_is_not_a_board(netns: list[str]) -> None:
    silent = _Silent(netns)
    try:
        t0 = time.monotonic()
        r = hearth(netns, "hello", "--port", f"rfc2217://127.0.0.1:{silent.port}", timeout=30)
        _one_error(r, "not as an RFC 2217 server")
        r = hearth(netns, "hello", "--port", f"socket://127.0.0.1:{silent.port}", "--timeout", "1", timeout=30)
        assert r.returncode == 2, (r.stdout, r.stderr)
        assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1, r.stderr
        assert time.monotonic() - t0 < 25
    finally:
        silent.stop()


# ---- a remote virtual board: registry of its own, bench over TCP -------------------------
def _sim(prefix: list[str], tmp: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen([*prefix, HEARTH, "sim", "--board", "printer-s3", "--state", str(tmp / "st"), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    eps: dict[str, str] = {}
    while "bench" not in eps:
        line = proc.stdout.readline()
        if not line:
            proc.wait(10)
            raise AssertionError(f"hearth sim exited: {proc.stderr.read() if proc.stderr else ''}")
        k, _, v = line.strip().partition(": ")
        eps[k] = v
    return proc, eps


def test_sim_runtime_is_a_private_registry(tmp_path: Path) -> None:
    import os

    mine = tmp_path / "rt"
    proc, eps = _sim([], tmp_path, "--runtime", str(mine))
    try:
        env = {**os.environ, "HEARTH_RUNTIME": str(mine)}
        seen = subprocess.run([HEARTH, "ports", "--json"], capture_output=True, text=True, env=env, timeout=30)
        assert eps["console"] in [p["device"] for p in json.loads(seen.stdout)], seen.stdout
        # this test run's own registry (tests/conftest.py) does not see it, nor does --port auto
        other = subprocess.run([HEARTH, "ports", "--json"], capture_output=True, text=True, timeout=30)
        assert eps["console"] not in other.stdout
        assert os.environ["HEARTH_RUNTIME"] != str(mine)
    finally:
        proc.terminate()
        proc.wait(10)
    assert not list((mine / "sims").glob("*.json"))  # the record goes with the board


def test_power_fail_through_a_remote_bench(tmp_path: Path, netns: list[str]) -> None:
    """A farm machine runs the virtual board (bench on TCP, console through ser2net);
    everything else happens over the network: flash, power fail, restore, hello."""
    if not Ser2net.available():
        pytest.skip("ser2net is not installed")
    proc, eps = _sim(netns, tmp_path, "--runtime", str(tmp_path / "rt"), "--bench", "tcp:127.0.0.1:0")
    s2n = Ser2net(eps["console"], tmp_path / "s2n", netns).start()
    try:
        assert eps["bench"].startswith("tcp:127.0.0.1:")
        url = s2n.socket_url
        r = hearth(netns, "flash", "--board", "printer-s3", "--port", url, "--json")
        assert r.returncode == 0, r.stderr
        rep = ok_json(hearth(netns, "bench", eps["bench"], "power", "fail", "--json"))
        assert rep["powered"] is False and rep["programs"] >= 1  # the power-fail record made it
        r = hearth(netns, "hello", "--port", url, "--json", "--timeout", "1")
        assert r.returncode == 2  # a dead board: nothing answers
        ok_json(hearth(netns, "bench", eps["bench"], "power", "on", "--json"))
        h = None
        for _ in range(20):
            r = hearth(netns, "hello", "--port", url, "--json", "--timeout", "1")
            if r.returncode == 0:
                h = json.loads(r.stdout)
                break
        assert h is not None and h["reset_cause"] == "power_on", r.stdout + r.stderr
    finally:
        s2n.stop()
        proc.terminate()
        proc.wait(10)


def test_bench_endpoint_errors(netns: list[str]) -> None:
    p = free_port(netns)
    _one_error(hearth(netns, "bench", f"tcp:127.0.0.1:{p}", "state", timeout=20), "no virtual board bench")
    _one_error(hearth(netns, "sim", "--board", "printer-s3", "--bench", "udp:1", timeout=20), "tcp:HOST:PORT")


# ---- a farm file: discovery, tags, parallel flash, a board that drops mid-flash -----------
def _wipe(vb: Any) -> None:
    """Remove what `hearth flash` writes, so the next flash sends every file."""
    from host_tools.transport.rawrepl import RawRepl

    with RawRepl.open(vb.console_path) as r:
        r.enter()
        r.run("import os\nfor f in ('boot.py','main.py','board.json','manifest.json'):\n"
              " try:os.remove(f)\n except OSError:pass\n")
        r.reset()


@pytest.fixture
def farm(tmp_path: Path, netns: list[str]) -> Iterator[tuple[Path, list[Any]]]:
    """Two remote printer boards (ser2net RFC 2217, pyserial RFC 2217) and one latch
    entry whose exporter is down, in a farm file."""
    if not Ser2net.available():
        pytest.skip("ser2net is not installed")
    boards, servers = [], []
    try:
        for i in range(2):
            vb = board("printer-s3", tmp_path / f"st{i}")
            vb.start()
            boards.append(vb)
            flash_board(vb)
        servers.append(Ser2net(boards[0].console_path, tmp_path / "s0", netns).start())
        servers.append(PyserialRfc2217(boards[1].console_path, tmp_path / "s1", netns).start())
        f = tmp_path / "farm.toml"
        f.write_text(
            f'[[board]]\nname = "bay-a"\nurl = "{servers[0].rfc2217_url}"\nboard = "printer-s3"\n'
            'tags = { line = "1" }\n\n'
            f'[[board]]\nname = "bay-b"\nurl = "{servers[1].url}"\nboard = "printer-s3"\n'
            'tags = { line = "1" }\n\n'
            f'[[board]]\nname = "bay-c"\nurl = "socket://127.0.0.1:{free_port(netns)}"\nboard = "latch-esp32"\n')
        yield f, boards
    finally:
        for s in servers:
            s.stop()
        for vb in boards:
            vb.stop()


def test_ports_lists_farm_boards_by_name_and_tag(farm: tuple[Path, list[Any]], netns: list[str]) -> None:
    f, _ = farm
    listed = ok_json(hearth(netns, "ports", "--farm", str(f), "--json"))
    by_name = {p["name"]: p for p in listed if p["kind"] == "remote"}
    assert set(by_name) == {"bay-a", "bay-b", "bay-c"}
    assert by_name["bay-a"]["board"] == "printer-s3" and by_name["bay-a"]["tags"] == {"line": "1"}
    only = ok_json(hearth(netns, "ports", "--farm", str(f), "--tag", "board=latch-esp32", "--json"))
    assert [p["name"] for p in only] == ["bay-c"]
    r = hearth(netns, "ports", "--farm", str(f), "--tag", "line=1")
    assert "bay-a (rfc2217://127.0.0.1:" in r.stdout and "bay-c" not in r.stdout, r.stdout
    # a farm board by name, for any verb (HEARTH_FARM)
    import os

    r = subprocess.run([*netns, HEARTH, "hello", "--port", "bay-b", "--json"], capture_output=True, text=True,
                       env={**os.environ, "HEARTH_FARM": str(f)}, timeout=60)
    assert json.loads(r.stdout)["board"] == "printer-s3", r.stderr


def test_bad_farm_files(tmp_path: Path, netns: list[str]) -> None:
    cases = {
        "not toml [": "not valid TOML",
        '[[board]]\nname = "x"\n': "needs name",
        '[[board]]\nname = "x"\nurl = "telnet://h:1"\n': "unknown port scheme",
        '[[board]]\nname = "x"\nurl = "socket://h:1"\n[[board]]\nname = "x"\nurl = "socket://h:2"\n': "used twice",
    }
    for text, words in cases.items():
        f = tmp_path / "farm.toml"
        f.write_text(text)
        _one_error(hearth(netns, "ports", "--farm", str(f), timeout=20), words)
    _one_error(hearth(netns, "ports", "--farm", str(tmp_path / "none.toml"), timeout=20), "farm file")
    _one_error(hearth(netns, "ports", "--tag", "nokey", timeout=20), "KEY=VALUE")


def test_flash_all_by_tag_in_parallel_and_a_board_that_drops(farm: tuple[Path, list[Any]], netns: list[str]) -> None:
    from host_tools.sim.bench import BenchClient

    f, boards = farm
    for vb in boards:
        _wipe(vb)
    # bay-b loses power at its first flash program: in the middle of its flash
    BenchClient(boards[1].bench_path).call(op="power", arg="cut-at", program=1, tear=1)
    r = hearth(netns, "flash", "--all", "--farm", str(f), "--tag", "line=1", "--timeout", "3", "--json")
    assert r.returncode == 1, (r.stdout, r.stderr)  # one board failed (bay-c, untagged, never tried)
    res = {b["label"].split()[0]: b for b in json.loads(r.stdout)["boards"]}
    assert set(res) == {"bay-a", "bay-b"}
    assert res["bay-a"]["ok"] and res["bay-a"]["sent_files"]
    assert not res["bay-b"]["ok"]
    r = hearth(netns, "flash", "--all", "--farm", str(f), "--tag", "line=1", "--timeout", "3")
    assert "bay-b (rfc2217://" in r.stderr and "error:" in r.stderr, r.stderr  # reported by name
    # power back: the next flash repairs it
    BenchClient(boards[1].bench_path).call(op="power", arg="on")
    r = hearth(netns, "flash", "--port", "bay-b", "--farm", str(f), "--json")
    (one,) = ok_json(r)["boards"]
    assert one["ok"], one
