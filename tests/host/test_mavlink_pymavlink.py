"""Cross-check the firmware's MAVLink 2 codec (hearth/control/mavlink.py, run in the
MicroPython unix port) against pymavlink's common dialect, both directions, plus
garbage and bit-flip robustness on pymavlink-built streams."""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
from pathlib import Path
from typing import Any

os.environ["MAVLINK20"] = "1"  # before pymavlink is imported

import pytest  # noqa: E402
from pymavlink import mavutil  # noqa: E402,F401  (honours MAVLINK20)
from pymavlink.dialects.v20 import common as mavlink2  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"

HELPER = r"""
import sys, json, binascii, struct
from hearth.control import mavlink as mv
CLS = {"HEARTBEAT": mv.Heartbeat, "COMMAND_LONG": mv.CommandLong,
       "COMMAND_ACK": mv.CommandAck, "STATUSTEXT": mv.StatusText}
NAMES = {0: "HEARTBEAT", 76: "COMMAND_LONG", 77: "COMMAND_ACK", 253: "STATUSTEXT"}
FIELDS = {
    0: ("type", "autopilot", "base_mode", "custom_mode", "system_status", "mavlink_version"),
    76: ("target_system", "target_component", "command", "confirmation", "param1", "param2",
         "param3", "param4", "param5", "param6", "param7"),
    77: ("command", "result", "progress", "result_param2", "target_system", "target_component"),
    253: ("severity", "text", "id", "chunk_seq"),
}
mode = sys.argv[1]
if mode == "encode":
    for s in json.loads(sys.stdin.read()):
        e = mv.Encoder(s["sysid"], s["compid"])
        e.seq = s["seq"]
        f = s["fields"]
        for k in f:
            if isinstance(f[k], list):  # a float32 sent as its bits (see ours_encode)
                f[k] = struct.unpack("<f", binascii.unhexlify(f[k][1]))[0]
        print(binascii.hexlify(e.encode(CLS[s["type"]](**f))).decode())
elif mode == "tables":
    print(json.dumps({"crc": mv.CRC_EXTRA, "len": mv.PAYLOAD_LEN}))
else:
    chunk = int(sys.argv[2])
    data = binascii.unhexlify(sys.stdin.read().strip())
    p = mv.Parser(queue=64)
    for i in range(0, len(data), chunk):
        p.feed(data[i:i + chunk])
        m = p.get()
        while m is not None:
            d = {"_msg": NAMES[m.msgid], "sysid": m.sysid, "compid": m.compid, "seq": m.seq,
                 "signed": m.signed}
            for f in FIELDS[m.msgid]:
                v = getattr(m, f)
                # floats leave as float32 bits: a printed single-precision float keeps
                # only ~7 digits
                d[f] = ["f32", binascii.hexlify(struct.pack("<f", v)).decode()] if isinstance(v, float) else v
            print(json.dumps(d))
            m = p.get()
    print("STATS " + json.dumps({"frames": p.frames, "crc_errors": p.crc_errors,
                                  "unknown": p.unknown, "bad_len": p.bad_len,
                                  "bad_flags": p.bad_flags}))
"""


