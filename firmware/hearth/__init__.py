# hearth firmware package. VERSION is what `hello` reports.
VERSION = "0.1.0"
PROTOCOL = 1
