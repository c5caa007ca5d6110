# Builds the latch role (roles/latch.py's Latch.__init__): config defaults, drivers from
# the board file, the pure core. Boot-time code in a module of its own: the app forgets
# it once the role is built, so its bytecode is not on the heap of a running board.
from hearth import hal
from hearth.control import gripper as grippercore
from hearth.control import latch as latchcore
from hearth.control import mavlink as mv
from hearth.drivers.switch import Switch
from hearth.options import complete, merge
from hearth.pinout import Pins


def init(self, board, config, sup, checked):
    cfg = config if checked else _section(config)
    if cfg["servo_locked_us"] == cfg["servo_open_us"]:
        raise ValueError("latch.servo_locked_us == servo_open_us")
    if cfg["loadcell_off_g"] >= cfg["loadcell_on_g"]:
        raise ValueError("latch.loadcell_off_g must be below loadcell_on_g")
    self.cfg = cfg
    self.sup = sup
    pins = Pins(hal, board)
    # ---- actuator first: its constructor puts the pin in the safe/locked state.
    # Each driver reads its own keys (from_board): the role only wires.
    act = cfg["actuator"]
    self.actuator_kind = act
    self.servo = None
    self.solenoid = None
    self.epm = None
    if act == "servo":
        from hearth.drivers.servo import Servo

        self.servo = Servo.from_board(pins, cfg)
    elif act == "solenoid":
        from hearth.drivers.solenoid import Solenoid

        self.solenoid = Solenoid.from_board(pins, cfg)
    else:
        from hearth.drivers.solenoid import Epm

        self.epm = Epm.from_board(pins, cfg)
    # ---- inputs
    self.sw_locked = Switch.from_board(pins, "bolt_locked_sw", cfg)
    self.sw_open = Switch.from_board(pins, "bolt_open_sw", cfg)
    pres = cfg["presence"]
    self.sw_payload = None
    if pres in ("switch", "either"):
        self.sw_payload = Switch.from_board(pins, "payload_sw", cfg)
    self.hx = None
    self.hx_presence = None
    if pres in ("loadcell", "either"):
        from hearth.drivers.loadcell import Hx711, Presence  # only boards that weigh

        self.hx = Hx711.from_board(pins, cfg)
        self.hx_presence = Presence.from_board(pins, cfg)
    self.grams = None
    self._hx_t = None
    self.supply_adc = pins.adc("supply_adc") if "supply_adc" in pins.map else None
    self.supply_div = float(board.get("supply", {}).get("divider", 2.0))
    self.supply_mv = None
    self._supply_t = None
    # ---- the pure core
    sources = ("mavlink", "host") if cfg["host_release"] else ("mavlink",)
    self.latch = latchcore.Latch({
        "arm_timeout_ms": cfg["arm_timeout_ms"], "release_timeout_ms": cfg["release_timeout_ms"],
        "close_timeout_ms": cfg["close_timeout_ms"], "auto_close_ms": cfg["auto_close_ms"],
        "require_confirm": cfg["require_confirm"], "confirm_max_age_ms": cfg["confirm_max_age_ms"],
        "require_link": cfg["require_link"], "sources": sources,
        "switch_fault_ms": cfg["switch_fault_ms"], "max_regrabs": cfg["max_regrabs"]}, self._gate)
    self.gripper = grippercore.Gripper(self.latch, {
        "sysid": cfg["sysid"], "compid": cfg["compid"], "fc_sysid": cfg["fc_sysid"],
        "fc_compid": cfg["fc_compid"], "instance": cfg["instance"], "heartbeat_ms": cfg["heartbeat_ms"],
        "fc_timeout_ms": cfg["fc_timeout_ms"]})
    self.parser = mv.Parser()
    self.uart = None
    ml = board.get("mavlink")
    if ml and "mavlink_tx" in pins.map and "mavlink_rx" in pins.map:
        self.uart = hal.Uart(ml.get("uart", 2), ml.get("baud", 57600), pins.map["mavlink_tx"], pins.map["mavlink_rx"])
    self.rx_bytes = 0
    self.tx_bytes = 0
    # ---- supervisor glue
    self._safe_req = False
    self._sup_prev = None
    self._fault_reported = None
    self.held = False
    self.recovered = None  # decoded role_state of the interrupted run, if any
    self._first = True
    self.role_state = sup.role_state
    sup.on_resume = self._on_resume
    self._last_cmd = "lock"


def _section(config):
    # A section that may lack keys (tests, a role built by hand): defaults fill it in.
    from hearth.roles.latch_cfg import SCHEMA  # forgotten with this module once the app is built

    cfg = complete(SCHEMA, config)
    if cfg is None:
        defaults = {}
        for k in SCHEMA:
            defaults[k] = SCHEMA[k][1]
        cfg = merge(defaults, config, "latch")
    return cfg
