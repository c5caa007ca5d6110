"""Host client (host_tools.protocol) against the real firmware protocol, run in the
MicroPython unix port (tests/host/proto_board.py) over pipes and over a pty."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import termios
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_tools.protocol import (
    BoardClient,
    BoardError,
    Event,
    FdSerial,
    FrameError,
    ProtocolTimeout,
    Reply,
    crc_hex,
    encode_request,
    parse_line,
)

ROOT = Path(__file__).resolve().parents[2]
BOARD = Path(__file__).with_name("proto_board.py")


def micropython() -> tuple[list[str], dict[str, str]]:
    from host_tools import interp

    return interp.command(None, "256K", build_if_missing=True)


@pytest.fixture
def board() -> Iterator[BoardClient]:
    argv, extra = micropython()
    proc = subprocess.Popen(
        [*argv, str(BOARD), "serve"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env={**os.environ, "MICROPYPATH": str(ROOT / "firmware"), **extra},
    )
    assert proc.stdin is not None and proc.stdout is not None
    client = BoardClient.from_fds(proc.stdout.fileno(), proc.stdin.fileno())
    try:
        yield client
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        assert proc.returncode == 0, "the board process died"


# -- frame functions --------------------------------------------------------------------


def test_encode_request_format() -> None:
    line = encode_request(42, "move", {"mm": 1.5})
    assert line == b'@42:move {"mm":1.5}*' + crc_hex(b'42:move {"mm":1.5}') + b"\n"
    assert encode_request(1, "hello") == b"@1:hello*" + crc_hex(b"1:hello") + b"\n"
    for bad in [(0, "x", None), (10**9, "x", None), (1, "bad name", None), (1, "", None), (1, "x", [1])]:
        with pytest.raises(ValueError):
            encode_request(*bad)  # type: ignore[arg-type]


def test_parse_line() -> None:
    body = b'5:ok {"a": 1}'
    r = parse_line(b"=" + body + b"*" + crc_hex(body) + b"\r\n")
    assert r == Reply(5, True, {"a": 1})
    body = b"0:err READ_ONLY use a frame * please"
    r = parse_line(b"=" + body + b"*" + crc_hex(body))
    assert r == Reply(0, False, None, "READ_ONLY", "use a frame * please")
    body = b'tel {"t": 3}'
    assert parse_line(b"!" + body + b"*" + crc_hex(body)) == Event("tel", {"t": 3})
    for noise in [b">>> ", b"Traceback (most recent call last):", b"=1:ok {}*00000000", b"", b"!x {}*"]:
        assert parse_line(noise) is None
        if noise:
            with pytest.raises(FrameError):
                parse_line(noise, strict=True)


# -- against the MicroPython board -----------------------------------------------------


def test_request_response(board: BoardClient) -> None:
    info = board.hello()
    assert info["fw"] == "proto-board" and info["proto"] == 1
    assert board.status() == {"count": 0}
    assert board.request("echo", {"x": [1, "é", None], "y": {"z": True}}) == {
        "x": [1, "é", None], "y": {"z": True}}
    assert board.request("bump", {"n": 3})["count"] == 1
    assert board.status() == {"count": 1}


def test_err_answers_raise_board_error(board: BoardClient) -> None:
    with pytest.raises(BoardError) as ei:
        board.request("nosuch")
    assert ei.value.code == "UNKNOWN_CMD"
    assert "help" in str(ei.value)
    with pytest.raises(BoardError) as ei:
        board.request("fail", {"code": "BUSY", "msg": "heating"})
    assert (ei.value.code, ei.value.message) == ("BUSY", "heating")
    assert "wait" in str(ei.value)
    with pytest.raises(BoardError) as ei:
        board.request("bump", {"boom": True})
    assert ei.value.code == "INTERNAL" and "boom requested" in ei.value.message
    with pytest.raises(BoardError) as ei:
        board.request("bump", {"n": "x"})
    assert ei.value.code == "BAD_ARGS"
    assert board.status() == {"count": 0}


def test_retry_gets_cached_answer_and_acts_once(board: BoardClient) -> None:
    board.request("drop", {"n": 1})  # the board will lose its next answer
    t0 = time.monotonic()
    res = board.request("bump", timeout=0.3, retries=2)
    assert time.monotonic() - t0 >= 0.3  # the first try timed out
    assert res["count"] == 1
    assert board.status() == {"count": 1}  # acted once, though asked twice


def test_timeout_after_retries(board: BoardClient) -> None:
    board.request("drop", {"n": 3})
    with pytest.raises(ProtocolTimeout) as ei:
        board.request("bump", timeout=0.2, retries=2)
    msg = str(ei.value)
    assert "after 3 tries" in msg and "hearth reset" in msg and "hearth hello" in msg
    # every try carried the same seq: the board acted once
    assert board.status() == {"count": 1}


def test_noise_is_ignored_and_events_collected(board: BoardClient) -> None:
    seen: list[Event] = []
    board.on_event = seen.append
    assert board.request("noise") == {"noisy": True}
    assert [e.kind for e in seen] == ["tel", "evt"]
    assert board.noise_lines >= 3
    got = list(board.events(duration=0.1))
    assert got == [Event("tel", {"t": 31.5}), Event("evt", {"e": "noise"})]


def test_fresh_session_does_not_hit_old_cache(board: BoardClient) -> None:
    # two clients with the same start seq on one board: the second's request has
    # another body, so it is a new request, not a replay of the first's answer
    a = BoardClient(board.ser, seq=500)
    b = BoardClient(board.ser, seq=500)
    assert a.request("bump")["count"] == 1
    assert b.request("echo", {"k": 1}) == {"k": 1}
    assert b.request("bump", {"n": 2})["count"] == 2


def test_over_pty() -> None:
    """The same client over a pseudo-terminal, as a USB serial port looks."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    argv, extra = micropython()
    proc = subprocess.Popen(
        [*argv, str(BOARD), "serve"], stdin=slave, stdout=slave,
        env={**os.environ, "MICROPYPATH": str(ROOT / "firmware"), **extra},
    )
    os.close(slave)
    try:
        client = BoardClient(FdSerial(master, master, name="pty"))
        assert client.hello(timeout=5)["proto"] == 1
        assert client.request("bump")["count"] == 1
        # a person's line typed on the same console
        os.write(master, b"status\r")
        deadline = time.monotonic() + 5
        buf = b""
        while b"\n" not in buf and time.monotonic() < deadline:
            buf += client.ser.read(100)
        r = parse_line(buf.split(b"\n")[0])
        assert isinstance(r, Reply) and r.seq == 0 and r.data == {"count": 1}
    finally:
        proc.kill()
        proc.wait()
        os.close(master)


def test_string_port_error_says_what_to_do() -> None:
    from host_tools.protocol import ProtocolError

    with pytest.raises(ProtocolError) as ei:
        BoardClient("/dev/does-not-exist-hearth")
    assert "hearth ports" in str(ei.value)


def test_loop_url_times_out_cleanly() -> None:
    # pyserial's loop:// echoes our own frames back: they are not answers
    client = BoardClient("loop://")
    with pytest.raises(ProtocolTimeout):
        client.request("hello", timeout=0.1, retries=1)
    client.close()


def test_request_too_long_is_refused_locally(board: BoardClient) -> None:
    with pytest.raises(ValueError, match="at most 256"):
        board.request("echo", {"pad": "x" * 300})
    # the board itself answers TOO_LONG if a long line reaches it
    os.write(board.ser.write_fd, encode_request(7, "echo", {"pad": "x" * 300}))  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    buf = b""
    while b"\n" not in buf and time.monotonic() < deadline:
        buf += board.ser.read(100)
    r = parse_line(buf.split(b"\n")[0], strict=True)
    assert isinstance(r, Reply) and (r.seq, r.code) == (7, "TOO_LONG")
    assert json.dumps(board.hello())  # still alive
