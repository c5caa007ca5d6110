# MAVLink 2 codec: framing, CRC, truncation, parser robustness (MicroPython).
from hearth.control import mavlink as mv


def _frames(*msgs, sysid=1, compid=158):
    e = mv.Encoder(sysid, compid)
    return [e.encode(m) for m in msgs]


def _parse_all(data, chunk=None, parser=None):
    p = parser or mv.Parser()
    out = []
    if chunk is None:
        p.feed(data)
        m = p.get()
        while m is not None:
            out.append(m)
            m = p.get()
        return out, p
    for i in range(0, len(data), chunk):
        p.feed(data[i:i + chunk])
        m = p.get()
        while m is not None:
            out.append(m)
            m = p.get()
    return out, p


def test_crc_check_value():
    # CRC-16/MCRF4XX check value for "123456789"
    assert mv.crc16(b"123456789") == 0x6F91


def test_heartbeat_frame_layout():
    f = _frames(mv.Heartbeat(48, 8, 0, 0, 3, 3))[0]
    assert f[0] == 0xFD
    assert f[1] == 9  # no trailing zero (mavlink_version 3 is last)
    assert f[2] == 0 and f[3] == 0
    assert f[4] == 0 and f[5] == 1 and f[6] == 158
    assert f[7] == 0 and f[8] == 0 and f[9] == 0
    # custom_mode (uint32) first on the wire, then type, autopilot...
    assert bytes(f[10:19]) == b"\x00\x00\x00\x00\x30\x08\x00\x03\x03"
    assert len(f) == 10 + 9 + 2


def test_trailing_zero_truncation_keeps_one_byte():
    f = _frames(mv.CommandAck(0, 0, 0, 0, 0, 0))[0]
    assert f[1] == 1
    ms, _ = _parse_all(f)
    assert len(ms) == 1 and ms[0].command == 0 and ms[0].result == 0
    f = _frames(mv.CommandAck(211, 5))[0]
    assert f[1] == 3  # command(2) + result(1); extension fields all zero


def test_roundtrip_all_messages():
    msgs = (mv.Heartbeat(2, 3, 81, 123456, 4, 3),
            mv.CommandLong(1, 158, 211, 2, 1.0, 0.0, 0.5, -2.0, 100.25, 0.0, 7.0),
            mv.CommandAck(400, 2, 50, -7, 1, 1),
            mv.StatusText(4, "latch: release denied: armed", 3, 1))
    data = b"".join(_frames(*msgs))
    ms, p = _parse_all(data)
    assert len(ms) == 4
    hb, cl, ack, st = ms
    assert (hb.type, hb.autopilot, hb.base_mode, hb.custom_mode, hb.system_status) == (2, 3, 81, 123456, 4)
    assert (cl.target_system, cl.target_component, cl.command, cl.confirmation) == (1, 158, 211, 2)
    assert (cl.param1, cl.param2, cl.param3, cl.param4, cl.param5, cl.param7) == (1.0, 0.0, 0.5, -2.0, 100.25, 7.0)
    assert (ack.command, ack.result, ack.progress, ack.result_param2, ack.target_system) == (400, 2, 50, -7, 1)
    assert st.severity == 4 and st.text == "latch: release denied: armed" and st.id == 3 and st.chunk_seq == 1
    assert [m.seq for m in ms] == [0, 1, 2, 3]
    assert all(m.sysid == 1 and m.compid == 158 for m in ms)
    assert p.crc_errors == 0 and p.frames == 4


def test_statustext_50_chars_and_truncation():
    text = "x" * 60
    ms, _ = _parse_all(_frames(mv.StatusText(6, text))[0])
    assert ms[0].text == "x" * 50


def test_sequence_wraps():
    e = mv.Encoder(1, 158)
    e.seq = 255
    a = e.encode(mv.Heartbeat())
    b = e.encode(mv.Heartbeat())
    assert a[4] == 255 and b[4] == 0


def test_byte_by_byte_and_chunks():
    data = b"".join(_frames(mv.Heartbeat(), mv.CommandLong(1, 158, 211), mv.StatusText(6, "hi")))
    for chunk in (1, 2, 3, 7, 64):
        ms, _ = _parse_all(data, chunk)
        assert [m.msgid for m in ms] == [0, 76, 253], chunk


def test_garbage_between_frames():
    f = _frames(mv.Heartbeat(), mv.CommandLong(1, 158, 211, 0, 1.0, 0.0))
    garbage = bytes([0xFD, 0xFD, 0x01, 0xFE, 0x00, 0xFD, 0x20, 0, 0, 0, 1, 1, 76, 0, 0, 0x55]) * 3
    data = garbage + f[0] + garbage + f[1] + garbage
    ms, p = _parse_all(data)
    assert [m.msgid for m in ms] == [0, 76]


def test_bad_crc_dropped_and_next_frame_found():
    f = _frames(mv.CommandLong(1, 158, 211, 0, 1.0, 0.0), mv.Heartbeat())
    bad = bytearray(f[0])
    bad[-1] ^= 0x01
    ms, p = _parse_all(bytes(bad) + f[1])
    assert [m.msgid for m in ms] == [0]
    assert p.crc_errors >= 1


