# The MAVLink gripper endpoint of the payload latch: pure (no I/O).
#
# The shell feeds decoded messages (hearth.control.mavlink.Parser.get()) to handle(msg,
# now_ms), calls latch.step() then step(now_ms) every tick, and writes the frames it
# gets from pop_tx() to the flight-controller UART.
#
# What it does:
# * HEARTBEAT every heartbeat_ms as MAV_TYPE_GRIPPER (48), MAV_AUTOPILOT_INVALID (8),
#   from (sysid, compid). base_mode has SAFETY_ARMED while the latch is ARMED or
#   RELEASING; custom_mode is the latch state (STATE_CODES); system_status is
#   STANDBY, ACTIVE (armed or moving) or CRITICAL (FAULT).
# * Only messages from the flight controller's system id (fc_sysid) are obeyed; any
#   other system is ignored (counted). HEARTBEATs from (fc_sysid, fc_compid) prove the
#   link; none for fc_timeout_ms: a STATUSTEXT "FC link lost", latch.set_link(False)
#   (the latch disarms and refuses to arm or release; it stays locked).
# * COMMAND_LONG addressed to (sysid or 0, compid or 0):
#   - MAV_CMD_DO_GRIPPER (211): param1 gripper instance (0 = any, else must equal
#     `instance`; a mismatch is ignored when broadcast to component 0, DENIED when
#     addressed to us), param2 action RELEASE 0 / GRAB 1 / HOLD 2 (others DENIED).
#       RELEASE: request_release(source "mavlink"); every interlock passed: ACK
#         IN_PROGRESS, then ACCEPTED when the open switch confirms or FAILED (+
#         STATUSTEXT) on a jam. Interlock failed: DENIED + STATUSTEXT naming it.
#         Already OPEN: ACCEPTED at once.
#       GRAB: OPEN -> IN_PROGRESS then ACCEPTED when the lock switch confirms (FAILED on
#         jam); already locked: ACCEPTED (and disarmed).
#       HOLD: latch.hold() (disarm; in OPEN suspend auto-close): ACCEPTED.
#     While the bolt moves (RELEASING/CLOSING) a different action is
#     TEMPORARILY_REJECTED; in FAULT every action is DENIED "fault".
#   - MAV_CMD_COMPONENT_ARM_DISARM (400): param1 1 arms the latch (its explicit arm
#     command, times out in the latch), 0 disarms. ACCEPTED or DENIED + STATUSTEXT.
#   - anything else: UNSUPPORTED, but only when addressed to our component id (a
#     broadcast command we do not know is not ours to refuse).
# * Duplicates. MAVLink senders retransmit a command when no ACK arrived, with
#   `confirmation` incremented. We never run an action twice because of that:
#     - the same action from the same sender while it is still moving: IN_PROGRESS
#       again (whatever `confirmation` says);
#     - a retransmission (confirmation > 0, same sender, command and params) within
#       dup_window_ms of the original: the original's final result is sent again, with
#       no new action;
#     - confirmation == 0 is always a new command and is judged on the latch's state
#       (so a second RELEASE after a completed one is ACCEPTED if still OPEN, or DENIED
#       "armed" once the latch closed again: each release needs its own arm).

from hearth.control import mavlink as mv
from hearth.control.latch import ARMED, CLOSING, FAULT, LOCKED, OPEN, RELEASING
from hearth.ticks import ticks_add, ticks_diff

STATE_CODES = {LOCKED: 0, ARMED: 1, RELEASING: 2, OPEN: 3, CLOSING: 4, FAULT: 5}

DEFAULTS = {
    "sysid": 1,  # our system id: the vehicle's
    "compid": 158,  # MAV_COMP_ID_PERIPHERAL
    "fc_sysid": 1,
    "fc_compid": 1,  # whose HEARTBEAT proves the link (MAV_COMP_ID_AUTOPILOT1)
    "instance": 1,
    "heartbeat_ms": 1000,
    "fc_timeout_ms": 3000,
    "dup_window_ms": 3000,
    "motion_timeout_ms": 10000,  # guard: a pending ACK never waits longer than this
    "outbox": 8,
}


