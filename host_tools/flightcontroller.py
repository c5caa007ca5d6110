"""Host side of the payload latch: a flight controller played with pymavlink, the
verified lock/open cycle (`hearth diag latch-cycle`, the e2e tests, the latch benchmark),
and the latch's messages decoded into words (`hearth diag mavlink`).

FlightController(port) opens the latch's MAVLink serial (UART2 on a real board, the
`mavlink:` endpoint of a virtual board) as MAVLink 2, sends its own HEARTBEAT at 1 Hz
from a thread (the latch refuses to arm without the FC link), and collects every
message the latch sends with its arrival time (time.monotonic()).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Any

os.environ.setdefault("MAVLINK20", "1")  # before pymavlink is imported

MAV_CMD_DO_GRIPPER = 211
MAV_CMD_COMPONENT_ARM_DISARM = 400
RELEASE, GRAB, HOLD = 0, 1, 2
RESULTS = {0: "ACCEPTED", 1: "TEMPORARILY_REJECTED", 2: "DENIED", 3: "UNSUPPORTED", 4: "FAILED", 5: "IN_PROGRESS"}
STATES = {0: "LOCKED", 1: "ARMED", 2: "RELEASING", 3: "OPEN", 4: "CLOSING", 5: "FAULT"}
MAV_TYPE_GRIPPER = 48
#: what `hearth diag mavlink` can send: nothing (watch), arm, disarm, or a gripper action
ACTIONS = ("watch", "arm", "disarm", "release", "grab", "hold")
GRIPPER_ACTIONS = {"release": RELEASE, "grab": GRAB, "hold": HOLD}


class LatchLinkError(Exception):
    pass


class FlightController:
    def __init__(self, port: str, baud: int = 57600, sysid: int = 1, compid: int = 1,
                 target_system: int = 1, target_component: int = 158, heartbeat: bool = True) -> None:
        from pymavlink import mavutil

        if os.environ.get("MAVLINK20") != "1":
            raise LatchLinkError("pymavlink was imported before MAVLINK20=1 was set: MAVLink 1 only")
        try:
            self.mav = mavutil.mavlink_connection(port, baud=baud, source_system=sysid, source_component=compid)
        except Exception as e:  # noqa: BLE001 - pyserial / OS errors of every kind
            raise LatchLinkError(f"cannot open MAVLink port {port}: {e}") from e
        self.target_system = target_system
        self.target_component = target_component
        self._send_lock = threading.Lock()
        self._cv = threading.Condition()
        self.msgs: list[tuple[float, Any]] = []  # (t, msg), everything the latch sent
        self._stop = threading.Event()
        self.heartbeat_on = heartbeat
        self._threads = [threading.Thread(target=self._reader, daemon=True),
                         threading.Thread(target=self._heartbeats, daemon=True)]
        for t in self._threads:
            t.start()

    # ---- threads ------------------------------------------------------------------------
    def _reader(self) -> None:
        while not self._stop.is_set():
            try:
                m = self.mav.recv_match(blocking=True, timeout=0.05)
            except Exception:  # noqa: BLE001 - a port that went away (board powered off)
                time.sleep(0.05)
                continue
            if m is None or m.get_type() == "BAD_DATA":
                continue
            with self._cv:
                self.msgs.append((time.monotonic(), m))
                del self.msgs[:-5000]
                self._cv.notify_all()

    def _heartbeats(self) -> None:
        while not self._stop.is_set():
            if self.heartbeat_on:
                self.heartbeat()
            self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=1)
        try:
            self.mav.close()
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self) -> FlightController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- sending --------------------------------------------------------------------------
    def heartbeat(self) -> None:
        with self._send_lock:  # MAV_TYPE_QUADROTOR, MAV_AUTOPILOT_ARDUPILOTMEGA, MAV_STATE_ACTIVE
            self.mav.mav.heartbeat_send(2, 3, 0, 0, 4)

    def command(self, command: int, p1: float = 0.0, p2: float = 0.0, confirmation: int = 0,
                target_system: int | None = None, target_component: int | None = None) -> float:
        """Send a COMMAND_LONG; returns the send time (monotonic, after the write)."""
        ts = self.target_system if target_system is None else target_system
        tc = self.target_component if target_component is None else target_component
        with self._send_lock:
            self.mav.mav.command_long_send(ts, tc, command, confirmation, p1, p2, 0, 0, 0, 0, 0)
            return time.monotonic()

    def arm(self, on: bool = True, **kw: Any) -> float:
        return self.command(MAV_CMD_COMPONENT_ARM_DISARM, 1.0 if on else 0.0, **kw)

    def gripper(self, action: int, instance: float = 1.0, **kw: Any) -> float:
        return self.command(MAV_CMD_DO_GRIPPER, instance, float(action), **kw)

    # ---- receiving ------------------------------------------------------------------------
    def mark(self) -> int:
        with self._cv:
            return len(self.msgs)

    def wait(self, pred: Any, since: int = 0, timeout: float = 5.0) -> tuple[float, Any] | None:
        """First (t, msg) at index >= since matching pred(msg), waiting up to timeout."""
        end = time.monotonic() + timeout
        i = since
        with self._cv:
            while True:
                while i < len(self.msgs):
                    t, m = self.msgs[i]
                    i += 1
                    if pred(m):
                        return t, m
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self._cv.wait(left)

    def wait_ack(self, command: int, results: tuple[int, ...] | None = None, since: int = 0,
                 timeout: float = 5.0) -> tuple[float, Any] | None:
        def ok(m: Any) -> bool:
            return (m.get_type() == "COMMAND_ACK" and m.command == command
                    and (results is None or m.result in results))

        return self.wait(ok, since, timeout)

    def wait_heartbeat(self, since: int = 0, timeout: float = 5.0) -> Any:
        r = self.wait(lambda m: m.get_type() == "HEARTBEAT" and m.type == MAV_TYPE_GRIPPER, since, timeout)
        return None if r is None else r[1]

    def timed(self, mark: int) -> list[tuple[float, Any]]:
        """(arrival time, msg) of everything the latch sent since `mark`."""
        with self._cv:
            return list(self.msgs[mark:])

    def since(self, mark: int, kind: str | None = None) -> list[Any]:
        with self._cv:
            return [m for _, m in self.msgs[mark:] if kind is None or m.get_type() == kind]

    def acks(self, mark: int, command: int | None = None) -> list[int]:
        return [m.result for m in self.since(mark, "COMMAND_ACK") if command is None or m.command == command]

    def texts(self, mark: int) -> list[str]:
        return [m.text for m in self.since(mark, "STATUSTEXT")]

    def latch_state(self, since: int = 0, timeout: float = 3.0) -> str | None:
        hb = self.wait_heartbeat(since, timeout)
        return None if hb is None else STATES.get(hb.custom_mode, "?")

    # ---- a latch on the bench -------------------------------------------------------------
    def greet(self, compid: int, timeout: float = 5.0) -> Any:
        """Wait for the latch's HEARTBEAT (None: none came); address the component that
        answered, then let the latch see our heartbeat: it refuses to arm without the FC link."""
        hb = self.wait_heartbeat(timeout=timeout)
        if hb is None:
            return None
        if hb.get_srcComponent() != compid:
            self.target_component = hb.get_srcComponent()
        time.sleep(1.2)
        return hb

    def exchange(self, action: str, seconds: float) -> list[dict[str, Any]]:
        """Send one of ACTIONS (watch sends nothing), listen `seconds`, and return what the
        latch said, decoded (describe), times in ms from the send."""
        mk = self.mark()
        t0 = time.monotonic()
        if action == "arm":
            self.arm(True)
        elif action == "disarm":
            self.arm(False)
        elif action != "watch":
            self.gripper(GRIPPER_ACTIONS[action])
        time.sleep(seconds)
        return [e for t, m in self.timed(mk) if (e := describe(m, t - t0)) is not None]

    # ---- one verified release over MAVLink -----------------------------------------------
    def release_cycle(self, timeout: float = 5.0) -> dict[str, Any]:
        """Arm, RELEASE, wait for the final ACK. Times in ms from the RELEASE command:
        ack_ms (first ACK, IN_PROGRESS), done_ms (final ACK: ACCEPTED = the open switch
        confirmed), arm_ack_ms (arm command -> its ACK)."""
        mk = self.mark()
        t_arm = self.arm()
        a = self.wait_ack(MAV_CMD_COMPONENT_ARM_DISARM, since=mk, timeout=timeout)
        if a is None:
            raise LatchLinkError("no ACK to the arm command: is the latch on this port and powered?")
        if a[1].result != 0:
            raise LatchLinkError(f"arm {RESULTS.get(a[1].result)}: {' / '.join(self.texts(mk)) or 'no reason given'}")
        mk = self.mark()
        t0 = self.gripper(RELEASE)
        first = self.wait_ack(MAV_CMD_DO_GRIPPER, since=mk, timeout=timeout)
        if first is None:
            raise LatchLinkError("no ACK to the release command")
        out: dict[str, Any] = {"arm_ack_ms": (a[0] - t_arm) * 1000, "ack_ms": (first[0] - t0) * 1000,
                               "first": RESULTS.get(first[1].result)}
        final = first
        if first[1].result == 5:
            final = self.wait_ack(MAV_CMD_DO_GRIPPER, (0, 1, 2, 3, 4), since=mk, timeout=timeout)
            if final is None:
                raise LatchLinkError("release IN_PROGRESS but no final ACK")
        out["result"] = RESULTS.get(final[1].result)
        out["done_ms"] = (final[0] - t0) * 1000
        if final[1].result != 0:  # the reason follows the ACK as a STATUSTEXT
            self.wait(lambda m: m.get_type() == "STATUSTEXT" and "failed" in m.text, mk, 1.0)
        out["texts"] = self.texts(mk)
        return out

    def grab_cycle(self, timeout: float = 5.0) -> dict[str, Any]:
        mk = self.mark()
        t0 = self.gripper(GRAB)
        first = self.wait_ack(MAV_CMD_DO_GRIPPER, since=mk, timeout=timeout)
        if first is None:
            raise LatchLinkError("no ACK to the grab command")
        final = first
        if first[1].result == 5:
            final = self.wait_ack(MAV_CMD_DO_GRIPPER, (0, 1, 2, 3, 4), since=mk, timeout=timeout)
            if final is None:
                raise LatchLinkError("grab IN_PROGRESS but no final ACK")
        return {"ack_ms": (first[0] - t0) * 1000, "result": RESULTS.get(final[1].result),
                "done_ms": (final[0] - t0) * 1000}


def latch_cycle_refusal(client: Any, port: str, with_payload: bool) -> str | None:
    """Why `diag latch-cycle` must not run on the board behind `client` (its console), or
    None: not a latch; in RECOVERY (arming would be its resume); holding a payload (unless
    with_payload). Raises ProtocolError when the board cannot be read."""
    h = client.request("hello", None, timeout=2.0)
    lt = client.request("latch", None, timeout=2.0) if h.get("role") == "latch" else {}
    if h.get("role") != "latch":
        return f"{port} is a {h.get('role')} board, not a payload latch"
    if h.get("state") == "RECOVERY":
        return ("the board is in RECOVERY (it held a payload when it stopped): latch-cycle will not be its resume; "
                "`hearth recovery show`, then resume or discard it")
    if (lt.get("payload") or lt.get("held")) and not with_payload:
        grams = f" ({lt['grams']} g)" if lt.get("grams") is not None else ""
        return f"the latch holds a payload{grams}: take it off first, or pass --with-payload to open it anyway"
    return None


def describe(m: Any, t_s: float) -> dict[str, Any] | None:
    """A latch's message in words: its heartbeat state, a COMMAND_ACK's result, a
    STATUSTEXT (None for any other message); t_s: when it came, in seconds."""
    kind = m.get_type()
    e: dict[str, Any] = {"t_ms": round(t_s * 1000, 1), "type": kind}
    if kind == "HEARTBEAT":
        e["state"] = STATES.get(m.custom_mode, "?")
        e["armed"] = bool(m.base_mode & 128)
    elif kind == "COMMAND_ACK":
        e["command"] = m.command
        e["result"] = RESULTS.get(m.result, str(m.result))
    elif kind == "STATUSTEXT":
        e["text"] = m.text
    else:
        return None
    return e


def stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    v = sorted(values)
    return {
        "n": len(v), "min": round(v[0], 1), "median": round(statistics.median(v), 1),
        "p95": round(v[min(len(v) - 1, int(0.95 * (len(v) - 1) + 0.5))], 1), "max": round(v[-1], 1),
        "mean": round(statistics.fmean(v), 1),
    }


def run_cycles(fc: FlightController, n: int, timeout: float = 5.0, progress: Any = None) -> dict[str, Any]:
    """N verified open/lock cycles over MAVLink. Every release either ends ACCEPTED
    (the open switch confirmed) or is counted as failed."""
    rel: list[float] = []
    ack: list[float] = []
    close: list[float] = []
    failures: list[str] = []
    for i in range(n):
        try:
            r = fc.release_cycle(timeout)
            if r["result"] != "ACCEPTED":
                failures.append(f"cycle {i + 1}: release {r['result']} {' / '.join(r['texts'])}".strip())
            else:
                rel.append(r["done_ms"])
                ack.append(r["ack_ms"])
            g = fc.grab_cycle(timeout)
            if g["result"] != "ACCEPTED":
                failures.append(f"cycle {i + 1}: grab {g['result']}")
            else:
                close.append(g["done_ms"])
        except LatchLinkError as e:
            failures.append(f"cycle {i + 1}: {e}")
            break
        if progress is not None:
            progress(i + 1, n)
    return {"cycles": n, "ok": len(rel), "failures": failures, "release_confirmed_ms": stats(rel),
            "release_ack_ms": stats(ack), "lock_confirmed_ms": stats(close)}
