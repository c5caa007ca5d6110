# The latch's console commands that act (roles/latch.py): imported for one call and
# forgotten after it (Latch._cmd), so their bytecode is not on the heap of a latch in
# flight, where the flight controller commands it over MAVLink (resident) and the
# console is mostly idle. `self` is the Latch; the functions are named as their commands.
# Also decode_role_state, for diagnostics.
from hearth import hal
from hearth.control.latch import OPEN
from hearth.roles.latch import _FAULTS
from hearth.runtime.protocol import CommandError

_NAMES = ("LOCKED", "ARMED", "RELEASING", "OPEN", "CLOSING", "FAULT")  # gripper.STATE_CODES order


def _refuse(what, why):
    if why == "busy":
        raise CommandError("BUSY", "%s refused: the bolt is moving" % what)
    raise CommandError("STATE", "%s denied: interlock %s" % (what, why))


def arm(self, args):
    now = hal.ticks_ms()
    ok, why = self.latch.arm(now)
    if not ok:
        _refuse("arm", why)
    return {"state": self.latch.state, "armed_ms": self.latch.armed_left_ms(now), "board": self.sup.state}


def disarm(self, args):
    self.latch.disarm(hal.ticks_ms())
    return {"state": self.latch.state}


def release(self, args):
    now = hal.ticks_ms()
    if self.latch.state == OPEN:
        return {"state": OPEN, "result": "open"}
    ok, why = self.latch.request_release(now, "host")
    if not ok:
        _refuse("release", why)
    return {"state": self.latch.state, "result": "in_progress"}


def grab(self, args):
    ok, why = self.latch.grab(hal.ticks_ms())
    if not ok:
        _refuse("grab", why)
    return {"state": self.latch.state, "result": why}


def hold(self, args):
    ok, why = self.latch.hold(hal.ticks_ms())
    if not ok:
        _refuse("hold", why)
    return {"state": self.latch.state, "result": why}


def confirm(self, args):
    ok = args.get("ok", True) if isinstance(args, dict) else True
    if not isinstance(ok, bool):
        raise CommandError("BAD_ARGS", "confirm takes {\"ok\": true|false}")
    self.latch.confirm(hal.ticks_ms(), ok)
    return {"confirmed": ok}


def decode_role_state(buf):
    # role_state bytes (roles/latch.py's header) -> dict, for diagnostics; None if never
    # written.
    if len(buf) < 8 or buf[0] != 1:
        return None
    st = buf[1]
    fl = buf[2]
    fc = buf[3]
    return {
        "latch": _NAMES[st] if st < len(_NAMES) else "?",
        "present": bool(fl & 1),
        "locked_sw": bool(fl & 2),
        "open_sw": bool(fl & 4),
        "held": bool(fl & 8),
        "fc_link": bool(fl & 16),
        "armed": bool(fl & 32),
        "fault": _FAULTS[fc] if 0 < fc < len(_FAULTS) else None,
        "releases": buf[4] | (buf[5] << 8),
        "regrabs": buf[6],
        "cmd": "open" if buf[7] == 1 else "lock",
    }