class Gripper:
    def __init__(self, latch, config=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        cfg = merge(DEFAULTS, config, "gripper")
        c = cfg["compid"]
        if not 1 <= c <= 255 or 1 <= c <= 6:
            # 1..6 are autopilot / reserved component ids, 0 is broadcast
            raise ValueError("gripper compid %d not allowed (1-6 reserved, 0 broadcast)" % c)
        if not 1 <= cfg["sysid"] <= 255 or not 1 <= cfg["fc_sysid"] <= 255:
            raise ValueError("sysid must be 1..255")
        self.cfg = cfg
        self.latch = latch
        self.enc = mv.Encoder(cfg["sysid"], c)
        self._out = []
        self.tx_dropped = 0
        self.ignored = 0  # messages from systems other than the FC, or not for us
        self._hb_next = None
        self._fc_t = None
        self._t0 = None
        self.fc_link = False
        self._link_reported = False
        # the action waiting for its final ACK
        self._p_action = None
        self._p_sys = 0
        self._p_comp = 0
        self._p_cmd = 0
        self._p_key = None
        self._p_t = 0
        # the last finished command, for retransmissions
        self._l_key = None
        self._l_result = 0
        self._l_t = 0
        self.acks = 0
        latch.set_link(False)

    # ---- output ------------------------------------------------------------------
    def _send(self, msg):
        if len(self._out) >= self.cfg["outbox"]:
            self._out.pop(0)
            self.tx_dropped += 1
        self._out.append(self.enc.encode(msg))

    def pop_tx(self):
        if self._out:
            return self._out.pop(0)
        return None

    def _text(self, severity, text):
        self._send(mv.StatusText(severity, text))

    def _ack(self, cmd, result, sysid, compid):
        self.acks += 1
        self._send(mv.CommandAck(cmd, result, 0, 0, sysid, compid))

    def _finish(self, key, result, now, cmd, sysid, compid):
        self._l_key = key
        self._l_result = result
        self._l_t = now
        self._ack(cmd, result, sysid, compid)

    # ---- input ---------------------------------------------------------------------
    def handle(self, msg, now):
        cfg = self.cfg
        if msg.sysid != cfg["fc_sysid"]:
            self.ignored += 1
            return
        mid = msg.msgid
        if mid == mv.HEARTBEAT:
            if msg.compid == cfg["fc_compid"]:
                self._fc_t = now
                if not self.fc_link:
                    self.fc_link = True
                    self._link_reported = False
                    self.latch.set_link(True, now)
                    self._text(mv.MAV_SEVERITY_INFO, "latch: FC link ok")
        elif mid == mv.COMMAND_LONG:
            ts = msg.target_system
            tc = msg.target_component
            if (ts != 0 and ts != cfg["sysid"]) or (tc != 0 and tc != cfg["compid"]):
                self.ignored += 1
                return
            if msg.command == mv.MAV_CMD_DO_GRIPPER:
                self._do_gripper(msg, now)
            elif msg.command == mv.MAV_CMD_COMPONENT_ARM_DISARM:
                self._arm_disarm(msg, now)
            elif tc == cfg["compid"]:
                self._ack(msg.command, mv.MAV_RESULT_UNSUPPORTED, msg.sysid, msg.compid)
            else:
                self.ignored += 1

    def _arm_disarm(self, m, now):
        p1 = m.param1
        if p1 == 1.0:
            ok, reason = self.latch.arm(now)
            if ok:
                self._ack(m.command, mv.MAV_RESULT_ACCEPTED, m.sysid, m.compid)
            else:
                self._ack(m.command, mv.MAV_RESULT_DENIED, m.sysid, m.compid)
                self._text(mv.MAV_SEVERITY_WARNING, "latch: arm denied: " + reason)
        elif p1 == 0.0:
            self.latch.disarm(now)
            self._ack(m.command, mv.MAV_RESULT_ACCEPTED, m.sysid, m.compid)
        else:
            self._ack(m.command, mv.MAV_RESULT_DENIED, m.sysid, m.compid)

    def _do_gripper(self, m, now):
        cfg = self.cfg
        cmd = m.command
        s = m.sysid
        c = m.compid
        p1 = m.param1
        p2 = m.param2
        if p1 != 0.0 and p1 != float(cfg["instance"]):  # NaN never matches: refused
            if m.target_component == 0:
                self.ignored += 1
                return
            self._ack(cmd, mv.MAV_RESULT_DENIED, s, c)
            self._text(mv.MAV_SEVERITY_WARNING, "latch: no gripper instance here")
            return
        if p2 == 0.0:
            action = "release"
        elif p2 == 1.0:
            action = "grab"
        elif p2 == 2.0:
            action = "hold"
        else:
            self._ack(cmd, mv.MAV_RESULT_DENIED, s, c)
            self._text(mv.MAV_SEVERITY_WARNING, "latch: bad gripper action")
            return
        key = (s, c, cmd, p1, p2, m.param3, m.param4, m.param5, m.param6, m.param7)
        if self._p_action is not None:
            if self._p_action == action and self._p_sys == s and self._p_comp == c:
                self._ack(cmd, mv.MAV_RESULT_IN_PROGRESS, s, c)
            else:
                self._ack(cmd, mv.MAV_RESULT_TEMPORARILY_REJECTED, s, c)
            return
        if (m.confirmation > 0 and key == self._l_key
                and ticks_diff(now, self._l_t) <= cfg["dup_window_ms"]):
            self._ack(cmd, self._l_result, s, c)
            return
        latch = self.latch
        if action == "release":
            if latch.state == OPEN:
                self._finish(key, mv.MAV_RESULT_ACCEPTED, now, cmd, s, c)
                return
            ok, reason = latch.request_release(now, "mavlink")
            if ok:
                self._start(action, key, now, cmd, s, c)
            elif reason == "busy":
                self._ack(cmd, mv.MAV_RESULT_TEMPORARILY_REJECTED, s, c)
            else:
                self._finish(key, mv.MAV_RESULT_DENIED, now, cmd, s, c)
                self._text(mv.MAV_SEVERITY_WARNING, "latch: release denied: " + reason)
            return
        if action == "grab":
            ok, reason = latch.grab(now)
        else:
            ok, reason = latch.hold(now)
        if ok and reason in ("ok", "in_progress"):
            self._start(action, key, now, cmd, s, c)
        elif ok:
            self._finish(key, mv.MAV_RESULT_ACCEPTED, now, cmd, s, c)
        elif reason == "busy":
            self._ack(cmd, mv.MAV_RESULT_TEMPORARILY_REJECTED, s, c)
        else:
            self._finish(key, mv.MAV_RESULT_DENIED, now, cmd, s, c)
            self._text(mv.MAV_SEVERITY_WARNING, "latch: %s denied: %s" % (action, reason))

    def _start(self, action, key, now, cmd, s, c):
        self._p_action = action
        self._p_key = key
        self._p_t = now
        self._p_cmd = cmd
        self._p_sys = s
        self._p_comp = c
        self._ack(cmd, mv.MAV_RESULT_IN_PROGRESS, s, c)

    # ---- the step ------------------------------------------------------------------
    def step(self, now):
        cfg = self.cfg
        latch = self.latch
        if self._t0 is None:
            self._t0 = now
        # flight-controller link
        ref = self._fc_t if self._fc_t is not None else self._t0
        if ticks_diff(now, ref) > cfg["fc_timeout_ms"]:
            if self.fc_link:
                self.fc_link = False
                latch.set_link(False, now)
            if not self._link_reported:
                self._link_reported = True
                self._text(mv.MAV_SEVERITY_WARNING, "latch: FC link lost, locked")
        # the pending action's final answer
        act = self._p_action
        if act is not None:
            st = latch.state
            result = -1
            if act == "release":
                if st == OPEN:
                    result = mv.MAV_RESULT_ACCEPTED
                elif st != RELEASING:
                    result = mv.MAV_RESULT_FAILED
            elif st == LOCKED or st == ARMED:
                result = mv.MAV_RESULT_ACCEPTED
            elif st != CLOSING:
                result = mv.MAV_RESULT_FAILED
            if result < 0 and ticks_diff(now, self._p_t) > cfg["motion_timeout_ms"]:
                result = mv.MAV_RESULT_FAILED
            if result >= 0:
                self._p_action = None
                self._finish(self._p_key, result, now, self._p_cmd, self._p_sys, self._p_comp)
                if result == mv.MAV_RESULT_FAILED:
                    self._text(mv.MAV_SEVERITY_CRITICAL,
                               "latch: %s failed: %s" % (act, latch.fault or latch.state))
        # our heartbeat
        if self._hb_next is None or ticks_diff(now, self._hb_next) >= 0:
            self._send(self.heartbeat())
            nxt = ticks_add(now if self._hb_next is None else self._hb_next, cfg["heartbeat_ms"])
            if ticks_diff(now, nxt) >= 0:  # fell behind: no burst of heartbeats
                nxt = ticks_add(now, cfg["heartbeat_ms"])
            self._hb_next = nxt

    def heartbeat(self):
        st = self.latch.state
        base = mv.MAV_MODE_FLAG_SAFETY_ARMED if st in (ARMED, RELEASING) else 0
        if st == FAULT:
            status = mv.MAV_STATE_CRITICAL
        elif st in (ARMED, RELEASING, CLOSING):
            status = mv.MAV_STATE_ACTIVE
        else:
            status = mv.MAV_STATE_STANDBY
        return mv.Heartbeat(mv.MAV_TYPE_GRIPPER, mv.MAV_AUTOPILOT_INVALID, base, STATE_CODES[st], status, 3)

    def status(self):
        return {
            "fc_link": self.fc_link,
            "pending": self._p_action,
            "ignored": self.ignored,
            "tx_dropped": self.tx_dropped,
            "acks": self.acks,
            "sysid": self.cfg["sysid"],
            "compid": self.cfg["compid"],
        }
