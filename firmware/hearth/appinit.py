# Builds the App (app.py): board file, config, journal, supervisor, role, power
# monitor, console commands. Runs once at boot; main() then forgets this module, so its
# code does not stay on the heap of a board that runs for months.
import gc
import json

from hearth import hal
from hearth.app import forget
from hearth.runtime.console import Console
from hearth.runtime.protocol import Protocol
from hearth.runtime.ticker import Ticker

BOARD_PATH = "/board.json"


def load_board(path=BOARD_PATH):
    try:
        with open(path) as f:
            return json.load(f), None
    except OSError:
        return {"name": "unknown", "role": None, "chip": hal.chip(), "pins": {}}, "no " + path
    except ValueError:
        return {"name": "unknown", "role": None, "chip": hal.chip(), "pins": {}}, path + " is not valid JSON"


def _build_id():
    try:
        from hearth.manifest import build_id
    except ImportError:
        return None
    return build_id()


def role_class(name):
    if name == "printer":
        from hearth.roles.printer import Printer
        return Printer
    if name == "latch":
        from hearth.roles.latch import Latch
        return Latch
    return None


def collecting_imports(on):
    # While the app is built: a collection before each module that is not loaded yet.
    # Loading a .mpy leaves garbage (the loader's buffers and tables); collected before
    # the next module, the next module's code fills those holes instead of growing the
    # heap past them. Measured (latch, .mpy, 116 KiB heap, everything imported): the
    # largest free block 1.7 KB without, 19.8 KB with; the role then builds where it
    # failed for a 560-byte block. Works through the builtins override that the ESP32
    # port enables (MICROPY_CAN_OVERRIDE_BUILTINS); off again after boot.
    import builtins

    if not on:
        try:
            delattr(builtins, "__import__")
        except AttributeError:
            pass
        return
    orig = builtins.__import__
    import sys

    mods = sys.modules

    def load(name, g=None, loc=None, fromlist=(), level=0):
        m = mods.get(name)
        if m is None or (fromlist and hasattr(m, "__path__") and name + "." + fromlist[0] not in mods):
            gc.collect()  # a module to load (a package's submodule by `from pkg import mod`)
        return orig(name, g, loc, fromlist, level)

    setattr(builtins, "__import__", load)


def init(self, board, config_path, console, role_cls):
    collecting_imports(True)
    try:
        _init(self, board, config_path, console, role_cls)
    finally:
        collecting_imports(False)


