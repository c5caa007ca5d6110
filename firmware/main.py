# Starts the hearth app, but only on a complete firmware whose board file is for this
# chip (boot.py checked both). Otherwise the board stays in the REPL and says why: an
# incomplete firmware (an interrupted flash) with every output safe, or another chip's
# board file with no pin driven. Ctrl-C in the app puts every output safe first.
try:
    from hearth import safe_boot

    _problem = safe_boot.problem
    del safe_boot  # checked; the app forgets the module (its code leaves the heap)
    import hearth

    hearth.boot_problem = _problem  # the verdict outlives the module: `hearth diag`/flash read it at the REPL
except Exception as e:  # noqa: BLE001 - a half-copied firmware must not start
    _problem = "incomplete firmware: the boot check cannot be loaded (%r)" % (e,)
if _problem:
    print("hearth: app not started: %s; run `hearth flash`" % _problem)
else:
    import hearth.app

    hearth.app.main()
