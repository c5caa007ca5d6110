# The firmware manifest (/manifest.json), written by `hearth flash` LAST, after every
# file it lists was written and its sha256 checked on the board. A missing or
# unreadable manifest, or a listed file with the wrong size, means the last flash did
# not finish: boot.py then keeps the board safe and main.py does not start the app.
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


def check(path=PATH, root="/"):
    # -> None when the firmware is complete, else a short reason. Cheap enough for
    # every boot: one stat per listed file (sizes, not hashes; the flash verified the
    # hashes before it wrote the manifest).
    m = load(path)
    if m is None:
        return "no valid " + path + " (an interrupted or manual copy?)"
    files = m.get("files")
    if not isinstance(files, dict) or not files:
        return path + " lists no files"
    for name in files:
        try:
            size = os.stat(root + name)[6]
        except OSError:
            return "missing " + name
        want = files[name]
        if not isinstance(want, list) or size != want[0]:
            return "wrong size: " + name
    return None
