# The payload latch role: the thin shell around hearth.control.latch (the state machine)
# and hearth.control.gripper (the MAVLink endpoint).
#
# One tick (app.py calls tick(now_ms) every 10 ms), in a fixed order:
#   1. supervisor first: POWERFAIL or FAULT put the latch in FAULT (commanded lock) and
#      the actuator in its safe state; a safe() call (estop, fault, leaving for the REPL)
#      takes back any "open" the latch had; the supervisor leaving FAULT clears the
#      latch's fault (into CLOSING: verified lock, never open);
#   2. inputs: bolt switches and payload presence (switch and/or HX711), debounced;
#      supply health (supervisor power_ok and the supply ADC, every supply_ms);
#   3. MAVLink in: at most uart_read_max bytes from the UART, decoded, handed to the
#      gripper endpoint;
#   4. latch.step, gripper.step, actuator command (the latch's "lock"/"open");
#   5. MAVLink out: the gripper's queued frames, at most tx_frames per tick;
#   6. reporting: the latch's own faults -> sup.fault (once each), the held payload ->
#      sup.set_held (journaled: a power cut mid-flight boots RECOVERY holding it),
#      role_state bytes for the power-fail snapshot (byte stores only, no allocation).
#
# Supervisor states and the latch:
#   * arming needs the board in SAFE/READY/ACTIVE or RECOVERY: from SAFE an accepted
#     arm makes the board READY; from RECOVERY an accepted arm is the explicit resume
#     (config latch.recovery_arm, default on), checked by on_resume: the latch must be
#     LOCKED (lock switch confirmed) with no fault. Without it, only the console's
#     `resume`/`discard` leave RECOVERY. FAULT and POWERFAIL deny the arm.
#   * a release is also refused ("board") unless the board is READY or ACTIVE.
#   * the latch is never commanded toward open at construction, boot or recovery: the
#     servo's PWM starts with the lock pulse, the solenoid starts off, the EPM pulses
#     "lock" only; the core latch starts in CLOSING (command "lock").
#
# role_state (the role's part of the power-fail snapshot, see runtime/supervisor.py):
#   0 u8 version (1)   1 u8 latch state code (gripper.STATE_CODES)   2 u8 flags
#   (1 payload present, 2 lock switch, 4 open switch, 8 held, 16 FC link, 32 armed)
#   3 u8 fault code (_FAULTS index, 0 none)   4 u16 releases   6 u8 regrabs
#   7 u8 actuator command (0 lock, 1 open)
from hearth import hal
from hearth.control import gripper as grippercore
from hearth.control import latch as latchcore
from hearth.control import mavlink as mv
from hearth.runtime.supervisor import (
    FAULT as SUP_FAULT,
    POWERFAIL as SUP_POWERFAIL,
    READY as SUP_READY,
    ACTIVE as SUP_ACTIVE,
    RECOVERY as SUP_RECOVERY,
    SAFE as SUP_SAFE,
    SupervisorError,
)
from micropython import const

TYPE_CHECKING = False  # the type checker reads the block below; MicroPython never runs it
if TYPE_CHECKING:
    from typing import Any

    from hearth.runtime.supervisor import Supervisor


_EXTERNAL = ("power", "supervisor", "safe")  # latch faults put there by the shell
_FAULTS = ("", "jam", "jam_close", "switches", "regrab_limit", "power", "supervisor", "safe")
_FLAG_PRESENT = const(1)
_FLAG_LOCK_SW = const(2)
_FLAG_OPEN_SW = const(4)
_FLAG_HELD = const(8)
_FLAG_LINK = const(16)
_FLAG_ARMED = const(32)
_CODES = grippercore.STATE_CODES


