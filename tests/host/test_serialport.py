"""The one port opener: what it adds to URLs, what it refuses, how ports print."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import serial

from host_tools.ports import PortError, load_farm, parse_tags
from host_tools.transport.serialport import display, normalize, open_port


def test_rfc2217_gets_ign_set_control_and_a_negotiation_timeout() -> None:
    assert normalize("rfc2217://h:4001") == "rfc2217://h:4001?ign_set_control&timeout=3"
    # what the user gave is kept, and nothing is added twice
    assert normalize("rfc2217://h:1?timeout=9&ign_set_control") == "rfc2217://h:1?timeout=9&ign_set_control"
    assert normalize("rfc2217://h:1?logging=debug") == "rfc2217://h:1?logging=debug&ign_set_control&timeout=3"
    for p in ("socket://h:2", "/dev/ttyUSB0", "/dev/serial/by-id/usb-x-if00-port0", "loop://"):
        assert normalize(p) == p


def test_ports_print_as_given() -> None:
    assert display(normalize("rfc2217://10.0.0.5:4001")) == "rfc2217://10.0.0.5:4001"
    assert display("socket://h:2") == "socket://h:2"


@pytest.mark.parametrize("bad", ["telnet://h:1", "http://h/", "ssh://h"])
def test_unknown_scheme_is_refused_with_what_works(bad: str) -> None:
    with pytest.raises(PortError, match="unknown port scheme.*rfc2217://HOST:PORT"):
        open_port(bad)


def test_a_missing_device_and_no_port() -> None:
    with pytest.raises(PortError, match="no such port"):
        open_port("/dev/ttyNOPE9")
    with pytest.raises(PortError, match="no port given"):
        open_port("")


def test_rfc2217_never_gets_write_timeout() -> None:
    """pyserial's rfc2217 handler raises NotImplementedError on write_timeout (checked
    against pyserial's own server on a pty); the opener leaves it out there and keeps it
    for socket://."""
    import os
    import threading

    from host_tools.sim.netports import free_port, serve_rfc2217

    master, slave = os.openpty()
    port = free_port()
    threading.Thread(target=serve_rfc2217, args=(os.ttyname(slave), port), daemon=True).start()
    url = f"rfc2217://127.0.0.1:{port}"
    for _ in range(100):
        with socket.socket() as c:
            if c.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    with pytest.raises(NotImplementedError):
        serial.serial_for_url(url, write_timeout=5)
    s = open_port(url, write_timeout=5)
    s.write(b"hi")
    assert os.read(master, 2) == b"hi"
    s.close()
    srv = socket.create_server(("127.0.0.1", 0))
    try:
        s = open_port(f"socket://127.0.0.1:{srv.getsockname()[1]}", write_timeout=5)
        assert s.write_timeout == 5
        s.close()
    finally:
        srv.close()


def test_refused_is_said_quickly() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(PortError, match="connection refused: nothing listens on 127.0.0.1"):
        open_port(f"rfc2217://127.0.0.1:{port}")
    assert time.monotonic() - t0 < 5


def test_farm_file(tmp_path: Path) -> None:
    f = tmp_path / "farm.toml"
    f.write_text('[[board]]\nname = "a"\nurl = "rfc2217://h:1"\nboard = "printer-s3"\ntags = { line = "1" }\n'
                 '[[board]]\nname = "b"\nurl = "socket://h:2"\ntags = ["line=2"]\n')
    a, b = load_farm(f)
    assert (a.name, a.device, a.board, a.tags, a.kind) == ("a", "rfc2217://h:1", "printer-s3", {"line": "1"}, "remote")
    assert a.label == "a (rfc2217://h:1)" and a.likely_board
    assert a.matches({"board": "printer-s3", "line": "1"}) and not a.matches({"line": "2"})
    assert b.matches({"line": "2"}) and not b.matches({"board": "printer-s3"})
    assert parse_tags(["board=x", "line = 1"]) == {"board": "x", "line": "1"}
    with pytest.raises(PortError, match="KEY=VALUE"):
        parse_tags(["board"])
    f.write_text('[[board]]\nname = "a"\nurl = "/dev/ttyUSB0"\n')
    with pytest.raises(PortError, match="is not a URL"):
        load_farm(f)