def test_every_single_bit_flip_is_rejected():
    f = _frames(mv.CommandLong(1, 158, 211, 0, 1.0, 2.0))[0]
    good = _frames(mv.Heartbeat(), sysid=9)[0]
    for i in range(len(f) * 8):
        bad = bytearray(f)
        bad[i // 8] ^= 1 << (i % 8)
        ms, _ = _parse_all(bytes(bad) + good)
        # the corrupted command never decodes; the heartbeat after it always does
        assert [m.msgid for m in ms] == [0], i
        assert ms[0].sysid == 9


def test_truncated_frame_then_good_frame():
    f = _frames(mv.CommandLong(1, 158, 211, 0, 1.0, 0.0), mv.Heartbeat())
    cut = f[0][:20]
    p = mv.Parser()
    ms, _ = _parse_all(cut + f[1], parser=p)
    # the cut frame claims 45 bytes: the heartbeat inside its span waits for more
    # traffic (a bounded delay, never a loss) ...
    assert ms == []
    ms, _ = _parse_all(_frames(mv.Heartbeat(4), sysid=2)[0], parser=p)
    # ... and the next bytes settle it: bad CRC, rescan, both heartbeats found
    assert [m.msgid for m in ms] == [0, 0] and ms[1].type == 4


def test_signed_frame_accepted_signature_skipped():
    f = bytearray(_frames(mv.Heartbeat(6, 8))[0])
    f[2] = mv.INCOMPAT_SIGNED
    # recompute CRC (flags are covered by the CRC)
    n = f[1]
    crc = mv.crc_accumulate(mv.CRC_EXTRA[0], mv.crc16(f, 1, 10 + n))
    f[10 + n] = crc & 0xFF
    f[11 + n] = crc >> 8
    data = bytes(f) + bytes(range(13)) + _frames(mv.Heartbeat(1))[0]
    ms, _ = _parse_all(data)
    assert [m.type for m in ms] == [6, 1]
    assert ms[0].signed and not ms[1].signed


def test_unknown_incompat_flag_dropped():
    f = bytearray(_frames(mv.Heartbeat())[0])
    f[2] = 0x02
    ms, p = _parse_all(bytes(f))
    assert ms == [] and p.bad_flags == 1


def test_unknown_message_skipped():
    # ATTITUDE (30) frame from pymavlink-like sender: unknown to us, skipped
    f = bytearray(b"\xfd\x1c\x00\x00\x05\x01\x01\x1e\x00\x00") + bytes(28) + b"\x12\x34"
    ms, p = _parse_all(bytes(f) + _frames(mv.Heartbeat())[0])
    assert [m.msgid for m in ms] == [0]
    assert p.unknown >= 1


def test_longer_payload_than_known_is_rejected():
    # documented strictness: longer than the full known length is a false start
    e = mv.Encoder(1, 1)
    f = bytearray(e.encode(mv.Heartbeat(5, 3, 0, 0, 4, 3)))
    body = bytes(f[10:10 + f[1]]) + b"\x07\x07"
    hdr = bytearray(f[:10])
    hdr[1] = len(body)
    frame = hdr + body
    crc = mv.crc_accumulate(50, mv.crc16(frame, 1, len(frame)))
    frame += bytes([crc & 0xFF, crc >> 8])
    ms, p = _parse_all(bytes(frame) + _frames(mv.Heartbeat(9))[0])
    assert [m.type for m in ms] == [9] and p.bad_len >= 1


def test_long_garbage_stream_bounded():
    import gc
    p = mv.Parser()
    seed = 12345
    chunk = bytearray(64)
    good = _frames(mv.Heartbeat(7))[0]
    gc.collect()
    before = gc.mem_free()
    found = 0
    for r in range(300):
        for i in range(64):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            b = (seed >> 16) & 0xFF
            chunk[i] = 0xFD if b < 20 else b
        p.feed(chunk)
        if r % 10 == 0:
            p.feed(good)
        m = p.get()
        while m is not None:
            found += m.msgid == 0 and m.type == 7
            m = p.get()
    assert found == 30
    assert p._n <= len(p._buf)
    gc.collect()
    assert before - gc.mem_free() < 4096


def test_queue_is_bounded():
    p = mv.Parser(queue=4)
    p.feed(b"".join(_frames(*[mv.Heartbeat(i) for i in range(10)])))
    assert p.pending() == 4 and p.overflow == 6
    assert p.get().type == 6


def test_encoder_rejects_bad_ids():
    for s, c in ((0, 1), (1, 0), (256, 1)):
        try:
            mv.Encoder(s, c)
        except ValueError:
            continue
        raise AssertionError("accepted %d/%d" % (s, c))


def test_small_buffer_holds_the_longest_decoded_frame_signed():
    # The parser's buffer is sized for the longest frame it decodes (a signed, full
    # STATUSTEXT: 79 bytes) twice over, not for two 280-byte MAVLink frames: every frame
    # still comes through whatever the chunking, behind a 255-byte unknown frame too.
    p = mv.Parser()
    assert len(p._buf) == 2 * (mv.HEADER_LEN + 54 + 2 + mv.SIG_LEN) == 158
    f = bytearray(_frames(mv.StatusText(4, "x" * 50))[0])
    f[2] = mv.INCOMPAT_SIGNED
    n = f[1]
    crc = mv.crc_accumulate(mv.CRC_EXTRA[mv.STATUSTEXT], mv.crc16(f, 1, 10 + n))
    f[10 + n] = crc & 0xFF
    f[11 + n] = crc >> 8
    signed = bytes(f) + bytes(range(13))
    unknown = b"\xfd\xff\x00\x00\x05\x01\x01\x1e\x00\x00" + bytes(255) + b"\x12\x34"
    data = unknown + signed + _frames(mv.Heartbeat(2))[0] + signed
    for chunk in (None, 1, 7, 64, 128, 200):
        ms, _ = _parse_all(data, chunk, mv.Parser())
        assert [m.msgid for m in ms] == [mv.STATUSTEXT, 0, mv.STATUSTEXT], chunk
        assert ms[0].signed and ms[0].text == "x" * 50 and ms[2].signed
    try:
        mv.Parser(bufsize=78)
        raise AssertionError("a buffer shorter than a decoded frame was accepted")
    except ValueError:
        pass
