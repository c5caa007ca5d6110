# Wires the board file and config into a role and runs the superloop.
#
# One tick, in a fixed order: power monitor (a power-fail makes outputs safe before
# anything else runs), console in (an estop acts in the tick it arrives), console out
# (at most what the wire carries in a tick: never a wait), role, supervisor, journal
# upkeep (at most one erase), a planned garbage collection, watchdog feed. The
# watchdog is fed only at the end of a tick that ran to completion: a stuck role means
# no feed, a reset, and a safe boot. Nothing in a tick waits for the outside world.
import gc
import sys

import hearth
from hearth import hal

CONFIG_PATH = "/config.json"
TYPE_CHECKING = False  # the type checker reads the block below; MicroPython never runs it
if TYPE_CHECKING:
    from typing import Any

    from hearth.runtime.faults import FaultLog
    from hearth.runtime.journal import Journal
    from hearth.runtime.protocol import Protocol
    from hearth.runtime.supervisor import Supervisor
    from hearth.runtime.ticker import Ticker


def forget(*names):
    # Drop modules from sys.modules and from their package, so that their bytecode can
    # be collected once nothing else holds it (their qstrs stay interned). For code
    # that runs at boot only or once in a while: the next import loads it afresh.
    for name in names:
        if sys.modules.pop(name, None) is None:
            continue
        dot = name.rfind(".")
        pkg = sys.modules.get(name[:dot])
        if pkg is not None:
            try:
                delattr(pkg, name[dot + 1:])
            except AttributeError:
                pass


