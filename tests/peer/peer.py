"""MicroPython's own test tools, run against a virtual board (tests/peer/test_peer.py).

Three suites from the MicroPython tree the faithful interpreter is built from
(host_tools/interp: the pinned v1.28.0, from upstream or the vendored fallback, unpacked
once under build/interp/src):

  * tools/mpremote/tests: shell scripts with .exp files, run as their own
    run-mpremote-tests.sh runs them, with MPREMOTE="python mpremote.py connect <pty>";
  * tests/run-tests.py -t <pty> on a subset, against the same tests run directly on the
    same interpreter (run-tests.py's default unix target, MICROPY_MICROPYTHON = the
    faithful binary with the board's heap);
  * tools/pyboard.py -f cp, board -> host and host -> board.

Differences that come from the port or the way a test reaches the board are listed in
expected.toml beside this file, one reason each; nothing else may differ.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXPECTED = HERE / "expected.toml"


def mpy_tree() -> Path:
    """The MicroPython tree at the pinned release (fetched or unpacked once, cached)."""
    from host_tools.interp import build

    return build.source_tree(log=lambda s: None)


def expected() -> dict:
    with EXPECTED.open("rb") as f:
        return tomllib.load(f)


def full() -> bool:
    """HEARTH_PEER=full (make peer): every test of every suite; else the quick subset."""
    return os.environ.get("HEARTH_PEER") == "full"


# ---- mpremote's suite ----------------------------------------------------------------------
@dataclass
class ScriptResult:
    name: str
    status: str  # OK | FAIL | CRASH, as run-mpremote-tests.sh says
    seconds: float
    diff: str = ""
    output: str = ""


def run_mpremote_script(tree: Path, script: Path, port: str, timeout: float = 300) -> ScriptResult:
    """One tools/mpremote/tests script, exactly as run-mpremote-tests.sh runs it: output
    with CR stripped and the temp dir replaced by ${TMP}, compared with its .exp file."""
    mpremote = tree / "tools" / "mpremote" / "mpremote.py"
    tmp = tempfile.mkdtemp(prefix="peer-mpremote-")
    env = dict(os.environ)
    # The .exp files assume Python's default buffering of mpremote's own prints (behind
    # the board's output, which mpremote flushes): PYTHONUNBUFFERED reorders them.
    env.pop("PYTHONUNBUFFERED", None)
    env.update(MPREMOTE=f"{sys.executable} {mpremote} connect {port}", TMP=tmp)
    start = time.monotonic()
    try:
        proc = subprocess.run(["bash", str(script)], cwd=str(script.parent), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
        out = proc.stdout.decode("utf-8", "replace").replace("\r", "").replace(tmp, "${TMP}")
        crashed = proc.returncode != 0
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace") + "\nTIMEOUT"
        crashed = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.monotonic() - start
    exp = Path(str(script) + ".exp").read_text()
    if crashed:
        return ScriptResult(script.name, "CRASH", seconds, _diff(exp, out), out)
    if out == exp:
        return ScriptResult(script.name, "OK", seconds)
    return ScriptResult(script.name, "FAIL", seconds, _diff(exp, out), out)


def _diff(exp: str, out: str) -> str:
    import difflib

    return "".join(difflib.unified_diff(exp.splitlines(True), out.splitlines(True), "expected", "got", n=1))


def mpremote_scripts(tree: Path) -> list[Path]:
    return sorted((tree / "tools" / "mpremote" / "tests").glob("test_*.sh"))


# ---- run-tests.py --------------------------------------------------------------------------
@dataclass
class RunTestsResult:
    results: dict[str, str]  # test -> pass | fail | skip
    seconds: float
    log: str
    result_dir: Path
    failures: dict[str, str] = field(default_factory=dict)  # test -> diff of .exp/.out

    def count(self, what: str) -> int:
        return sum(1 for r in self.results.values() if r == what)


def cpython_cache() -> Path:
    d = Path(os.environ.get("HEARTH_BUILD_DIR", ROOT / "build")) / "peer" / (
        "cpython-%d.%d.%d" % sys.version_info[:3])
    d.mkdir(parents=True, exist_ok=True)
    return d


def run_tests(tree: Path, target: str | None, tests: list[str], result_dir: Path,
              heap: tuple[str, dict[str, str]] | None = None, jobs: int = 1,
              timeout: float = 900) -> RunTestsResult:
    """tests/run-tests.py on `tests` (paths relative to tests/): on the board behind the
    pty `target`, or (target None) directly on the faithful interpreter with `heap`
    ((-X heapsize value, environment), as the board's)."""
    from host_tools import interp

    tdir = tree / "tests"
    result_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(MICROPY_CPYTHON3=str(HERE / "cpython-cached"), PEER_CPYTHON=sys.executable,
               PEER_CPYTHON_CACHE=str(cpython_cache()))
    env.pop("MICROPYPATH", None)
    args = [sys.executable, "run-tests.py", "-r", str(result_dir), "-j", str(jobs)]
    if target is None:
        size, heap_env = heap or interp.heap_for(None)
        env.update(heap_env)
        env["MICROPY_MICROPYTHON"] = str(interp.binary(build_if_missing=True))
        env.pop("MICROPY_CONSOLE", None)
        args += ["--heapsize", size]
    else:
        args += ["-t", target]
    start = time.monotonic()
    proc = subprocess.run([*args, *tests], cwd=str(tdir), env=env, capture_output=True, text=True,
                          timeout=timeout)
    seconds = time.monotonic() - start
    log = proc.stdout + proc.stderr
    res_file = result_dir / "_results.json"
    if not res_file.is_file():
        raise AssertionError(f"run-tests.py wrote no results (exit {proc.returncode}):\n{log[-3000:]}")
    data = json.loads(res_file.read_text())
    results = {t: r for t, r, *_ in data["results"]}
    failures = {}
    for t, r in results.items():
        if r == "fail":
            base = result_dir / t.replace("/", "_")
            exp = Path(str(base) + ".exp")
            out = Path(str(base) + ".out")
            failures[t] = _diff(exp.read_text("utf-8", "replace") if exp.is_file() else "",
                                out.read_text("utf-8", "replace") if out.is_file() else "")
    return RunTestsResult(results, seconds, log, result_dir, failures)


def run_tests_subset(tree: Path) -> list[str]:
    """The run-tests.py subset: basics/ and extmod/vfs_lfs* (always), and float/ in a
    full run. Not the rest of extmod/: some of its tests need micropython-lib's unittest
    (not in the vendored tree; run-tests.py stops there) and the vfs_posix/select_poll_fd
    ones test the host's filesystem, not the board's."""
    tdir = tree / "tests"
    files = sorted(str(p.relative_to(tdir)) for p in (tdir / "basics").glob("*.py"))
    files += sorted(str(p.relative_to(tdir)) for p in (tdir / "extmod").glob("vfs_lfs*.py"))
    if full():
        files += sorted(str(p.relative_to(tdir)) for p in (tdir / "float").glob("*.py"))
    return files


# ---- pyboard.py --------------------------------------------------------------------------
def pyboard(tree: Path, port: str, *args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(tree / "tools" / "pyboard.py"), "-d", port, *args],
                          cwd=str(cwd), capture_output=True, text=True, timeout=timeout)


def summary(results: dict[str, str]) -> str:
    counts: dict[str, int] = {}
    for r in results.values():
        counts[r] = counts.get(r, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


__all__ = ["RunTestsResult", "ScriptResult", "expected", "full", "mpremote_scripts", "mpy_tree", "pyboard",
           "run_mpremote_script", "run_tests", "run_tests_subset", "summary"]
