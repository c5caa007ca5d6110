# The first step of building the App (hearth/appboot.py runs it): board file, config,
# console, protocol, journal, supervisor. Forgotten before the role is built, so its
# code is off the heap at the boot's later peaks and on a board that runs for months.
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


def init(self, board, config_path, console, role_cls):
    # -> (board, role_cls, checked) for appboot.build
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
    return board, role_cls, checked


