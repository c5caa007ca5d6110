"""Bad input at the command line: one clear message, exit code 2, nothing started."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from host_tools.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_every_verb_has_help() -> None:
    r = run("--help")
    assert r.exit_code == 0
    verbs = [ln.split()[0] for ln in r.output.split("Commands:")[1].strip().splitlines() if ln.strip()]
    assert {"sim", "bench", "hello", "status", "flash"} <= set(verbs)
    for v in verbs:
        h = run(v, "--help")
        assert h.exit_code == 0, (v, h.output)
        assert "Usage:" in h.output


def test_unknown_board() -> None:
    r = run("sim", "--board", "toaster")
    assert r.exit_code == 2
    assert "unknown board 'toaster'" in r.output and "latch-esp32" in r.output


def test_state_folder_of_another_board(tmp_path: Path) -> None:
    (tmp_path / "identity.json").write_text('{"board": "latch-esp32", "chip": "esp32"}')
    r = run("sim", "--board", "printer-s3", "--state", str(tmp_path))
    assert r.exit_code == 2
    assert "belongs to board 'latch-esp32'" in r.output


def test_missing_port() -> None:
    r = run("hello", "--port", "/dev/ttyNOPE0")
    assert r.exit_code == 2
    assert "no such port" in r.output


def test_bench_not_running(tmp_path: Path) -> None:
    r = run("bench", str(tmp_path / "bench.sock"), "state")
    assert r.exit_code == 2
    assert "is `hearth sim` running" in r.output


def test_bench_usage_errors(tmp_path: Path) -> None:
    assert run("bench", str(tmp_path / "b.sock"), "power").exit_code == 2
    r = run("bench", str(tmp_path / "b.sock"), "power", "cut-at", "x")
    assert r.exit_code == 2 and "cut-at needs" in r.output


def test_call_rejects_non_object_args() -> None:
    r = run("call", "--port", "/dev/null", "heat", "[1,2]")
    assert r.exit_code == 2 and "must be a JSON object" in r.output
    r = run("call", "--port", "/dev/null", "heat", "{bad")
    assert r.exit_code == 2 and "not valid JSON" in r.output


def test_bench_help_lists_every_fault_and_power_mode() -> None:
    # issue 12: `bench --help` did not say which faults and power modes there are
    from host_tools.sim.plants.latch_world import LatchWorldPlant
    from host_tools.sim.plants.printer import FAULTS

    h = " ".join(run("bench", "--help").output.split())
    for name in (*FAULTS, *LatchWorldPlant.faults, "link_loss"):
        assert name in h, name
    for mode in ("off", "on", "cycle", "fail", "brownout", "cut-at N", "cut-random"):
        assert mode in h, mode


def test_readme_stands_alone_and_fits_100_columns() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "../" not in readme  # nothing outside the repository
    long = [ln for ln in readme.splitlines() if len(ln) > 100]
    assert not long, long
    # every verb it names exists
    import re

    verbs = set(re.findall(r"^\| `([a-z-]+)`", readme, re.M)) | set(re.findall(r"hearth ([a-z]+) ", readme))
    known = set(main.commands)  # type: ignore[attr-defined]
    assert verbs <= known, verbs - known
