# The app's rarely used console commands, one function each: f(app, args) -> dict.
# Imported by App._rare when one is asked for and forgotten after its answer, so that
# this code is on the heap only while it runs (a stock ESP32's heap is ~112 KiB).
from hearth.runtime.protocol import CommandError


def stats_reset(app, args):
    # Start the loop's worst-tick and overrun figures (and the console's) afresh:
    # a measurement window that leaves boot out.
    app.ticker.reset_stats()
    app.console.stats["worst_write_us"] = 0
    app.gc_stats["worst_us"] = 0
    return {"loop": app.ticker.stats()}


def faults(app, args):
    return {"faults": app.faults.list()}


def clear(app, args):
    # Only a FAULT is cleared. Nothing to clear (SAFE/READY/ACTIVE) is a no-op that
    # says so; RECOVERY and POWERFAIL are not faults. A fault whose cause is still
    # there stays: clearing it would report the board fit while it re-trips.
    sup = app.sup
    st = sup.state
    if st in ("SAFE", "READY", "ACTIVE"):
        return {"state": st, "cleared": False}
    if st != "FAULT":
        raise CommandError("STATE", "nothing to clear: the board is %s (%s)" % (
            st, "resume or discard the interrupted run first" if st == "RECOVERY" else "power is failing"))
    cause = None
    if app.power is not None and not app.power.ok:
        cause = "the supply is still failing"
    fn = getattr(app.role, "fault_cause", None)
    if cause is None and fn is not None:
        cause = fn()
    if cause:
        raise CommandError("STATE", "fault not cleared: %s; fix that, then clear again" % cause)
    return {"state": _sup_call(lambda a: sup.clear(), args), "cleared": True}


def resume(app, args):
    return _sup_call(app.sup.resume, args)


def discard(app, args):
    return _sup_call(app.sup.discard, args)


def format_journal(app, args):
    if args.get("confirm") != "erase":
        raise CommandError("BAD_ARGS", 'format_journal needs {"confirm": "erase"}')
    ok = app.sup.format_journal(app.power is None or app.power.ok)
    if not ok:
        raise CommandError("STATE", "journal not formatted: power not good or journal unavailable")
    # One block erased now, the rest one per tick: `status` shows "empty" when done.
    return {"journal": app.journal.status if app.journal else None}


def _sup_call(fn, args):
    from hearth.runtime.supervisor import SupervisorError

    try:
        return fn(args)
    except SupervisorError as e:
        raise CommandError(e.code, e.message)