def _init(self, board, config_path, console, role_cls):
    self.problems = []
    # Read once: every `hello` re-reading the 5 KB manifest made a hello the
    # largest transient on the heap.
    self.build = _build_id()
    loaded = None
    if board is None:
        loaded, err = load_board()
        if err:
            self.problems.append(err)
        board = loaded
    assert board is not None
    from hearth.safe_boot import wrong_chip

    why = wrong_chip(board)
    wrong_chip = None  # noqa: F841 - holds safe_boot's globals: let the module go
    # Checked (boot.py, main.py) and used: neither stays on the heap, and they leave
    # before the role is built, the largest step of a boot.
    forget("hearth.safe_boot", "hearth.manifest")
    if why:
        # Another chip's pin numbers are other wires here: run no role, touch no pin.
        self.problems.append(why)
        board = {"name": board.get("name"), "role": None, "chip": hal.chip(), "pins": {}}
    if loaded is not None:
        # Read at boot by safe_boot only, or by the host tools: out of the heap before
        # the role is built (the largest step of a boot), ~1 KB of the board file's dict.
        for k in ("description", "safe_outputs", "safe_pwm", "flash", "module", "firmware", "inputs_default"):
            board.pop(k, None)
    self.board_name = board.get("name")  # the board dict itself is not kept (~3 KB)
    self.role_name = board.get("role")
    self.config_path = config_path
    # The config first, on a heap with nothing of the role on it yet: the role's section
    # (hearth/roles/<role>_cfg.py) and the config code are read, checked and forgotten
    # before the role's modules load; the section comes back complete (every default
    # filled in), so the role takes it as it is.
    roles = (self.role_name,) if self.role_name else ()
    from hearth.runtime import config as configmod

    cfg, chash, err = configmod.load(config_path, roles)
    configmod = None  # noqa: F841 - nothing here holds the module: forgotten next
    forget("hearth.runtime.config", "hearth.roles.%s_cfg" % self.role_name)
    checked = role_cls is None  # a built-in role: it takes the checked section as it is
    try:
        if role_cls is None:
            role_cls = role_class(self.role_name)
    except ImportError as e:
        self.problems.append("role %s unavailable: %s" % (self.role_name, e))
    if err:
        self.problems.append(err)
    self.config = cfg
    self.config_hash = chash
    assert cfg is not None
    common = cfg["common"]
    self.reset_cause = hal.reset_cause()
    self.ticker = Ticker(hal, common["tick_ms"])
    self.proto = Protocol()
    self.console = console if console is not None else Console(
        hal, baud=(board.get("console") or {}).get("baud", 115200))
    # Planned collection: at the end of a tick, whenever less than this is free, so
    # that no allocation inside a tick (a status answer is the largest) ever makes
    # MicroPython collect on its own, e.g. in the middle of the power-fail path.
    self._gc_reserve = common["gc_reserve"]
    self.gc_stats = {"collections": 0, "worst_us": 0, "live": 0}
    self.reset_after_answers = False
    self._config_cmds = None
    self.role = None
    from hearth.runtime.supervisor import Supervisor
    from hearth.runtime.journal import Journal
    from hearth.runtime.faults import FaultLog

    self.journal = None
    try:
        self.journal = Journal(hal.Partition("journal"))
        self.journal.mount()
        forget("hearth.runtime.journalmount")  # (a mount from recovery, if needed, loads it again)
        if self.journal.status in ("garbage", "foreign"):
            self.problems.append("journal image is %s: left untouched; `format_journal` erases it"
                                 % self.journal.status)
    except (OSError, ValueError) as e:
        self.problems.append("journal unavailable: %s" % e)
    self.faults = FaultLog(self.journal)
    self.sup = Supervisor(self.journal, self.faults, self.reset_cause)
    if role_cls is not None:
        try:
            section = cfg.get(self.role_name, {})
            self.role = role_cls(board, section, self.sup, True) if checked else role_cls(board, section, self.sup)
        except Exception as e:  # noqa: BLE001 - a broken role must leave a safe, answering board
            self.problems.append("role %s failed to start: %s" % (self.role_name, e))
            self.role = None
    if self.role is not None:
        self.sup.register_safe(self.role.safe)
    # Built: the role's construction code leaves the heap (and its config table, should a
    # partial section have needed its defaults).
    forget("hearth.roles.%s_cfg" % self.role_name, "hearth.roles.%sinit" % self.role_name)
    self.power = _power_monitor(board)
    board = loaded = None  # noqa: F841 - the board file's dict leaves the heap before the boot decision
    _register(self)


def _power_monitor(board):
    from hearth.drivers.power import PowerMonitor
    from hearth.pinout import input_pin

    pins = board.get("pins", {})
    sup = board.get("supply", {})
    adc = hal.Adc(pins["supply_adc"]) if "supply_adc" in pins else None
    good = input_pin(hal, board, "power_good") if "power_good" in pins else None
    if adc is None and good is None:
        return None
    return PowerMonitor(adc=adc, ratio=sup.get("divider", 2.0), pgood=good,
                        fail_mv=sup.get("fail_mv", 4300), restore_mv=sup.get("restore_mv", 4600),
                        restore_ms=sup.get("restore_ms", 100))



def _register(self):
    p = self.proto
    p.register("hello", self.cmd_hello)
    p.register("status", self.cmd_status)
    p.register("heap", self.cmd_heap)
    p.register("estop", self.cmd_estop, writes=True)
    if self.role is not None:
        # (handler, writes), or (handler, writes, True): one handler for several
        # commands, given the command's name (a role's rarely used ones)
        cmds = self.role.commands()
        for name in cmds:
            h = cmds[name]
            p.register(name, h[0], h[1], len(h) > 2 and h[2])
    # Rarely used commands live in modules of their own, imported when one is asked
    # for and forgotten after its answer (runtime/appcmds.py, runtime/configcmd.py):
    # their bytecode is on the heap only while they run. One shared handler; the
    # protocol passes it the command's name.
    for name, writes in (("faults", False), ("stats_reset", True), ("clear", True), ("resume", True),
                         ("discard", True), ("format_journal", True), ("config_get", False),
                         ("config_set", True), ("config_stage", True), ("config_push", True)):
        p.register(name, self._rare, writes, named=True)

