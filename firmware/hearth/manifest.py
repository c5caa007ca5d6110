# The firmware manifest (/manifest.json), written by `hearth flash` LAST, after every
# file it lists was written and its sha256 checked on the board. A missing or
# unreadable manifest, or a listed file with the wrong size, means the last flash did
# not finish: boot.py then keeps the board safe and main.py does not start the app.
# A firmware run from flash lists its ROMFS files under "rom" (checked under /rom,
# where MicroPython mounts the ROMFS partition) or says "frozen" (checked by version).
# Kept small and independent of the rest of the firmware (json + os only).
import json
import os

PATH = "/manifest.json"


def load(path=PATH):
    # -> dict or None
    try:
        with open(path) as f:
            m = json.load(f)
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) else None


def build_id(path=PATH):
    # The build id `hello` reports ("build"), or None without a complete manifest.
    m = load(path)
    if m is None:
        return None
    b = m.get("build")
    return b if isinstance(b, str) else None


def check(path=PATH, root="/", rom="/rom/"):
    # -> None when the firmware is complete, else a short reason. Cheap enough for
    # every boot: one stat per listed file (sizes, not hashes; the flash verified the
    # hashes before it wrote the manifest).
    m = load(path)
    if m is None:
        return "no valid " + path + " (an interrupted or manual copy?)"
    files = m.get("files")
    if not isinstance(files, dict) or not files:
        return path + " lists no files"
    bad = _sizes(files, root, "")
    if bad:
        return bad
    inrom = m.get("rom")
    if inrom is not None or m.get("frozen"):
        # Firmware in flash (ROMFS at /rom, or frozen): a hearth folder on the
        # filesystem comes first on sys.path and would hide it.
        try:
            os.stat(root + "hearth")
            return "a hearth folder on the filesystem hides the firmware in flash"
        except OSError:
            pass
    if inrom is not None:
        if not isinstance(inrom, dict) or not inrom:
            return path + " lists no ROMFS files"
        bad = _sizes(inrom, rom, "ROMFS ")
        if bad:
            return bad
        # Frozen modules come before /rom on sys.path: the ROMFS must be what runs.
        import hearth

        where = getattr(hearth, "__file__", "")
        if not where.startswith(rom):
            return "hearth runs from %s, not from the ROMFS" % where
    if m.get("frozen"):
        try:
            import hearth

            v = hearth.VERSION
        except (ImportError, AttributeError):
            v = None
        if v != m.get("fw"):
            return "frozen firmware is %s, not %s" % (v, m.get("fw"))
    return None


def _sizes(files, root, what):
    for name in files:
        try:
            size = os.stat(root + name)[6]
        except OSError:
            return "missing " + what + name
        want = files[name]
        if not isinstance(want, list) or size != want[0]:
            return "wrong size: " + what + name
    return None
