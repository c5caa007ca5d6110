"""The payload latch end to end: the firmware on a virtual latch board, pymavlink as the
flight controller on the board's MAVLink serial (57600 baud), the bench as the lab
(power supply, fault injector, probes on the bolt and the servo signal)."""

from __future__ import annotations

import os
import time
from typing import Any

os.environ["MAVLINK20"] = "1"  # before pymavlink is imported

import pytest  # noqa: E402

from host_tools.flightcontroller import (  # noqa: E402
    GRAB,
    HOLD,
    MAV_CMD_COMPONENT_ARM_DISARM,
    MAV_CMD_DO_GRIPPER,
    RELEASE,
    FlightController,
)
from host_tools.sim.plants.latch_world import LatchWorldPlant  # noqa: E402
from tests.e2e.conftest import bench, flash_board, wait_for  # noqa: E402

ACCEPTED, TEMP_REJECTED, DENIED, UNSUPPORTED, FAILED, IN_PROGRESS = 0, 1, 2, 3, 4, 5


def _ensure_plant(vb: Any) -> None:
    # The virtual board builds the latch plant from the board's role (host_tools/sim/plants/adapters.py).
    assert any(isinstance(p, LatchWorldPlant) for p in vb.world.plants), vb.world.plants


@pytest.fixture
def latch(make_board):
    vb = make_board("latch-esp32")
    _ensure_plant(vb)
    flash_board(vb)
    fc = FlightController(vb.mavlink_path)
    yield vb, fc
    fc.close()


def lstate(vb: Any) -> dict[str, Any]:
    return bench(vb).call(op="state")["state"]["latch"]


