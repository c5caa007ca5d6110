# Builds and boots the App (App.__init__ calls boot(); app.py's main() then runs it), in
# steps whose code leaves the heap as soon as it is done, so that no step's code sits
# beside the next step's peak:
#   1. hearth/appinit.py: board file, config, console, protocol, journal, supervisor;
#      forgotten before
#   2. the role is built (its construction code, roles/<role>init.py, loads then);
#   3. the boot decision (runtime/recovery.py's decide, App.__init__ calls it), once this
#      module is forgotten too.
import gc

from hearth import hal
from hearth.app import forget


def boot(self, board, config_path, console, role_cls):
    collecting_imports(True)
    try:
        from hearth.appinit import init

        board, role_cls, checked = init(self, board, config_path, console, role_cls)
        init = None  # noqa: F841 - holds appinit's globals: let the module go
        forget("hearth.appinit")
        gc.collect()
        _build(self, board, role_cls, checked)
    finally:
        collecting_imports(False)


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


def _build(self, board, role_cls, checked):
    self.role = None
    if role_cls is not None:
        try:
            section = self.config.get(self.role_name, {})
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
    # Construction helpers: the board's pin map and the config merging are only used to
    # build drivers and controllers (each imports them where it is constructed).
    forget("hearth.pinout", "hearth.options")
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
