# Runs firmware test modules inside MicroPython (the unix port here, a real board
# through `hearth test`). Output, one line each: "PASS name", "FAIL name" followed by
# the MicroPython traceback, then "END passed failed".
#
#   micropython -X heapsize=256K tests/firmware/runner.py test_journal [test_x ...]
#
# A test is a module-level function named test_*; plain assert statements. Each test
# starts with a fresh simulated world.
import sys
import gc


def _run_module(name, only):
    mod = __import__(name)
    names = sorted(n for n in dir(mod) if n.startswith("test_"))
    passed = failed = 0
    for n in names:
        if only and n not in only:
            continue
        try:
            from hearth.hal import sim
            sim.world.reset()
        except ImportError:
            pass
        gc.collect()
        try:
            getattr(mod, n)()
        except Exception as e:  # noqa: BLE001 - a failing test is reported, not fatal
            failed += 1
            print("FAIL %s.%s" % (name, n))
            sys.print_exception(e)
            continue
        passed += 1
        print("PASS %s.%s" % (name, n))
    return passed, failed


def main(argv):
    only = []
    mods = []
    for a in argv:
        if a.startswith("-k="):
            only.append(a[3:])
        else:
            mods.append(a[:-3] if a.endswith(".py") else a)
    p = f = 0
    for m in mods:
        a, b = _run_module(m.split("/")[-1], only)
        p += a
        f += b
    print("END %d %d" % (p, f))


main(sys.argv[1:])
