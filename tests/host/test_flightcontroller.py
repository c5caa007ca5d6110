"""The latch's MAVLink messages in words (host_tools/flightcontroller.py: describe), as
`hearth diag mavlink` prints them."""

from __future__ import annotations

from host_tools.flightcontroller import RESULTS, describe  # sets MAVLINK20 before pymavlink loads

from pymavlink.dialects.v20 import ardupilotmega as mav  # noqa: E402  isort: skip


def test_heartbeat_ack_and_text_are_described() -> None:
    hb = mav.MAVLink_heartbeat_message(48, 8, 128, 2, 4, 3)  # a gripper, armed, custom mode 2
    assert describe(hb, 0.0123) == {"t_ms": 12.3, "type": "HEARTBEAT", "state": "RELEASING", "armed": True}
    ack = mav.MAVLink_command_ack_message(211, 5, 0, 0, 1, 1)
    assert describe(ack, 1.0) == {"t_ms": 1000.0, "type": "COMMAND_ACK", "command": 211, "result": "IN_PROGRESS"}
    odd = mav.MAVLink_command_ack_message(211, 77, 0, 0, 1, 1)
    assert 77 not in RESULTS  # an unknown result is shown as its number, not dropped
    assert describe(odd, 0) == {"t_ms": 0, "type": "COMMAND_ACK", "command": 211, "result": "77"}
    txt = mav.MAVLink_statustext_message(6, b"release failed: jam", 0, 0)
    assert describe(txt, 0.5) == {"t_ms": 500.0, "type": "STATUSTEXT", "text": "release failed: jam"}


def test_other_messages_are_left_out() -> None:
    assert describe(mav.MAVLink_system_time_message(0, 0), 0.0) is None
