"""`hearth test --port P`: the firmware's unit tests (tests/firmware) on a board.

The same files CI runs in the unix port: runner.py and the test modules are copied to
/_hearth_test on the board (only what differs, with the flash agent), then each module
runs after a soft reset (a clean heap; boot.py runs, main.py does not) with the board's
own firmware on the import path. On a virtual board the simulated HAL's link to the
host is dropped so the tests get the in-process LocalWorld, as in CI.

A test that prints nothing for `timeout` seconds is interrupted (Ctrl-C), counted as
a timeout, and the run goes on with the next module.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from host_tools.boards import ROOT
from host_tools.deploy.sync import AGENT, _Agent, inventory
from host_tools.sim import MICROPY_PATH, MICROPY_PLANTS
from host_tools.transport.rawrepl import RawRepl, ReplError

FW_TESTS = ROOT / "tests" / "firmware"
BOARD_DIR = "_hearth_test"
# The plant models the tests import as `plants` (host_tools.sim.MICROPY_PATH on the
# host's MICROPYPATH; on the board the package sits next to the tests).
SUPPORT = MICROPY_PLANTS

# /tmp: some tests write scratch files there, as on the unix port.
RUN = """import sys,os
try:os.mkdir('/tmp')
except OSError:pass
for _k in ('_hearth_sim','hearth.hal.sim','hearth.hal','hearth'):
 sys.modules.pop(_k,None)
sys.path.insert(0,'/%s')
sys.argv[:]=['runner',%r]
import runner
"""


@dataclass
class ModuleResult:
    module: str
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    timeout: str | None = None
    crashed: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and self.timeout is None and self.crashed is None


def select_modules(names: tuple[str, ...] = ()) -> list[str]:
    mods = sorted(p.stem for p in FW_TESTS.glob("test_*.py"))
    if names:
        want = {n[:-3] if n.endswith(".py") else n for n in names}
        unknown = want - set(mods)
        if unknown:
            raise ValueError(f"no such firmware test module: {', '.join(sorted(unknown))} (have: {', '.join(mods)})")
        mods = [m for m in mods if m in want]
    return mods


def push_tests(r: RawRepl) -> int:
    """Copy runner.py and every tests/firmware/*.py that differs. -> bytes sent."""
    import hashlib

    have = inventory(r)
    files = {f"{BOARD_DIR}/{p.name}": p.read_bytes() for p in sorted(FW_TESTS.glob("*.py"))}
    for name in SUPPORT:
        sp = Path(MICROPY_PATH) / name
        if sp.is_file():
            files[f"{BOARD_DIR}/{name}"] = sp.read_bytes()
    todo = {k: v for k, v in files.items() if have.get(k) != (len(v), hashlib.sha256(v).hexdigest()[:16])}
    if not todo:
        return 0
    total = sum(len(v) for v in todo.values())
    ag = _Agent(r, lambda *a: None, total, 128, 2, 10.0)
    r.start(AGENT)
    for k, v in todo.items():
        ag.send("W", k, v, hashlib.sha256(v).hexdigest())
    r.write(b"Q\n")
    r.finish()
    return total


def run_module(r: RawRepl, mod: str, timeout: float) -> ModuleResult:
    res = ModuleResult(mod)
    t0 = time.monotonic()
    r.soft_reset_raw()
    r.start(RUN % (BOARD_DIR, mod))
    current: str | None = None
    last = "the module's first test"
    text: list[str] = []
    ended = False
    while True:
        try:
            line = r.read_line(timeout)
        except ReplError:
            res.timeout = f"the test after {last} gave no result within {timeout:g} s"
            r.write(b"\x03")
            try:
                r.finish(5.0)
            except ReplError:
                r.enter()
            break
        if line is None:
            _out, err = r.finish(timeout)
            if err:
                res.crashed = err.decode(errors="replace").strip()[-2000:]
            break
        s = line.decode(errors="replace").rstrip("\r\n")
        m = re.match(r"^(PASS|FAIL) \S+?\.(test_\w+)$", s)
        if m:
            last = m.group(2)
            if current is not None:
                res.failed[current] = "\n".join(text)
            current = None
            text = []
            if m.group(1) == "PASS":
                res.passed.append(m.group(2))
            else:
                current = m.group(2)
        elif s.startswith("END "):
            ended = True
            if current is not None:
                res.failed[current] = "\n".join(text)
                current = None
        else:
            text.append(s)
    if current is not None:
        res.failed[current] = "\n".join(text)
    if not ended and res.timeout is None and res.crashed is None:
        res.crashed = "\n".join(text[-20:]) or "the module ended without a summary"
    res.seconds = time.monotonic() - t0
    return res


def run_tests(port: str, modules: list[str], timeout: float = 30.0,
              on_module: Callable[[ModuleResult], None] | None = None) -> list[ModuleResult]:
    out = []
    with RawRepl.open(port) as r:
        r.enter()
        push_tests(r)
        for mod in modules:
            res = run_module(r, mod, timeout)
            out.append(res)
            if on_module:
                on_module(res)
        r.reset()
    return out