def console(vb: Any, cmd: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    from host_tools.protocol import BoardClient
    from host_tools.transport.serialport import open_port

    c = BoardClient(open_port(vb.console_path))
    try:
        return c.request(cmd, args, timeout=3.0, retries=3)
    finally:
        c.close()


def locked_and_linked(fc: FlightController, timeout: float = 20.0) -> None:
    # The latch heartbeats LOCKED and has seen our heartbeat (arm accepted proves the link).
    def ok() -> bool:
        mk = fc.mark()
        return fc.latch_state(mk, 3.0) == "LOCKED"

    wait_for(ok, timeout)


def test_heartbeat_as_gripper_comp_158(latch) -> None:
    vb, fc = latch
    hb = fc.wait_heartbeat(timeout=20)
    assert hb is not None, "no HEARTBEAT from the latch"
    assert hb.type == 48 and hb.get_srcComponent() == 158 and hb.get_srcSystem() == 1
    assert hb.autopilot == 8
    h = console(vb, "hello")
    assert h["role"] == "latch" and not [p for p in h["problems"] if "role" in p], h["problems"]
    # 1 Hz
    mk = fc.mark()
    time.sleep(3.2)
    n = sum(1 for m in fc.since(mk, "HEARTBEAT") if m.type == 48)
    assert 2 <= n <= 4, n


def test_release_denied_unarmed_then_accepted_when_switch_confirms(latch) -> None:
    vb, fc = latch
    locked_and_linked(fc)
    mk = fc.mark()
    fc.gripper(RELEASE)
    a = fc.wait_ack(MAV_CMD_DO_GRIPPER, since=mk)
    assert a is not None and a[1].result == DENIED
    assert fc.wait(lambda m: m.get_type() == "STATUSTEXT" and "denied: armed" in m.text, mk, 3), fc.texts(mk)
    assert lstate(vb)["bolt_pos"] <= 40 and lstate(vb)["payload_g"] == 500

    r = fc.release_cycle()
    assert r["first"] == "IN_PROGRESS" and r["result"] == "ACCEPTED", r
    s = lstate(vb)
    assert s["open_sw"] == 1 and s["dropped"] is True  # the switch confirmed; the parcel is down
    # auto-close (3 s) locks again, verified by the lock switch
    wait_for(lambda: lstate(vb)["lock_sw"] == 1, 10)
    st = console(vb, "latch")
    wait_for(lambda: console(vb, "latch")["state"] == "LOCKED", 10)
    assert st["releases"] == 1


def test_jam_fails_and_returns_to_locked(latch) -> None:
    vb, fc = latch
    locked_and_linked(fc)
    bench(vb).call(op="fault", name="jam")
    r = fc.release_cycle()
    assert r["first"] == "IN_PROGRESS" and r["result"] == "FAILED", r
    assert any("failed: jam" in t for t in r["texts"]), r
    assert lstate(vb)["payload_g"] == 500  # nothing dropped
    assert console(vb, "status")["state"] == "FAULT"
    bench(vb).call(op="fault", name="jam", off=True)
    wait_for(lambda: lstate(vb)["lock_sw"] == 1, 10)  # commanded back to lock
    console(vb, "clear")
    wait_for(lambda: console(vb, "latch")["state"] == "LOCKED", 10)
    assert fc.latch_state(fc.mark()) == "LOCKED"


def test_hold_duplicates_and_busy(latch) -> None:
    vb, fc = latch
    locked_and_linked(fc)
    # HOLD while locked: accepted, stays locked
    mk = fc.mark()
    fc.gripper(HOLD)
    a = fc.wait_ack(MAV_CMD_DO_GRIPPER, since=mk)
    assert a is not None and a[1].result == ACCEPTED
    # arm, release, and retransmissions while it moves: IN_PROGRESS again, no second action
    mk = fc.mark()
    fc.arm()
    assert fc.wait_ack(MAV_CMD_COMPONENT_ARM_DISARM, (ACCEPTED,), mk) is not None
    bench(vb).call(op="set", param="travel_ms", value=1500)  # a slow bolt: room for duplicates
    mk = fc.mark()
    fc.gripper(RELEASE)
    fc.gripper(RELEASE, confirmation=1)
    fc.gripper(GRAB)
    final = fc.wait_ack(MAV_CMD_DO_GRIPPER, (ACCEPTED, FAILED), mk, timeout=8)
    assert final is not None and final[1].result == ACCEPTED
    res = fc.acks(mk, MAV_CMD_DO_GRIPPER)
    assert res.count(IN_PROGRESS) == 2 and TEMP_REJECTED in res and res.count(ACCEPTED) == 1, res
    # a retransmission of the finished command gets its result again, no new action
    mk = fc.mark()
    fc.gripper(RELEASE, confirmation=2)
    a = fc.wait_ack(MAV_CMD_DO_GRIPPER, since=mk)
    assert a is not None and a[1].result == ACCEPTED
    assert console(vb, "latch")["releases"] == 1
    # HOLD while open suspends auto-close
    mk = fc.mark()
    fc.gripper(HOLD)
    assert fc.wait_ack(MAV_CMD_DO_GRIPPER, (ACCEPTED,), mk) is not None
    time.sleep(4)
    assert console(vb, "latch")["state"] == "OPEN"
    g = fc.grab_cycle(timeout=8)
    assert g["result"] == "ACCEPTED"
    assert lstate(vb)["lock_sw"] == 1


def test_wrong_system_ignored_and_unknown_command(latch) -> None:
    vb, fc = latch
    locked_and_linked(fc)
    rogue = FlightController(vb.mavlink_path, sysid=42, heartbeat=False)
    try:
        mk = fc.mark()
        rogue.arm()
        rogue.gripper(RELEASE)
        time.sleep(1.5)
        assert fc.acks(mk) == [] and rogue.acks(0) == []
    finally:
        rogue.close()
    assert lstate(vb)["bolt_pos"] <= 40 and console(vb, "latch")["state"] == "LOCKED"
    mk = fc.mark()
    fc.command(183, 1.0)  # MAV_CMD_DO_SET_SERVO: not ours
    a = fc.wait_ack(183, since=mk)
    assert a is not None and a[1].result == UNSUPPORTED


def test_link_loss_keeps_locked_and_is_reported(latch) -> None:
    vb, fc = latch
    locked_and_linked(fc)
    mk = fc.mark()
    fc.arm()
    assert fc.wait_ack(MAV_CMD_COMPONENT_ARM_DISARM, (ACCEPTED,), mk) is not None
    fc.heartbeat_on = False
    assert fc.wait(lambda m: m.get_type() == "STATUSTEXT" and "link lost" in m.text, mk, 8) is not None
    wait_for(lambda: console(vb, "latch")["state"] == "LOCKED", 1)  # disarmed (next tick)
    fc.heartbeat_on = True
    fc.heartbeat()
    mk = fc.mark()
    fc.gripper(RELEASE)
    a = fc.wait_ack(MAV_CMD_DO_GRIPPER, since=mk)
    assert a is not None and a[1].result == DENIED
    assert lstate(vb)["bolt_pos"] <= 40


def _watch_servo(vb: Any, seconds: float) -> list[dict[str, Any]]:
    seen = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        seen.append(lstate(vb))
        time.sleep(0.05)
    return seen


def test_power_cut_in_flight_boots_locked_holding(latch) -> None:
    vb, fc = latch
    locked_and_linked(fc)
    wait_for(lambda: console(vb, "latch")["held"] is True, 5)
    b = bench(vb)
    b.call(op="power", arg="off")
    b.call(op="set", param="probe_reset", value=1)
    b.call(op="power", arg="on")
    seen = _watch_servo(vb, 6)
    assert all(s["bolt_pos"] <= 40 for s in seen)
    assert all(s["servo_target"] in (None, 0) for s in seen)
    assert lstate(vb)["servo_open_writes"] == 0 and lstate(vb)["servo_writes"] >= 1
    st = console(vb, "status")
    assert st["state"] == "RECOVERY" and st["recovery"]["held"] is True
    lt = console(vb, "latch")
    assert lt["state"] == "LOCKED" and lt["held"] is True and lt["recovered"]["held"] is True
    assert fc.latch_state(fc.mark()) == "LOCKED"
    # the flight controller's arm is the checked resume; the delivery goes on
    r = fc.release_cycle()
    assert r["result"] == "ACCEPTED", r
    assert console(vb, "status")["state"] == "READY"


def test_power_cut_during_releasing_boots_locked(latch) -> None:
    vb, fc = latch
    locked_and_linked(fc)
    b = bench(vb)
    b.call(op="set", param="travel_ms", value=3000)  # 3 s of travel: cut half-way
    mk = fc.mark()
    fc.arm()
    assert fc.wait_ack(MAV_CMD_COMPONENT_ARM_DISARM, (ACCEPTED,), mk) is not None
    mk = fc.mark()
    fc.gripper(RELEASE)
    assert fc.wait_ack(MAV_CMD_DO_GRIPPER, (IN_PROGRESS,), mk) is not None
    wait_for(lambda: lstate(vb)["bolt_pos"] >= 150, 5)
    b.call(op="power", arg="off")
    pos_at_cut = lstate(vb)["bolt_pos"]
    assert 100 <= pos_at_cut < 700 and lstate(vb)["payload_g"] == 500
    b.call(op="set", param="probe_reset", value=1)
    b.call(op="power", arg="on")
    seen = _watch_servo(vb, 8)
    pos = [s["bolt_pos"] for s in seen]
    assert max(pos) <= pos_at_cut  # never further toward open
    assert all(s["servo_target"] in (None, 0) for s in seen)
    assert lstate(vb)["servo_open_writes"] == 0
    wait_for(lambda: lstate(vb)["lock_sw"] == 1, 10)
    assert lstate(vb)["payload_g"] == 500
    wait_for(lambda: console(vb, "latch")["state"] == "LOCKED", 10)
    st = console(vb, "status")
    assert st["state"] == "RECOVERY" and st["recovery"]["held"] is True
