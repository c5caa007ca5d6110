# hearth firmware package. VERSION is what `hello` reports.
VERSION = "0.1.0"
PROTOCOL = 1
# The boot check's verdict (safe_boot.problem), copied here by main.py: the app drops
# safe_boot from the heap, and the REPL probe (`hearth hello` on a stopped app) reads it.
boot_problem = "firmware not checked at boot"
