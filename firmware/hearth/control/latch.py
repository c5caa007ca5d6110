# The payload latch state machine: pure (no I/O), fail-secure.
#
#                 arm()                      request_release() + every interlock
#   +--------+ ----------> +-------+ --------------------------------> +-----------+
#   | LOCKED |             | ARMED |                                   | RELEASING |
#   +--------+ <---------- +-------+                                   +-----------+
#     ^  ^  |   disarm(), hold(), grab(), arm timeout,                   |       |
#     |  |  |   link lost, supply bad                  open switch       |       | no open switch in
#     |  |  |                                          within            |       | release_timeout_ms
#     |  |  | slip / lock switch lost (regrab)         release_timeout   v       v
#     |  |  +--------------------+                              +------+     +-------+
#     |  |                       v                              | OPEN |     | FAULT | --> command "lock"
#     |  +-- lock switch --- +---------+ <-- grab(), auto-close +------+     +-------+
#     |      confirmed       | CLOSING |     open switch lost                   |
#     |                      +---------+ ----------------------------------->   |
#     |                        ^  (boot)       no lock switch in close_timeout  |
#     |                        +--------------------- clear_fault() ------------+
#
# * Construction (boot, reset, recovery) starts in CLOSING: the latch commands "lock"
#   and waits for the lock switch to confirm. Nothing but a successful
#   request_release() ever makes step() return "open"; RELEASING and OPEN are the only
#   states that command "open".
# * Release interlocks, checked in this order; a denial names the first that failed:
#     "fault"   the latch is in FAULT
#     "source"  the intent came from a source not in config["sources"]
#     "busy"    the bolt is moving (RELEASING / CLOSING)
#     "open"    already open
#     "armed"   not armed, or the arm timed out (arm_timeout_ms)
#     "confirm" config["require_confirm"] and no fresh landed / low-altitude /
#               winch-down confirmation (confirm(); ages out after confirm_max_age_ms)
#     "supply"  supply not healthy (set_supply)
#     "link"    config["require_link"] and the flight-controller link is down (set_link)
#   The arm is used up by a release: every release needs its own arm().
# * Verified motion: RELEASING succeeds only when the open switch is on and the lock
#   switch off within release_timeout_ms, else FAULT "jam" (commanded back to lock).
#   CLOSING likewise within close_timeout_ms, else FAULT "jam_close". Both switches on
#   for switch_fault_ms is FAULT "switches".
# * A release already in motion is not aborted by link loss or supply loss: stopping
#   a bolt halfway is worse than finishing the release the interlocks allowed.
# * Slip: the payload disappearing while LOCKED/ARMED (it was not released), or the lock
#   switch dropping for switch_fault_ms, disarms and re-drives the bolt (CLOSING,
#   "regrab"); more than max_regrabs of those without a clear_fault() is FAULT
#   "regrab_limit". `motion_seq` counts motions started, so a pulse-driven actuator
#   (an EPM) knows to pulse again although the command stays "lock".
# * FAULT is left only by clear_fault(), into CLOSING (never into open).
# * Times are ticks_ms values (30-bit wrap, as hal.ticks_ms on the ESP32).
from hearth.ticks import PERIOD, ticks_diff

LOCKED = "LOCKED"
ARMED = "ARMED"
RELEASING = "RELEASING"
OPEN = "OPEN"
CLOSING = "CLOSING"
FAULT = "FAULT"

CMD_LOCK = "lock"
CMD_OPEN = "open"


DEFAULTS = {
    "arm_timeout_ms": 10000,
    "release_timeout_ms": 1500,
    "close_timeout_ms": 1500,
    "auto_close_ms": 3000,  # 0: stay OPEN until grab()
    "require_confirm": False,
    "confirm_max_age_ms": 2000,  # 0: a confirmation stays valid until confirm(now, False)
    "require_link": True,
    "sources": ("mavlink", "host"),
    "switch_fault_ms": 300,
    "max_regrabs": 3,
    "events": 16,
}


