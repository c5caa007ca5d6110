# The boot check (hearth.manifest.check) for firmware on the filesystem, in a ROMFS
# partition (files under /rom) and frozen into MicroPython (checked by version).
import json
import os

import hearth
from hearth import manifest


def _dir():
    base = (os.getenv("HEARTH_TEST_FLASH_DIR") or "/tmp") + "/mf-" + "".join("%02x" % b for b in os.urandom(4))
    for d in (base, base + "/fs", base + "/fs/sub", base + "/rom", base + "/rom/hearth"):
        os.mkdir(d)
    return base


def _put(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _manifest(base, d):
    _put(base + "/fs/manifest.json", json.dumps(d).encode())
    return manifest.check(base + "/fs/manifest.json", base + "/fs/", base + "/rom/")


def test_filesystem_firmware():
    b = _dir()
    _put(b + "/fs/boot.py", b"12345")
    _put(b + "/fs/sub/a.mpy", b"xy")
    files = {"boot.py": [5, "h"], "sub/a.mpy": [2, "h"]}
    assert _manifest(b, {"files": files}) is None
    assert _manifest(b, {"files": dict(files, **{"sub/b.mpy": [1, "h"]})}) == "missing sub/b.mpy"
    assert _manifest(b, {"files": {"boot.py": [4, "h"]}}) == "wrong size: boot.py"
    assert _manifest(b, {"files": {}}).endswith("lists no files")
    assert manifest.check(b + "/fs/none.json", b + "/fs/").startswith("no valid")


def test_romfs_firmware():
    b = _dir()
    _put(b + "/fs/boot.py", b"12345")
    _put(b + "/rom/hearth/app.mpy", b"abc")
    d = {"files": {"boot.py": [5, "h"]}, "rom": {"hearth/app.mpy": [3, "h"]}, "romfs": [100, "h"]}
    where = hearth.__file__
    # hearth itself must come from the ROMFS (not, say, frozen in, which comes first)
    assert _manifest(b, d) == "hearth runs from %s, not from the ROMFS" % where
    hearth.__file__ = b + "/rom/hearth/__init__.mpy"
    try:
        assert _manifest(b, d) is None
        d["rom"]["hearth/journal.mpy"] = [7, "h"]
        assert _manifest(b, d) == "missing ROMFS hearth/journal.mpy"  # an image from another build
        d["rom"] = {"hearth/app.mpy": [4, "h"]}
        assert _manifest(b, d) == "wrong size: ROMFS hearth/app.mpy"
        d["rom"] = {}
        assert _manifest(b, d).endswith("lists no ROMFS files")
        # a hearth folder on the filesystem would be imported instead of /rom
        d["rom"] = {"hearth/app.mpy": [3, "h"]}
        os.mkdir(b + "/fs/hearth")
        assert _manifest(b, d) == "a hearth folder on the filesystem hides the firmware in flash"
    finally:
        hearth.__file__ = where


def test_frozen_firmware():
    b = _dir()
    _put(b + "/fs/boot.py", b"12345")
    d = {"files": {"boot.py": [5, "h"]}, "frozen": 1, "fw": hearth.VERSION}
    assert _manifest(b, d) is None
    d["fw"] = "9.9.9"
    assert _manifest(b, d) == "frozen firmware is %s, not 9.9.9" % hearth.VERSION
    d["fw"] = hearth.VERSION
    os.mkdir(b + "/fs/hearth")
    assert _manifest(b, d) == "a hearth folder on the filesystem hides the firmware in flash"
