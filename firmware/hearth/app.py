# Wires the board file and config into a role and runs the superloop.
#
# One tick, in a fixed order: power monitor (a power-fail makes outputs safe before
# anything else runs), console in (an estop acts in the tick it arrives), console out
# (at most what the wire carries in a tick: never a wait), role, supervisor, journal
# upkeep (at most one erase), a planned garbage collection, watchdog feed. The
# watchdog is fed only at the end of a tick that ran to completion: a stuck role means
# no feed, a reset, and a safe boot. Nothing in a tick waits for the outside world.
import gc
import json
import sys

import hearth
from hearth import hal
from hearth.runtime import config as configmod
from hearth.runtime.console import Console
from hearth.runtime.protocol import CommandError, Protocol
from hearth.runtime.ticker import Ticker

BOARD_PATH = "/board.json"
CONFIG_PATH = "/config.json"


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


def _role_class(name):
    if name == "printer":
        from hearth.roles.printer import Printer
        return Printer
    if name == "latch":
        from hearth.roles.latch import Latch
        return Latch
    return None


class App:
    def __init__(self, board=None, config_path=CONFIG_PATH, console=None, role_cls=None):
        self.problems = []
        if board is None:
            loaded, err = load_board()
            if err:
                self.problems.append(err)
            board = loaded
        assert board is not None
        from hearth.safe_boot import wrong_chip

        why = wrong_chip(board)
        if why:
            # Another chip's pin numbers are other wires here: run no role, touch no pin.
            self.problems.append(why)
            board = {"name": board.get("name"), "role": None, "chip": hal.chip(), "pins": {}}
        self.board = board
        self.role_name = board.get("role")
        # Import role modules first: they register their config sections.
        try:
            if role_cls is None:
                role_cls = _role_class(self.role_name)
        except ImportError as e:
            self.problems.append("role %s unavailable: %s" % (self.role_name, e))
        self.config_path = config_path
        cfg, chash, err = configmod.load(config_path)
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
            if self.journal.status in ("garbage", "foreign"):
                self.problems.append("journal image is %s: left untouched; `format_journal` erases it"
                                     % self.journal.status)
        except (OSError, ValueError) as e:
            self.problems.append("journal unavailable: %s" % e)
        self.faults = FaultLog(self.journal)
        self.sup = Supervisor(self.journal, self.faults, self.reset_cause)
        if role_cls is not None:
            try:
                self.role = role_cls(board, cfg.get(self.role_name, {}), self.sup)
            except Exception as e:  # noqa: BLE001 - a broken role must leave a safe, answering board
                self.problems.append("role %s failed to start: %s" % (self.role_name, e))
                self.role = None
        if self.role is not None:
            self.sup.register_safe(self.role.safe)
        self.power = self._power_monitor(board)
        self._register()
        # Let the power monitor see the supply before deciding anything: recovery
        # records are only written, and the journal only erased, with power good.
        power_ok = True
        if self.power is not None:
            t0 = hal.ticks_ms()
            while not self.power.ok and hal.ticks_diff(hal.ticks_ms(), t0) < 500:
                self.power.step(hal.ticks_ms())
                hal.sleep_ms(common["tick_ms"])
            power_ok = self.power.ok
        self.sup.boot(hal.ticks_ms(), power_ok)
        if self.reset_cause == "wdt":
            # The watchdog reset us: a stuck loop. Logged (the state it was in comes
            # from the journal's snapshot); the board itself stays SAFE/RECOVERY.
            self.faults.add("WDT_RESET", hal.ticks_ms(), {"boots": self.sup.boots})
        self.wdt = hal.Watchdog(common["watchdog_ms"])
        self._maint_ms = common["journal_maintain_ms"]
        self._last_maint = hal.ticks_ms()

    def _power_monitor(self, board):
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

    # ---- console commands ------------------------------------------------------------
    def _register(self):
        p = self.proto
        p.register("hello", self.cmd_hello)
        p.register("status", self.cmd_status)
        p.register("faults", self.cmd_faults)
        p.register("heap", self.cmd_heap)
        p.register("stats_reset", self.cmd_stats_reset, writes=True)
        p.register("estop", self.cmd_estop, writes=True)
        p.register("clear", self.cmd_clear, writes=True)
        p.register("resume", self.cmd_resume, writes=True)
        p.register("discard", self.cmd_discard, writes=True)
        p.register("format_journal", self.cmd_format_journal, writes=True)
        if self.role is not None:
            for name, (handler, writes) in self.role.commands().items():
                p.register(name, handler, writes)
        # config_get/set/stage/push (runtime/configcmd.py): rarely used, so imported on
        # first use; until then they cost the heap two small closures each.
        for name, writes in (("config_get", False), ("config_set", True), ("config_stage", True),
                             ("config_push", True)):
            p.register(name, self._lazy_config(name), writes)

    def _lazy_config(self, name):
        def handler(args):
            cc = self._config_cmds
            if cc is None:
                from hearth.runtime.configcmd import ConfigCommands

                cc = self._config_cmds = ConfigCommands(self.config_path, self.config, self.config_hash,
                                                         self.sup, self.reset_later)
            return getattr(cc, "cmd_" + name[7:])(args)
        return handler

    def reset_later(self):
        # Reset once this tick's answers are out (a config change that needs a reboot).
        self.reset_after_answers = True

    def cmd_hello(self, args):
        d = self.sup.describe()
        return {
            "fw": hearth.VERSION,
            "proto": hearth.PROTOCOL,
            "board": self.board.get("name"),
            "chip": hal.chip(),
            "role": self.role_name,
            "config_hash": self.config_hash,
            "build": _build_id(),
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

    def cmd_stats_reset(self, args):
        # Start the loop's worst-tick and overrun figures (and the console's) afresh:
        # a measurement window that leaves boot out.
        self.ticker.reset_stats()
        self.console.stats["worst_write_us"] = 0
        self.gc_stats["worst_us"] = 0
        return {"loop": self.ticker.stats()}

    def cmd_faults(self, args):
        return {"faults": self.faults.list()}

    def cmd_estop(self, args):
        self.sup.estop(str(args.get("reason", "console")))
        return {"state": self.sup.state}

    def cmd_clear(self, args):
        # Only a FAULT is cleared. Nothing to clear (SAFE/READY/ACTIVE) is a no-op that
        # says so; RECOVERY and POWERFAIL are not faults. A fault whose cause is still
        # there stays: clearing it would report the board fit while it re-trips.
        st = self.sup.state
        if st in ("SAFE", "READY", "ACTIVE"):
            return {"state": st, "cleared": False}
        if st != "FAULT":
            raise CommandError("STATE", "nothing to clear: the board is %s (%s)" % (
                st, "resume or discard the interrupted run first" if st == "RECOVERY" else "power is failing"))
        cause = None
        if self.power is not None and not self.power.ok:
            cause = "the supply is still failing"
        fn = getattr(self.role, "fault_cause", None)
        if cause is None and fn is not None:
            cause = fn()
        if cause:
            raise CommandError("STATE", "fault not cleared: %s; fix that, then clear again" % cause)
        return {"state": self._sup_call(lambda a: self.sup.clear(), args), "cleared": True}

    def cmd_resume(self, args):
        return self._sup_call(self.sup.resume, args)

    def cmd_discard(self, args):
        return self._sup_call(self.sup.discard, args)

    def cmd_format_journal(self, args):
        if args.get("confirm") != "erase":
            raise CommandError("BAD_ARGS", 'format_journal needs {"confirm": "erase"}')
        ok = self.sup.format_journal(self.power is None or self.power.ok)
        if not ok:
            raise CommandError("STATE", "journal not formatted: power not good or journal unavailable")
        # One block erased now, the rest one per tick: `status` shows "empty" when done.
        return {"journal": self.journal.status if self.journal else None}

    def _sup_call(self, fn, args):
        from hearth.runtime.supervisor import SupervisorError

        try:
            return fn(args)
        except SupervisorError as e:
            raise CommandError(e.code, e.message)

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
