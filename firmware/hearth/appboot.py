# The boot decision (App.__init__, after hearth/appinit.py built the app and left the
# heap): wait for the supply, let the supervisor decide (recovery or a clean boot), arm
# the watchdog. A module of its own because the decision loads the recovery code, the
# heap's peak of a boot: with appinit's code gone by then there is ~4 KB more room.
# Forgotten once done.
import gc

from hearth import hal
from hearth.app import forget


def boot(self):
    common = self.config["common"]
    # Let the power monitor see the supply before deciding anything: recovery
    # records are only written, and the journal only erased, with power good.
    power_ok = True
    if self.power is not None:
        t0 = hal.ticks_ms()
        while not self.power.ok and hal.ticks_diff(hal.ticks_ms(), t0) < 500:
            self.power.step(hal.ticks_ms())
            hal.sleep_ms(common["tick_ms"])
        power_ok = self.power.ok
    gc.collect()  # the recovery code loads next, into the holes this leaves
    self.sup.boot(hal.ticks_ms(), power_ok)
    forget("hearth.runtime.recovery", "hearth.runtime.journalmount")  # the boot decision is made
    if self.reset_cause == "wdt":
        # The watchdog reset us: a stuck loop. Logged (the state it was in comes
        # from the journal's snapshot); the board itself stays SAFE/RECOVERY.
        self.faults.add("WDT_RESET", hal.ticks_ms(), {"boots": self.sup.boots})
    self.wdt = hal.Watchdog(common["watchdog_ms"])
    self._maint_ms = common["journal_maintain_ms"]
    self._last_maint = hal.ticks_ms()
