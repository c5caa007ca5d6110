"""`hearth`: the host toolkit's verbs, one file per group. Each verb parses, calls a
library module, and reports; what they share (options, exit codes, die/emit, opening a
client) is in common.py.

  board.py    ports, hello, status, estop, reset, call, recovery
  deploy.py   build, flash, image, test, firmware   (deploy_run.py: their progress and reports)
  diag.py     diag (the report, tests, run, heater-test, latch-cycle, mavlink)
  config.py   config
  sim.py      sim, bench
  watch.py    print, monitor
  calibrate.py calibrate pa (pressure-advance K from a printed pattern)

Exit codes: 0 ok, 1 a check failed, 2 usage or connection error.
"""

from __future__ import annotations

import click

from host_tools.cli import board, calibrate, config, deploy, diag, sim, watch


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hearth")
def main() -> None:
    """Build, flash, configure, test and diagnose hearth boards (real or virtual)."""


for _group in (board, deploy, diag, config, sim, watch, calibrate):
    for _cmd in _group.COMMANDS:
        main.add_command(_cmd)