def _mp(args: list[str], stdin: str) -> str:
    from host_tools import interp

    argv, extra = interp.command(None, "256K", build_if_missing=True)
    env = dict(os.environ, MICROPYPATH=str(FIRMWARE), **extra)
    proc = subprocess.run([*argv, "-c", HELPER, *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


def _f32_bits(specs: list[dict]) -> list[dict]:
    # Floats cross to the board as float32 bits: MicroPython's single-precision float
    # parser (as on an ESP32) may land one ULP off a decimal text, which would test
    # the parser, not the codec.
    out = []
    for s in specs:
        f = {k: (["f32", struct.pack("<f", v).hex()] if isinstance(v, float) else v) for k, v in s["fields"].items()}
        out.append({**s, "fields": f})
    return out


def ours_encode(specs: list[dict]) -> list[bytes]:
    out = _mp(["encode"], json.dumps(_f32_bits(specs))).split()
    assert len(out) == len(specs)
    return [bytes.fromhex(h) for h in out]


def ours_decode(data: bytes, chunk: int = 64) -> tuple[list[dict], dict]:
    lines = _mp(["decode", str(chunk)], data.hex()).splitlines()
    assert lines[-1].startswith("STATS ")

    def floats(d: dict) -> dict:
        return {k: (struct.unpack("<f", bytes.fromhex(v[1]))[0] if isinstance(v, list) else v) for k, v in d.items()}

    return [floats(json.loads(x)) for x in lines[:-1]], json.loads(lines[-1][6:])


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def pym(sysid: int = 1, compid: int = 1, seq: int = 0) -> mavlink2.MAVLink:
    m = mavlink2.MAVLink(None, srcSystem=sysid, srcComponent=compid)
    m.robust_parsing = True
    m.seq = seq
    return m


def pym_msg(type_: str, f: dict):
    if type_ == "HEARTBEAT":
        return mavlink2.MAVLink_heartbeat_message(f["type"], f["autopilot"], f["base_mode"], f["custom_mode"],
                                                  f["system_status"], f["mavlink_version"])
    if type_ == "COMMAND_LONG":
        return mavlink2.MAVLink_command_long_message(
            f["target_system"], f["target_component"], f["command"], f["confirmation"],
            *(f["param%d" % i] for i in range(1, 8)))
    if type_ == "COMMAND_ACK":
        return mavlink2.MAVLink_command_ack_message(f["command"], f["result"], f["progress"], f["result_param2"],
                                                    f["target_system"], f["target_component"])
    return mavlink2.MAVLink_statustext_message(f["severity"], f["text"].encode(), f["id"], f["chunk_seq"])


def parse1(frame: bytes) -> Any:
    got = pym().parse_buffer(frame)
    assert got and len(got) == 1
    return got[0]


def random_spec(rng: random.Random) -> dict:
    f: dict[str, Any]
    t = rng.choice(["HEARTBEAT", "COMMAND_LONG", "COMMAND_ACK", "STATUSTEXT"])
    u8 = lambda: rng.choice([0, 0, 1, 255, rng.randrange(256)])  # noqa: E731 - zeros exercise truncation
    if t == "HEARTBEAT":
        f = dict(type=u8(), autopilot=u8(), base_mode=u8(), custom_mode=rng.choice([0, 2**32 - 1, rng.randrange(2**32)]),
                 system_status=u8(), mavlink_version=u8())
    elif t == "COMMAND_LONG":
        f = dict(target_system=u8(), target_component=u8(), command=rng.choice([0, 211, 400, 65535, rng.randrange(65536)]),
                 confirmation=u8())
        for i in range(1, 8):
            f["param%d" % i] = rng.choice([0.0, 0.0, 1.0, -1.5, f32(rng.uniform(-1e6, 1e6)), 3.4e38])
            f["param%d" % i] = f32(f["param%d" % i])
    elif t == "COMMAND_ACK":
        f = dict(command=rng.randrange(65536), result=u8(), progress=u8(),
                 result_param2=rng.choice([0, -1, 2**31 - 1, -(2**31), rng.randrange(-(2**31), 2**31)]),
                 target_system=u8(), target_component=u8())
    else:
        n = rng.choice([0, 1, 10, 49, 50])
        f = dict(severity=rng.randrange(8), text="".join(chr(rng.randrange(32, 127)) for _ in range(n)),
                 id=rng.choice([0, rng.randrange(65536)]), chunk_seq=u8())
    return dict(type=t, sysid=rng.randrange(1, 256), compid=rng.randrange(1, 256), seq=rng.randrange(256), fields=f)


def test_tables_match_pymavlink():
    t = json.loads(_mp(["tables"], ""))
    for cls in (mavlink2.MAVLink_heartbeat_message, mavlink2.MAVLink_command_long_message,
                mavlink2.MAVLink_command_ack_message, mavlink2.MAVLink_statustext_message):
        assert t["crc"][str(cls.id)] == cls.crc_extra
        assert t["len"][str(cls.id)] == struct.calcsize(cls.unpacker.format.replace("c", "50s")) \
            if cls is mavlink2.MAVLink_statustext_message else struct.calcsize(cls.unpacker.format)


def test_our_frames_byte_identical_to_pymavlink_and_parse_there():
    rng = random.Random(1)
    specs = [random_spec(rng) for _ in range(400)]
    frames = ours_encode(specs)
    for s, fr in zip(specs, frames, strict=True):
        mav = pym(s["sysid"], s["compid"], s["seq"])
        ref = pym_msg(s["type"], s["fields"]).pack(mav)
        assert fr == ref, (s, fr.hex(), ref.hex())
        m = parse1(fr)
        assert m.get_type() == s["type"]  # not BAD_DATA: CRC accepted
        assert m.get_srcSystem() == s["sysid"] and m.get_srcComponent() == s["compid"]
        assert m.get_seq() == s["seq"]
        for k, v in s["fields"].items():
            pv = getattr(m, k)
            if k == "text":
                assert pv == v
            else:
                assert pv == v, (k, pv, v)


def test_gripper_frames_parse_in_pymavlink():
    # the frames the gripper endpoint actually sends
    script = r"""
import binascii
from hearth.control.latch import Latch
from hearth.control.gripper import Gripper
from hearth.control import mavlink as mv
g = Gripper(Latch(), {"sysid": 7, "compid": 158})
g.step(0)
g.step(5000)
g._ack(211, 5, 1, 1)
b = g.pop_tx()
while b is not None:
    print(binascii.hexlify(b).decode())
    b = g.pop_tx()
"""
    from host_tools import interp

    argv, extra = interp.command(None, "256K", build_if_missing=True)
    out = subprocess.run([*argv, "-c", script], capture_output=True, text=True, check=True,
                         env=dict(os.environ, MICROPYPATH=str(FIRMWARE), **extra)).stdout.split()
    msgs = [parse1(bytes.fromhex(h)) for h in out]
    types = [m.get_type() for m in msgs]
    assert types == ["HEARTBEAT", "STATUSTEXT", "HEARTBEAT", "COMMAND_ACK"]
    hb = msgs[0]
    assert hb.type == mavlink2.MAV_TYPE_GRIPPER and hb.autopilot == mavlink2.MAV_AUTOPILOT_INVALID
    assert hb.get_srcSystem() == 7 and hb.get_srcComponent() == 158
    assert msgs[1].text == "latch: FC link lost, locked"
    assert msgs[1].severity == mavlink2.MAV_SEVERITY_WARNING
    assert msgs[3].result == mavlink2.MAV_RESULT_IN_PROGRESS and msgs[3].target_system == 1


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_pymavlink_frames_parse_in_ours(chunk):
    rng = random.Random(2 + chunk)
    specs = [random_spec(rng) for _ in range(150)]
    data = b"".join(pym_msg(s["type"], s["fields"]).pack(pym(s["sysid"], s["compid"], s["seq"])) for s in specs)
    got, stats = ours_decode(data, chunk)
    assert stats["crc_errors"] == 0
    assert len(got) == len(specs)
    for s, g in zip(specs, got, strict=True):
        assert g["_msg"] == s["type"]
        assert (g["sysid"], g["compid"], g["seq"]) == (s["sysid"], s["compid"], s["seq"])
        for k, v in s["fields"].items():
            if isinstance(v, float):
                assert f32(g[k]) == v, (k, g[k], v)
            else:
                assert g[k] == v, (k, g[k], v)


def test_pymavlink_do_gripper_and_signed_frame():
    mav = pym(1, 1, 9)
    cmd = mavlink2.MAVLink_command_long_message(1, 158, mavlink2.MAV_CMD_DO_GRIPPER, 0, 1, mavlink2.GRIPPER_ACTION_RELEASE,
                                                0, 0, 0, 0, 0)
    plain = cmd.pack(mav)
    signer = pym(1, 1, 10)
    signer.signing.secret_key = bytes(range(32))
    signer.signing.link_id = 0
    signer.signing.sign_outgoing = True
    signer.signing.timestamp = 1
    hb = mavlink2.MAVLink_heartbeat_message(2, 3, 0, 0, 4, 3)
    signed = hb.pack(signer)
    assert signed[2] & 1 and len(signed) == 12 + signed[1] + 13
    got, _ = ours_decode(plain + signed)
    assert [g["_msg"] for g in got] == ["COMMAND_LONG", "HEARTBEAT"]
    assert got[0]["command"] == 211 and got[0]["param1"] == 1.0 and got[0]["param2"] == 0.0
    assert got[0]["target_component"] == 158 and not got[0]["signed"]
    assert got[1]["signed"] and got[1]["type"] == 2


def test_garbage_between_pymavlink_frames():
    rng = random.Random(5)
    specs = [random_spec(rng) for _ in range(120)]
    frames = [pym_msg(s["type"], s["fields"]).pack(pym(s["sysid"], s["compid"], s["seq"])) for s in specs]
    stream = bytearray()
    for fr in frames:
        g = bytearray(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        for i in range(len(g)):  # plenty of false start bytes and MAVLink-looking headers
            if rng.random() < 0.2:
                g[i] = rng.choice([0xFD, 0xFE])
        if rng.random() < 0.3:
            g += bytes([0xFD, rng.randrange(1, 40), 0, 0, 0, 1, 1, rng.choice([0, 76, 77, 253]), 0, 0])
        stream += g + fr
    got, stats = ours_decode(bytes(stream) + bytes(300), 64)
    # every real frame is found, in order; a garbage-made frame would need a CRC match
    want = [(s["type"], s["sysid"], s["compid"], s["seq"]) for s in specs]
    have = [(g["_msg"], g["sysid"], g["compid"], g["seq"]) for g in got]
    it = iter(have)
    assert all(w in it for w in want), "a real frame was lost"
    assert len(have) == len(want), "garbage decoded as a frame"


def test_bit_flips_never_decode_a_wrong_command():
    mav = pym(1, 1, 3)
    cmd = mavlink2.MAVLink_command_long_message(1, 158, 211, 0, 1, 0, 0, 0, 0, 0, 0).pack(mav)
    tail = mavlink2.MAVLink_heartbeat_message(9, 8, 0, 0, 3, 3).pack(pym(42, 1, 0))
    stream = b""
    n = 0
    for i in range(len(cmd) * 8):
        bad = bytearray(cmd)
        bad[i // 8] ^= 1 << (i % 8)
        if bytes(bad[:1]) != b"\xfd":
            continue  # a flipped start byte is just garbage; covered below anyway
        stream += bytes(bad) + tail
        n += 1
    # double flips too
    rng = random.Random(9)
    for _ in range(300):
        bad = bytearray(cmd)
        for _ in range(2):
            i = rng.randrange(8, len(cmd) * 8)
            bad[i // 8] ^= 1 << (i % 8)
        stream += bytes(bad) + tail
        n += 1
    got, stats = ours_decode(stream + bytes(300), 64)
    assert [g["_msg"] for g in got] == ["HEARTBEAT"] * n
    assert all(g["sysid"] == 42 for g in got)
    assert stats["crc_errors"] + stats["bad_len"] + stats["unknown"] + stats["bad_flags"] >= n
