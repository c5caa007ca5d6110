"""The lab bench of a virtual board: power supply, fault injector, plant knobs, probes.

A unix socket in the state folder, or a TCP port (`tcp:HOST:PORT`, loopback by
default: `hearth sim --bench tcp:127.0.0.1:0`), so power-fail and fault tests run
against a virtual board on another machine of a farm; one JSON object per line each
way. The `hearth bench` command is its client; tests use `BenchClient` directly.

An endpoint is a path (a unix socket) or `tcp:HOST:PORT`.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
from typing import Any

from host_tools.sim.link import hold_for


class BenchError(Exception):
    pass


def parse_tcp(endpoint: str) -> tuple[str, int] | None:
    """`tcp:HOST:PORT` -> (host, port); a path -> None."""
    if not endpoint.startswith("tcp:"):
        return None
    host, _, port = endpoint[4:].rpartition(":")
    if not host or not port.isdigit():
        raise BenchError(f"bench endpoint {endpoint!r}: write tcp:HOST:PORT, e.g. tcp:127.0.0.1:0")
    return host.strip("[]"), int(port)


class BenchServer:
    def __init__(self, vb: Any, path: str) -> None:
        self.vb = vb
        self.path = path  # after start(): the endpoint clients use (tcp: with the real port)
        self._tcp = parse_tcp(path)
        self._sock: socket.socket | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        if self._tcp is not None:
            try:
                s = socket.create_server(self._tcp)
            except OSError as e:
                raise BenchError(f"cannot serve the bench on {self.path}: {e.strerror or e}") from e
            self.path = f"tcp:{self._tcp[0]}:{s.getsockname()[1]}"
        else:
            if os.path.exists(self.path):
                os.unlink(self.path)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(self.path)
        s.listen(8)
        s.settimeout(0.2)
        self._sock = s
        threading.Thread(target=self._serve, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._sock:
            self._sock.close()
        if self._tcp is None:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        f = conn.makefile("rwb")
        try:
            for line in f:
                try:
                    req = json.loads(line)
                    res = {"ok": True, **self.dispatch(req)}
                except BenchError as e:
                    res = {"ok": False, "error": str(e)}
                except (ValueError, KeyError, TypeError) as e:
                    res = {"ok": False, "error": f"bad bench request: {e}"}
                except Exception as e:  # noqa: BLE001 - a bench bug must answer, not hang up
                    import traceback

                    self.vb._log("bench error: " + traceback.format_exc(limit=3).replace("\n", " | "))
                    res = {"ok": False, "error": f"the bench failed: {type(e).__name__}: {e}"}
                f.write(json.dumps(res).encode() + b"\n")
                f.flush()
        except OSError:
            pass
        finally:
            conn.close()

    # ---- operations ---------------------------------------------------------------------
    def dispatch(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        vb = self.vb
        w = vb.world
        if op == "state":
            return {"state": vb.status()}
        if op == "gantry":  # the virtual gantry: its state, or a fault (a motion port that goes silent)
            g = getattr(vb, "gantry", None)
            if g is None:
                raise BenchError("this virtual board has no gantry (start it with `hearth sim --gantry`)")
            if req.get("arg") == "silent":
                g.stop_answering()
            elif req.get("arg") == "history":
                return {"gantry": g.state(), "history": g.history()}
            elif req.get("arg") not in (None, "state"):
                raise BenchError("gantry takes state, history or silent")
            return {"gantry": g.state()}
        if op == "extrusion":  # the bead: deposited volume now, and the world time it is for
            d = w.extrusion()
            if not d:
                raise BenchError("this virtual board has no extruder bead (a printer board's plant has one)")
            return d
        if op == "power":
            arg = req.get("arg")
            if arg == "off":
                vb.power_off()
            elif arg == "on":
                vb.power_on()
            elif arg == "cycle":
                vb.power_off()
                time.sleep(float(req.get("off_ms", 200)) / 1000)
                vb.power_on()
            elif arg == "brownout":
                self._brownout(req)
            elif arg == "fail":
                # A real power cut: the supply collapses at once, the hold-up capacitor
                # keeps the chip alive for holdup_ms, then it dies.
                holdup = float(req.get("holdup_ms", vb.board.get("supply", {}).get("holdup_ms", 20)))
                who = [(vb.proc.pid if vb.proc is not None else None, None), (os.getpid(), vb.link_tid)]
                w.power_fail_begin()
                hold_for(holdup / 1000 / vb.speed, who)
                vb.power_off()  # takes in what the firmware wrote before it died
                report = w.power_fail_report()
                if req.get("restore_after_ms") is not None:
                    time.sleep(float(req["restore_after_ms"]) / 1000)
                    vb.power_on()
                return {"powered": w.powered, "holdup_ms": holdup, **report}
            elif arg == "cut-at":
                n = int(req["program"])
                if n < 1:
                    raise BenchError("cut-at needs a flash program number >= 1")
                with w.lock:
                    w.cut_at_program = w.programs + n
                    w.tear_bytes = int(req.get("tear", 1))
                return {"armed": True, "at_program": w.cut_at_program}
            elif arg == "cut-random":
                lo, hi = float(req.get("min_ms", 0)), float(req.get("max_ms", 1000))
                rng = random.Random(req.get("seed"))
                delay = rng.uniform(lo, hi) / 1000
                threading.Timer(delay, vb.power_off).start()
                return {"cut_in_ms": round(delay * 1000, 1)}
            else:
                raise BenchError("power takes off, on, cycle, fail, brownout, cut-at N or cut-random")
            return {"powered": w.powered}
        if op == "fault":
            name = str(req.get("name", ""))
            known = known_faults(vb)
            if name == "clear":
                with w.lock:
                    w.faults.clear()
                return {"faults": []}
            if name not in known:
                raise BenchError(f"unknown fault {name!r}; this board knows: {', '.join(sorted(known))}")
            with w.lock:
                if req.get("off"):
                    w.faults.discard(name)
                else:
                    w.faults.add(name)
            return {"faults": sorted(w.faults)}
        if op == "set":
            name, value = str(req["param"]), req["value"]
            if name.startswith("link."):
                # the host's side at once; the chip's side (MICROPY_CONSOLE) at its next boot
                try:
                    if not vb.link.set(name[5:], value):
                        raise BenchError(f"unknown link knob {name!r}: link.kind, baud, latency_ms, "
                                         "frame_ms, cdc_timeout_ms")
                except ValueError as e:
                    raise BenchError(str(e)) from e
                return {"set": {name: value}, "note": "the board's side applies at its next boot"}
            if name == "float_inputs":
                with w.lock:
                    w.float_inputs = bool(int(value))
                return {"set": {name: value}}
            if name == "flash.timing":
                from host_tools.sim.relay import FLASH_TIMING

                if value not in FLASH_TIMING:
                    raise BenchError(f"flash.timing is one of {', '.join(FLASH_TIMING)}")
                vb.flash_timing = value
                return {"set": {name: value}, "note": "applies at the board's next boot"}
            for p in w.plants:
                if p.set_param(name, value):
                    return {"set": {name: value}}
            if name == "supply_mv":
                with w.lock:
                    w.supply_mv = int(value)
                return {"set": {name: value}}
            if name in w.pins and isinstance(w.pins[name], int):
                with w.lock:
                    w.inputs[int(w.pins[name])] = int(value)
                return {"set": {name: value}}
            raise BenchError(f"unknown parameter {name!r}")
        if op == "log":
            t0 = vb.events[0][0] if vb.events else 0
            return {"events": [[round(t - t0, 3), e] for t, e in vb.events]}
        raise BenchError(f"unknown bench operation {op!r}")

    def _brownout(self, req: dict[str, Any]) -> None:
        """Ramp the supply down; the chip dies below its brown-out level, then comes back."""
        vb = self.vb
        w = vb.world
        ramp_ms = float(req.get("ramp_ms", 300))
        floor_mv = int(req.get("to_mv", 0))
        hold_ms = float(req.get("hold_ms", 300))
        bor_mv = int(vb.board.get("supply", {}).get("brownout_mv", 3000))

        def run() -> None:
            w.ramp_supply(floor_mv, ramp_ms / 1000 * vb.speed)
            deadline = time.monotonic() + ramp_ms / 1000 + 1
            while time.monotonic() < deadline:
                w.step()
                if w.supply_mv < bor_mv:
                    vb.power_off()
                    break
                time.sleep(0.002)
            time.sleep(hold_ms / 1000)
            if not w.powered:
                vb.power_on()
            else:
                w.ramp_supply(w.nominal_mv, 0.05)

        threading.Thread(target=run, daemon=True).start()


def known_faults(vb: Any) -> set[str]:
    names: set[str] = set()
    for p in vb.world.plants:
        names.update(p.faults)
    if vb.board.get("mavlink"):
        names.add("link_loss")
    return names


class BenchClient:
    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout

    def call(self, **req: Any) -> dict[str, Any]:
        try:
            tcp = parse_tcp(self.path)
            with (socket.create_connection(tcp, timeout=self.timeout) if tcp
                  else socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)) as s:
                s.settimeout(self.timeout)
                if tcp is None:
                    s.connect(self.path)
                s.sendall(json.dumps(req).encode() + b"\n")
                buf = b""
                while not buf.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise BenchError(
                f"no virtual board bench at {self.path}: is `hearth sim` running? ({e.strerror})"
            ) from e
        except TimeoutError as e:
            raise BenchError(f"bench at {self.path} did not answer within {self.timeout} s") from e
        except OSError as e:  # an unreachable host
            raise BenchError(f"cannot reach the bench at {self.path}: {e}") from e
        if not buf:
            raise BenchError(f"bench at {self.path} closed the connection without answering")
        res = json.loads(buf)
        if not res.get("ok"):
            raise BenchError(res.get("error", "bench refused the request"))
        return res