class Latch:
    # gate: None, or a function gate(now, action) -> None (go ahead) or a refusal reason,
    # the interlocks of whoever embeds the latch (the board's supervisor state). Asked
    # with "arm" before the latch's own arm checks, "armed" once it armed (a refusal
    # then disarms again) and "release" after the latch's own release checks pass.
    def __init__(self, config=None, gate=None):
        from hearth.options import merge  # construction only: the module leaves after boot
        cfg = merge(DEFAULTS, config, "latch")
        self.gate = gate
        for k in ("release_timeout_ms", "close_timeout_ms", "arm_timeout_ms", "switch_fault_ms"):
            if not 0 < cfg[k] < PERIOD // 2:
                raise ValueError("%s out of range" % k)
        self.cfg = cfg
        self.state = CLOSING
        self.why = "boot"
        self.fault = None
        self.cmd = CMD_LOCK
        self._t = None  # time the state was entered; None until the first step/call
        self._arm_t = 0
        self._hold_open = False
        self.link_ok = False
        self.supply_ok = True
        self._confirm = False
        self._confirm_t = 0
        self.present = None  # payload presence as last seen by step()
        self.locked_sw = False
        self.open_sw = False
        self._both_t = None
        self._lost_t = None
        self.motion_seq = 1  # boot counts as a motion (towards lock)
        self.releases = 0
        self.regrabs = 0
        self.release_source = None
        self.events = []
        self.events_dropped = 0

    # ---- events --------------------------------------------------------------
    def _event(self, now, kind, a=None, b=None):
        if len(self.events) >= self.cfg["events"]:
            self.events.pop(0)
            self.events_dropped += 1
        self.events.append((now, kind, a, b))

    def pop_event(self):
        if self.events:
            return self.events.pop(0)
        return None

    def _enter(self, now, state, why):
        self.state = state
        self.why = why
        self._t = now
        self._lost_t = None
        if state in (RELEASING, CLOSING):
            self.motion_seq += 1
        if state != OPEN:
            self._hold_open = False
        self.cmd = CMD_OPEN if state in (RELEASING, OPEN) else CMD_LOCK
        self._event(now, "state", state, why)

    def _to_fault(self, now, reason):
        self.fault = reason
        self._enter(now, FAULT, reason)

    def _elapsed(self, now):
        if self._t is None:
            self._t = now
        return ticks_diff(now, self._t)

    # ---- inputs from the shell -------------------------------------------------
    def set_link(self, ok, now=0):
        ok = bool(ok)
        if ok != self.link_ok:
            self.link_ok = ok
            self._event(now, "link", ok)

    def set_supply(self, ok, now=0):
        ok = bool(ok)
        if ok != self.supply_ok:
            self.supply_ok = ok
            self._event(now, "supply", ok)

    def confirm(self, now, ok=True):
        # Landed / low-altitude / winch-down confirmation (only needed when
        # config["require_confirm"]); must be refreshed within confirm_max_age_ms.
        self._confirm = bool(ok)
        self._confirm_t = now

    def _confirmed(self, now):
        if not self._confirm:
            return False
        age = self.cfg["confirm_max_age_ms"]
        return age <= 0 or ticks_diff(now, self._confirm_t) <= age

    def set_fault(self, now, reason):
        # An external fault (actuator driver trip, supervisor): lock and stay locked.
        if self.state != FAULT:
            self._to_fault(now, reason)

    # ---- commands ------------------------------------------------------------
    def arm(self, now):
        gate = self.gate
        if gate is not None:
            why = gate(now, "arm")
            if why is not None:
                return False, why
        st = self.state
        if st == FAULT:
            return False, "fault"
        if st in (RELEASING, CLOSING):
            return False, "busy"
        if st == OPEN:
            return False, "open"
        if not self.supply_ok:
            return False, "supply"
        if self.cfg["require_link"] and not self.link_ok:
            return False, "link"
        self._arm_t = now
        if st == LOCKED:
            self._enter(now, ARMED, "arm")
        if gate is not None:
            why = gate(now, "armed")
            if why is not None:
                self.disarm(now)
                return False, why
        return True, "ok"

    def disarm(self, now=0):
        if self.state == ARMED:
            self._enter(now, LOCKED, "disarm")

    def armed_left_ms(self, now):
        if self.state != ARMED:
            return 0
        left = self.cfg["arm_timeout_ms"] - ticks_diff(now, self._arm_t)
        return left if left > 0 else 0

    def check_release(self, now, source):
        # The first failed interlock's name, or None when a release would go ahead.
        st = self.state
        if st == FAULT:
            return "fault"
        if source not in self.cfg["sources"]:
            return "source"
        if st in (RELEASING, CLOSING):
            return "busy"
        if st == OPEN:
            return "open"
        if st != ARMED or self.armed_left_ms(now) <= 0:
            return "armed"
        if self.cfg["require_confirm"] and not self._confirmed(now):
            return "confirm"
        if not self.supply_ok:
            return "supply"
        if self.cfg["require_link"] and not self.link_ok:
            return "link"
        if self.gate is not None:
            return self.gate(now, "release")
        return None

    def request_release(self, now, source):
        reason = self.check_release(now, source)
        if reason is not None:
            self._event(now, "denied", reason, source)
            return False, reason
        self.release_source = source
        self._enter(now, RELEASING, source)
        return True, "ok"

    def grab(self, now):
        st = self.state
        if st == FAULT:
            return False, "fault"
        if st == RELEASING:
            return False, "busy"
        if st == CLOSING:
            return True, "in_progress"
        if st == OPEN:
            self._enter(now, CLOSING, "grab")
            return True, "ok"
        self.disarm(now)
        return True, "locked"

    def hold(self, now=0):
        # Stay where we are: disarm; in OPEN, suspend auto-close until grab().
        st = self.state
        if st == FAULT:
            return False, "fault"
        if st in (RELEASING, CLOSING):
            return False, "busy"
        if st == OPEN:
            self._hold_open = True
            return True, "open"
        self.disarm(now)
        return True, "locked"

    def clear_fault(self, now):
        if self.state != FAULT:
            return False, "no_fault"
        self.regrabs = 0
        self._enter(now, CLOSING, "clear")
        return True, "ok"

    def _regrab(self, now, why):
        self.regrabs += 1
        if self.regrabs > self.cfg["max_regrabs"]:
            self._to_fault(now, "regrab_limit")
        else:
            self._enter(now, CLOSING, why)

    # ---- the step --------------------------------------------------------------
    def step(self, now, bolt_locked_sw, bolt_open_sw, payload_present):
        locked = bool(bolt_locked_sw)
        opened = bool(bolt_open_sw)
        present = bool(payload_present)
        self.locked_sw = locked
        self.open_sw = opened
        elapsed = self._elapsed(now)
        st = self.state
        sw_ms = self.cfg["switch_fault_ms"]

        if present != self.present:
            was = self.present
            self.present = present
            self._event(now, "payload", present)
            if was and not present and st in (LOCKED, ARMED):
                self._event(now, "slip")
                self._regrab(now, "slip")
                return self.cmd

        if locked and opened:
            if self._both_t is None:
                self._both_t = now
            elif ticks_diff(now, self._both_t) >= sw_ms and st != FAULT:
                self._to_fault(now, "switches")
                return self.cmd
        else:
            self._both_t = None

        if st == LOCKED or st == ARMED:
            if not locked:
                if self._lost_t is None:
                    self._lost_t = now
                elif ticks_diff(now, self._lost_t) >= sw_ms:
                    self._event(now, "lock_lost")
                    self._regrab(now, "lock_lost")
                    return self.cmd
            else:
                self._lost_t = None
            if st == ARMED:
                if self.armed_left_ms(now) <= 0:
                    self._enter(now, LOCKED, "arm_timeout")
                elif not self.supply_ok:
                    self._enter(now, LOCKED, "supply")
                elif self.cfg["require_link"] and not self.link_ok:
                    self._enter(now, LOCKED, "link")
        elif st == RELEASING:
            if opened and not locked:
                self.releases += 1
                self._enter(now, OPEN, "released")
            elif elapsed >= self.cfg["release_timeout_ms"]:
                self._to_fault(now, "jam")
        elif st == OPEN:
            if not opened:
                if self._lost_t is None:
                    self._lost_t = now
                elif ticks_diff(now, self._lost_t) >= sw_ms:
                    self._enter(now, CLOSING, "open_lost")
                    return self.cmd
            else:
                self._lost_t = None
            ac = self.cfg["auto_close_ms"]
            if ac > 0 and not self._hold_open and elapsed >= ac:
                self._enter(now, CLOSING, "auto_close")
        elif st == CLOSING:
            if locked and not opened:
                self._enter(now, LOCKED, "locked")
            elif elapsed >= self.cfg["close_timeout_ms"]:
                self._to_fault(now, "jam_close")
        return self.cmd

    def status(self, now=None):
        return {
            "state": self.state,
            "why": self.why,
            "cmd": self.cmd,
            "fault": self.fault,
            "armed_ms": self.armed_left_ms(now) if now is not None else (1 if self.state == ARMED else 0),
            "payload": self.present,
            "locked_sw": self.locked_sw,
            "open_sw": self.open_sw,
            "link": self.link_ok,
            "supply": self.supply_ok,
            "releases": self.releases,
            "regrabs": self.regrabs,
            "motion_seq": self.motion_seq,
            "events_dropped": self.events_dropped,
        }
