"""Benchmarks (`make bench`, bench/run.py): each measured against its baseline in the same run."""

from __future__ import annotations

import sys


def help_if_asked(doc: str | None) -> None:
    """`python -m bench.NAME --help` prints what NAME measures and runs nothing: most of
    these take minutes and start virtual boards."""
    if {"-h", "--help"} & set(sys.argv[1:]):
        print((doc or "").strip() or "no description")
        print("\nRun: python -m bench.run [NAME ...] (writes docs/benchmarks.md), or python -m "
              "bench.NAME alone (prints its section, writes bench/results/NAME.json).")
        sys.exit(0)
