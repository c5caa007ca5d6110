# Starts the hearth app, but only on a complete firmware (boot.py checked the
# manifest). An incomplete one (an interrupted flash) stays in the REPL with every
# output safe, and says so. Ctrl-C in the app puts every output safe first.
try:
    from hearth import safe_boot

    _problem = safe_boot.problem
except Exception as e:  # noqa: BLE001 - a half-copied firmware must not start
    _problem = "boot check unavailable: %r" % (e,)
if _problem:
    print("hearth: INCOMPLETE FIRMWARE (%s): outputs safe, app not started; run `hearth flash`" % _problem)
else:
    import hearth.app

    hearth.app.main()
