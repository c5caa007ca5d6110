# A tiny board for host tests, run by the MicroPython unix port with MICROPYPATH=firmware:
#
#   micropython tests/host/proto_board.py serve   # stdin/stdout through hearth.runtime.console
#   micropython tests/host/proto_board.py batch   # read all of stdin in chunks (fuzz), fast
#
# It registers a few commands on hearth.runtime.protocol.Protocol. `bump` is the
# "actuator": a writing command that moves a counter by one.
import sys
import time
from hearth.runtime.protocol import Protocol, CommandError, line_bytes
from hearth.runtime.console import Console

MAX_LINE = 256
proto = Protocol(max_line=MAX_LINE, cache=16)
state = {"count": 0, "drop": 0, "arm": 0, "noise": 0}


def hello(args):
    return {"fw": "proto-board", "proto": 1, "board": "unix", "role": "test", "max_line": MAX_LINE}


def status(args):
    return {"count": state["count"]}


def bump(args):
    if args.get("boom"):
        raise ValueError("boom requested")
    if "n" in args and not isinstance(args["n"], int):
        raise CommandError("BAD_ARGS", "n must be an int")
    state["count"] += 1
    return {"count": state["count"], "n": args.get("n", 0)}


def drop(args):
    # test control: do not write the n response lines after this one (a lossy link)
    state["arm"] = args.get("n", 1)
    return {}


def noise(args):
    # test control: REPL-like chatter and events before the answer
    state["noise"] = 1
    return {"noisy": True}


def fail(args):
    raise CommandError(args.get("code", "STATE"), args.get("msg", "not now"))


proto.register("hello", hello)
proto.register("status", status)
proto.register("count", status)
proto.register("echo", lambda args: args)
proto.register("bump", bump, writes=True)
proto.register("drop", drop, writes=True)
proto.register("noise", noise, writes=True)
proto.register("fail", fail, writes=True)


def serve():
    con = Console(time)
    while not con.eof:
        con.pump(time.ticks_ms())
        data = con.read_available(256)
        if not data:
            time.sleep_ms(1)
            continue
        for line in proto.feed(data):
            if state["drop"] > 0:
                state["drop"] -= 1
                continue
            if state["noise"]:
                state["noise"] = 0
                con.write(b"Traceback (most recent call last):\r\n  File \"x\", line 1\r\n")
                con.write(b"=12:ok {}*deadbeef\r\n>>> \r\n")
                con.write(proto.frame_event("tel", {"t": 31.5}))
                con.write(proto.frame_event("evt", {"e": "noise"}))
            con.write(line)
            if state["arm"]:
                state["drop"] = state["arm"]
                state["arm"] = 0


def batch():
    # chunk sizes vary (1..1024) so lines are split at every kind of place
    rd = sys.stdin.buffer
    wr = sys.stdout.buffer
    seed = 1
    while True:
        seed = (seed * 1103515245 + 12345) & 0x3FFFFFFF
        n = 1 + (seed >> 8) % 1024
        data = rd.read(n)
        if not data:
            break
        out = proto.feed(data)
        if out:
            wr.write(b"".join([line_bytes(x) for x in out]))  # a long answer is pieces
    wr.write(b"#END count=%d\n" % state["count"])


if sys.argv[-1] == "batch":
    batch()
else:
    serve()