class App:
    # Set by hearth.appinit.init and hearth.appboot (bare annotations compile to nothing in MicroPython).
    problems: list
    build: "str | None"
    board_name: "str | None"
    role_name: "str | None"
    config_path: str
    config: "Any"
    config_hash: str
    reset_cause: str
    ticker: "Ticker"
    proto: "Protocol"
    console: "Any"
    gc_stats: dict
    reset_after_answers: bool
    role: "Any"
    journal: "Journal | None"
    faults: "FaultLog"
    sup: "Supervisor"
    power: "Any"
    wdt: "Any"
    _gc_reserve: int
    _config_cmds: "Any"
    _maint_ms: int
    _last_maint: int

    def __init__(self, board=None, config_path=CONFIG_PATH, console=None, role_cls=None):
        # Boot-only work: hearth/appboot.py (it loads hearth/appinit.py) builds the app,
        # runtime/recovery.py decides the boot; each is forgotten once done.
        from hearth.appboot import boot

        boot(self, board, config_path, console, role_cls)
        boot = None  # noqa: F841 - holds appboot's globals: let the module go
        forget("hearth.appboot")
        # The boot decision loads the recovery code: the heap's peak of a boot, so it
        # comes once the build code has left.
        gc.collect()
        from hearth.runtime.recovery import decide

        decide(self)
        decide = None  # noqa: F841
        forget("hearth.runtime.recovery", "hearth.runtime.journalmount")  # the boot decision is made

    # ---- console commands ------------------------------------------------------------
    def _rare(self, name, args):
        if name[:7] == "config_":
            cc = self._config_cmds
            if cc is None:
                from hearth.runtime.configcmd import ConfigCommands

                cc = self._config_cmds = ConfigCommands(self.config_path, self.config, self.config_hash,
                                                         self.sup, self.reset_later)
            try:
                return getattr(cc, "cmd_" + name[7:])(args)
            finally:
                if not cc.stage:  # nothing staged to keep: forget the commands
                    self._config_cmds = None
                    forget("hearth.runtime.configcmd")
        from hearth.runtime import appcmds

        try:
            return getattr(appcmds, name)(self, args)
        finally:
            forget("hearth.runtime.appcmds", "hearth.runtime.resume", "hearth.runtime.recovery",
                   "hearth.runtime.journalmount")

    def reset_later(self):
        # Reset once this tick's answers are out (a config change that needs a reboot).
        self.reset_after_answers = True

    def cmd_hello(self, args):
        d = self.sup.describe()
        return {
            "fw": hearth.VERSION,
            "proto": hearth.PROTOCOL,
            "board": self.board_name,
            "chip": hal.chip(),
            "role": self.role_name,
            "config_hash": self.config_hash,
            "build": self.build,
            "max_line": self.proto.max_line,
            "reset_cause": self.reset_cause,
            "state": d.get("state"),
            "recovery": d.get("recovery"),
            "problems": self.problems,
        }

    def cmd_status(self, args):
        d = self.sup.describe()
        out = {
            "state": d.get("state"),
            "uptime_ms": hal.ticks_ms(),
            "recovery": d.get("recovery"),
            "last_fault": d.get("last_fault"),
            "supply_mv": self.power.mv if self.power is not None else None,
            "power_ok": self.power.ok if self.power is not None else True,
            "heap_free": gc.mem_free(),
            "gc": self.gc_stats,
            "console": self.console.status(),
            "loop": self.ticker.stats(),
        }
        if self.role is not None:
            out["role"] = self.role.status()
        return out

    def cmd_heap(self, args):
        # What the firmware holds: a collection now, then the live heap (diagnostics and
        # the heap benchmark; a chip's heap is ~112 KiB on an ESP32, 128 KiB on an S3).
        gc.collect()
        return {"live": gc.mem_alloc(), "free": gc.mem_free()}

    def cmd_estop(self, args):
        self.sup.estop(str(args.get("reason", "console")))
        return {"state": self.sup.state}

    # ---- the loop ----------------------------------------------------------------------
    def tick(self):
        now = self.ticker.begin()
        if self.power is not None:
            ev = self.power.step(now)
            if ev == "fail":
                self.sup.power_fail(now)
            elif ev == "restore":
                self.sup.power_restored(now)
        data = self.console.read_available()
        if data:
            for line in self.proto.feed(data):
                self.console.write(line)
            if self.reset_after_answers:
                # A command asked for a reset (a new config applies at boot): outputs
                # safe, let its answer out (bounded), reset.
                self.sup.safe_all()
                self.console.drain(300)
                hal.sleep_ms(20)  # the last FIFO's worth on the wire
                hal.reset()
        # Answers leave in the tick that made them (up to the wire's share of a tick).
        self.console.pump(now)
        if self.role is not None:
            try:
                self.role.tick(now)
            except Exception as e:  # noqa: BLE001 - a role bug is a fault, not a crash
                self.sup.role_exception(e)
        self.sup.tick(now)
        if (self.journal is not None and hal.ticks_diff(now, self._last_maint) >= self._maint_ms
                and self.sup.state not in ("ACTIVE", "POWERFAIL")
                and (self.power is None or self.power.ok)):
            # Erasing stalls the CPU for up to ~400 ms on an ESP32 (code runs from flash):
            # only while idle and powered, never in the middle of a job.
            # One erase at most per tick; more next tick while space is still short.
            if self.journal.maintain(True, max_erases=1) == 0:
                self._last_maint = now
        if gc.mem_free() < self._gc_reserve:
            t0 = hal.ticks_us()
            gc.collect()
            dt = hal.ticks_diff(hal.ticks_us(), t0)
            st = self.gc_stats
            st["collections"] += 1
            st["live"] = gc.mem_alloc()  # what the firmware really holds
            if dt > st["worst_us"]:
                st["worst_us"] = dt
        self.wdt.feed()
        self.ticker.end()

    def run(self):
        while True:
            self.tick()

    def leave(self):
        # Leaving for the REPL: outputs safe first; the watchdog cannot be stopped on
        # an ESP32, so it gets a long timeout for the person (or mpremote) at the REPL.
        self.sup.safe_all()
        try:
            self.wdt = hal.Watchdog(self.config["common"]["repl_watchdog_ms"])
        except Exception:  # noqa: BLE001
            pass


def main(role_cls=None):
    app = None
    try:
        app = App(role_cls=role_cls)
        app.run()
    except KeyboardInterrupt:
        if app is not None:
            app.leave()
        print("hearth: stopped (Ctrl-C); outputs safe; REPL")
    except BaseException as e:
        # A bug in the app itself: outputs safe, and the watchdog keeps its short
        # timeout so the board resets and boots safe.
        if app is not None:
            app.sup.safe_all()
        print("hearth: crashed; outputs safe")
        sys.print_exception(e)
        raise
