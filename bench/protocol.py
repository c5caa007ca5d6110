"""Console protocol throughput: request/response exchanges per second at 115200 baud
through a virtual board, against the wire's own limit.

The virtual board throttles its console to 115200 baud (10 bits a byte: 11,520 B/s each
way). One exchange = one framed request and its answer, sent one at a time as hearth's
tools do (BoardClient.request waits for each answer). The wire limit for a command is
11,520 / (request bytes + answer bytes) exchanges per second (both directions share
nothing, but a strict request/answer exchange puts them in series), the bound no
implementation on this link can beat.

Usage: python -m bench.protocol [--n N]. Writes bench/results/protocol.json (with a
"markdown" key) and prints the markdown section on stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import help_if_asked  # noqa: E402
from host_tools.protocol import BoardClient, encode_request  # noqa: E402
from host_tools.sim.relay import VirtualBoard  # noqa: E402
from host_tools.transport.serialport import open_port  # noqa: E402

BAUD = 115200
BYTES_PER_S = BAUD / 10
COMMANDS: list[tuple[str, dict[str, Any] | None]] = [("faults", None), ("hello", None), ("status", None),
                                                     ("config_get", {"section": "common"})]


def measure(client: BoardClient, cmd: str, args: dict[str, Any] | None, n: int) -> dict[str, Any]:
    client.request(cmd, args, timeout=5.0)  # warm up (and learn the answer's size)
    times: list[float] = []
    t0 = time.perf_counter()
    ans = b""
    for _ in range(n):
        a = time.perf_counter()
        res = client.request(cmd, args, timeout=5.0)
        times.append(time.perf_counter() - a)
        ans = json.dumps(res, separators=(", ", ": ")).encode()
    total = time.perf_counter() - t0
    req_bytes = len(encode_request(123456789, cmd, args)) + 1  # + the client's leading "\n" on a fresh session only
    resp_bytes = len(b"=123456789:ok ") + len(ans) + len(b"*01234567\n")
    wire = BYTES_PER_S / (req_bytes + resp_bytes)
    rate = n / total
    return {"cmd": cmd, "n": n, "per_s": round(rate, 1), "median_ms": round(statistics.median(times) * 1000, 2),
            "p95_ms": round(sorted(times)[int(0.95 * (n - 1))] * 1000, 2), "request_bytes": req_bytes,
            "answer_bytes": resp_bytes, "wire_limit_per_s": round(wire, 1), "of_wire": round(rate / wire, 3)}


def run(n: int, board: str) -> dict[str, Any]:
    from host_tools.sim.install import install

    tmp = tempfile.mkdtemp(prefix="hearth-bench-proto-")
    vb = VirtualBoard(board, Path(tmp) / "state", baud=BAUD, frozen=True)
    vb.start()
    try:
        install(vb)
        time.sleep(1.5)
        ser = open_port(vb.console_path)
        client = BoardClient(ser)
        try:
            h = client.hello(timeout=10.0)
            tick = int(client.status()["loop"]["period_ms"])
            rows = [measure(client, c, a, n) for c, a in COMMANDS]
        finally:
            ser.close()
    finally:
        vb.stop()
    return {"board": board, "baud": BAUD, "fw": h.get("fw"), "tick_ms": tick, "rows": rows}


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"{res['board']} virtual board, console throttled to {res['baud']} baud (11,520 B/s each way), "
        f"superloop tick {res['tick_ms']} ms; one request at a time, as `hearth` sends them.",
        "",
        "| command | request B | answer B | exchanges/s | median | p95 | wire limit /s | of wire |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["rows"]:
        lines.append(f"| `{r['cmd']}` | {r['request_bytes']} | {r['answer_bytes']} | {r['per_s']} | "
                     f"{r['median_ms']} ms | {r['p95_ms']} ms | {r['wire_limit_per_s']} | {r['of_wire']:.0%} |")
    lines += [
        "",
        "Wire limit = 11,520 B/s / (request + answer bytes): a strict request/answer exchange "
        "cannot go faster on this link. Measured times land on whole superloop ticks: the board polls "
        "its console once per tick (up to 128 bytes) and answers in that tick, so an exchange costs its "
        "wire time rounded up to the next tick; short exchanges are tick-bound (one per tick at best), "
        "long answers (`hello`, `status`) approach the wire limit. The figure includes the host side "
        "(pyserial, the virtual board's pty relay).",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="Console protocol exchanges per second at 115200 baud vs the wire limit.")
    ap.add_argument("--n", type=int, default=100, help="exchanges per command")
    ap.add_argument("--board", default="printer-s3")
    a = ap.parse_args(argv)
    res = run(a.n, a.board)
    md = markdown(res)
    res["markdown"] = md
    out = ROOT / "bench" / "results" / "protocol.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    help_if_asked(__doc__)
    sys.exit(main(sys.argv[1:]))