class Latch:
    name = "latch"

    # Set by hearth/roles/latchinit.py (boot-only code, forgotten once the app is built;
    # bare annotations compile to nothing in MicroPython).
    cfg: dict
    sup: "Supervisor"
    actuator_kind: str
    servo: "Any"
    solenoid: "Any"
    epm: "Any"
    sw_locked: "Any"
    sw_open: "Any"
    sw_payload: "Any"
    hx: "Any"
    hx_presence: "Any"
    grams: "Any"
    _hx_t: "Any"
    supply_adc: "Any"
    supply_div: float
    supply_mv: "Any"
    _supply_t: "Any"
    latch: "latchcore.Latch"
    gripper: "grippercore.Gripper"
    parser: "mv.Parser"
    uart: "Any"
    rx_bytes: int
    tx_bytes: int
    _safe_req: bool
    _sup_prev: "Any"
    _fault_reported: "Any"
    held: bool
    recovered: "Any"
    _first: bool
    role_state: "Any"
    _last_cmd: str

    def __init__(self, board, config, sup, checked=False):
        # checked: config is the section as runtime/config.load gives it (every key,
        # each in bounds), taken as it is; otherwise defaults fill in what it lacks.
        from hearth.roles.latchinit import init

        init(self, board, config, sup, checked)

    # ---- role interface ----------------------------------------------------------------
    def safe(self):
        # Outputs safe (bolt locked / release coil off); the next tick takes back any
        # "open" in the latch. Never raises, never allocates, idempotent.
        self._safe_req = True
        try:
            if self.servo is not None:
                self.servo.safe()
            elif self.solenoid is not None:
                self.solenoid.safe()
            elif self.epm is not None:
                self.epm.safe()
        except Exception:  # noqa: BLE001 - safe() never raises
            pass

    def fault_cause(self):
        # Why a board fault cannot be cleared yet (app cmd_clear), None when it can.
        lt = self.latch
        if lt.locked_sw and lt.open_sw:
            return "both bolt switches still read closed"
        return None

    def _actuate(self, cmd, now):
        self._last_cmd = cmd
        if self.servo is not None:
            self.servo.command(cmd)
        elif self.solenoid is not None:
            self.solenoid.command(cmd, now)
            self.solenoid.step(now)
        elif self.epm is not None:
            self.epm.command(cmd, now, self.latch.motion_seq)
            self.epm.step(now)

    def tick(self, now):
        lt = self.latch
        sup = self.sup
        st = sup.state
        if self._first:
            self._first = False
            if sup.recovery is not None:
                # once, after a recovery boot: the decoder lives with the rare commands
                from hearth.app import forget
                from hearth.roles.latchcmds import decode_role_state

                self.recovered = decode_role_state(self.role_state)
                decode_role_state = None  # noqa: F841 - holds the module's globals
                forget("hearth.roles.latchcmds")
                self.held = bool(sup.flags & 2)
        # 1. supervisor
        if self._safe_req:
            self._safe_req = False
            if lt.state == latchcore.ARMED:
                lt.disarm(now)
            elif lt.cmd == latchcore.CMD_OPEN:
                lt.set_fault(now, "safe")
        if st == SUP_POWERFAIL or st == SUP_FAULT:
            if lt.state != latchcore.FAULT:
                lt.set_fault(now, "power" if st == SUP_POWERFAIL else "supervisor")
        elif lt.state == latchcore.FAULT and (lt.fault in _EXTERNAL or self._sup_prev == SUP_FAULT):
            lt.clear_fault(now)  # into CLOSING: verified lock
            self._fault_reported = None
        self._sup_prev = st
        if st == SUP_POWERFAIL:
            self.safe()
            self._safe_req = False
            self._snapshot()
            return
        # 2. inputs
        locked = self.sw_locked.step(now)
        opened = self.sw_open.step(now)
        present = self._presence(now)
        self._supply(now)
        # 3. MAVLink in
        g = self.gripper
        if self.uart is not None:
            data = self.uart.read(self.cfg["uart_read_max"])
            if data:
                self.rx_bytes += len(data)
                self.parser.feed(data)
            m = self.parser.get()
            while m is not None:
                g.handle(m, now)
                m = self.parser.get()
        # 4. step
        cmd = lt.step(now, locked, opened, present)
        g.step(now)
        self._actuate(cmd, now)
        # 5. MAVLink out
        n = self.cfg["tx_frames"]
        f = g.pop_tx()
        while f is not None:
            if self.uart is not None:
                self.uart.write(f)
                self.tx_bytes += len(f)
            n -= 1
            if n <= 0:
                break
            f = g.pop_tx()
        while lt.pop_event() is not None:  # events are reported through status/MAVLink
            pass
        # 6. reporting
        if lt.state == latchcore.FAULT and lt.fault not in _EXTERNAL and self._fault_reported != lt.fault:
            self._fault_reported = lt.fault
            if st != SUP_FAULT:
                sup.fault("LATCH_" + str(lt.fault).upper(),
                          {"why": lt.why, "lock_sw": locked, "open_sw": opened}, now)
        if present and lt.state in (latchcore.LOCKED, latchcore.ARMED):
            held = True
        elif not present:
            held = False
        else:
            held = self.held
        changed = held != self.held
        self.held = held
        self._snapshot()  # before set_held: its checkpoint records these bytes
        if changed:
            sup.set_held(held, now)

    def _presence(self, now):
        sw = None
        if self.sw_payload is not None:
            sw = self.sw_payload.step(now)
        if self.hx is not None and self.hx_presence is not None:
            if self._hx_t is None or hal.ticks_diff(now, self._hx_t) >= self.cfg["loadcell_ms"]:
                raw = self.hx.read_raw()
                if raw is not None:
                    self._hx_t = now
                    self.grams = None if self.hx.saturated(raw) else self.hx.grams(raw)
            hv = self.hx_presence.step(now, self.grams)
            if sw is None:
                return bool(hv)
            return bool(sw) or bool(hv)
        return bool(sw)

    def _supply(self, now):
        ok = self.sup.power_ok
        if self.supply_adc is not None:
            if self._supply_t is None or hal.ticks_diff(now, self._supply_t) >= self.cfg["supply_ms"]:
                self._supply_t = now
                self.supply_mv = int(self.supply_adc.read_uv() * self.supply_div) // 1000
            if self.supply_mv is not None and self.supply_mv < self.cfg["supply_min_mv"]:
                ok = False
        self.latch.set_supply(ok, now)

    def _snapshot(self):
        rs = self.role_state
        if len(rs) < 8:
            return
        lt = self.latch
        fl = 0
        if lt.present:
            fl |= _FLAG_PRESENT
        if lt.locked_sw:
            fl |= _FLAG_LOCK_SW
        if lt.open_sw:
            fl |= _FLAG_OPEN_SW
        if self.held:
            fl |= _FLAG_HELD
        if lt.link_ok:
            fl |= _FLAG_LINK
        if lt.state == latchcore.ARMED:
            fl |= _FLAG_ARMED
        fc = 0
        if lt.state == latchcore.FAULT:
            for i in range(1, len(_FAULTS)):
                if _FAULTS[i] == lt.fault:
                    fc = i
                    break
        r = lt.releases
        rs[0] = 1
        rs[1] = _CODES[lt.state]
        rs[2] = fl
        rs[3] = fc
        rs[4] = r & 0xFF
        rs[5] = (r >> 8) & 0xFF
        rs[6] = lt.regrabs & 0xFF
        rs[7] = 1 if self._last_cmd == "open" else 0

    # ---- supervisor gate ---------------------------------------------------------------
    def _gate(self, now, action):
        # The core latch's gate (control/latch.py): the board's interlocks on its arm
        # (from MAVLink or the console alike) and on every release.
        sup = self.sup
        st = sup.state
        if action == "release":
            return None if st == SUP_READY or st == SUP_ACTIVE else "board"
        if action == "arm":
            if st == SUP_FAULT:
                return "fault"
            if st == SUP_POWERFAIL:
                return "supply"
            if st == SUP_RECOVERY and not self.cfg["recovery_arm"]:
                return "recovery"
            return None
        # "armed": the board follows the arm (SAFE -> READY; RECOVERY -> the resume)
        try:
            if st == SUP_RECOVERY:
                rec = sup.recovery
                sup.resume(rec["token"] if rec else "0:0")
            elif st == SUP_SAFE:
                sup.ready()
        except SupervisorError:
            return "recovery" if st == SUP_RECOVERY else "board"
        return None

    def _on_resume(self, rec):
        lt = self.latch
        if lt.state not in (latchcore.LOCKED, latchcore.ARMED) or not lt.locked_sw:
            raise SupervisorError("REFUSED", "latch not verified locked (state %s)" % lt.state)

    # ---- console commands ----------------------------------------------------------------
    # The acting ones live in roles/latchcmds.py, loaded for one call (named handlers:
    # the protocol passes the command's name); `latch` (its status) stays here.
    def commands(self):
        c = self._cmd
        return {
            "arm": (c, True, True),
            "disarm": (c, True, True),
            "release": (c, True, True),
            "grab": (c, True, True),
            "hold": (c, True, True),
            "confirm": (c, True, True),
            "latch": (self.cmd_latch, False),
        }

    def _cmd(self, name, args):
        from hearth.app import forget
        from hearth.roles import latchcmds

        try:
            return getattr(latchcmds, name)(self, args)
        finally:
            forget("hearth.roles.latchcmds")

    def cmd_latch(self, args):
        return self.status()

    def status(self):
        lt = self.latch
        now = hal.ticks_ms()
        d = lt.status(now)
        d["actuator"] = self.actuator_kind
        d["held"] = self.held
        d["grams"] = self.grams
        d["supply_mv"] = self.supply_mv
        d["mavlink"] = self.gripper.status()
        d["rx_bytes"] = self.rx_bytes
        d["tx_bytes"] = self.tx_bytes
        d["mav_crc_errors"] = self.parser.crc_errors
        d["recovered"] = self.recovered
        return d
