"""A labgrid farm on this machine, for tests and benchmarks: labgrid's coordinator and one
exporter with a `RawSerialPort` per virtual board, and a place per board with tags.

Run it inside a network namespace (host_tools.sim.netports.NetNS): the ser2net that
labgrid's exporter starts for each acquired port listens on every interface (its
accepter names no address), which is only acceptable where `lo` is the only interface.
The coordinator listens on 127.0.0.1, the exporter publishes 127.0.0.1 as its host.

labgrid comes from its own venv (host_tools.labgrid: `make labgrid`): its programs are
found beside the labgrid-client hearth uses.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from host_tools.sim.netports import NetPortError, free_port, wait_listening


class LabgridFarm:
    """`boards`: place name -> (console device, tags). `prefix`: the namespace's argv prefix."""

    EXPORTER = "farm1"

    def __init__(self, boards: dict[str, tuple[str, dict[str, str]]], workdir: Path,
                 prefix: list[str] | None = None) -> None:
        self.boards, self.workdir, self.prefix = boards, Path(workdir), prefix or []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.address = ""

    @staticmethod
    def bindir() -> Path:
        from host_tools.labgrid import client_path

        return Path(client_path()).parent

    def exporter_yaml(self) -> str:
        """One group per board, named as its place, with the board's console as a RawSerialPort."""
        return "".join(f"{name}:\n  RawSerialPort:\n    port: {dev}\n    speed: 115200\n"
                       for name, (dev, _) in self.boards.items())

    def _spawn(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        out = open(self.workdir / log, "wb")
        # the coordinator keeps places.yaml in its working folder: ours, not the caller's
        p = subprocess.Popen([*self.prefix, *argv], cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
        out.close()
        self.procs.append(p)
        return p

    def client(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([*self.prefix, str(self.bindir() / "labgrid-client"), "-x", self.address, *args],
                           capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
        if check and r.returncode != 0:
            raise NetPortError(f"labgrid-client {' '.join(args)}: {r.stderr.strip()[-500:]}")
        return r

    def start(self) -> LabgridFarm:
        self.workdir.mkdir(parents=True, exist_ok=True)
        bindir = self.bindir()
        port = free_port(self.prefix)
        self.address = f"127.0.0.1:{port}"
        coord = self._spawn([str(bindir / "labgrid-coordinator"), "-l", self.address], "coordinator.log")
        try:
            wait_listening(port, self.prefix, coord, "labgrid-coordinator", timeout=30)
            conf = self.workdir / "exporter.yaml"
            conf.write_text(self.exporter_yaml())
            self._spawn([str(bindir / "labgrid-exporter"), "-c", self.address, "--name", self.EXPORTER,
                         "--hostname", "127.0.0.1", str(conf)], "exporter.log")
            for name, (_, tags) in self.boards.items():
                self.client("-p", name, "create")
                self.client("-p", name, "add-match", f"{self.EXPORTER}/{name}/NetworkSerialPort")
                if tags:
                    self.client("-p", name, "set-tags", *(f"{k}={v}" for k, v in tags.items()))
            self._wait_exported()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_exported(self, timeout: float = 30.0) -> None:
        """Until the coordinator lists every board's serial port (the exporter is up)."""
        import time

        end = time.monotonic() + timeout
        while True:
            out = self.client("resources").stdout
            if all(f"{self.EXPORTER}/{name}/NetworkSerialPort" in out for name in self.boards):
                return
            if time.monotonic() > end:
                log = (self.workdir / "exporter.log").read_text()[-800:]
                raise NetPortError(f"labgrid's exporter did not publish every port within {timeout} s: {log}")
            time.sleep(0.3)

    def wait_released(self, *names: str, timeout: float = 30.0) -> None:
        """Until the exporter stopped the ser2net of each place (its port is gone from the
        coordinator): after a release it stops it on its own time, and until then that
        ser2net may still have the board's console open. A local client opening the console
        meanwhile (the bench's and tests' wipe over the pty) was seen to get no raw REPL."""
        import time

        from host_tools.labgrid import serial_ports

        end = time.monotonic() + timeout
        while True:
            busy = [sp["path"] for sp in serial_ports(self.client("-v", "resources").stdout)
                    if sp["path"].split("/")[1] in names and (sp.get("params") or {}).get("port")]
            if not busy:
                return
            if time.monotonic() > end:
                raise NetPortError(f"labgrid's exporter still serves {', '.join(busy)} {timeout} s after release")
            time.sleep(0.2)

    def held_by(self, name: str) -> str | None:
        from host_tools.labgrid import parse_places

        for p in parse_places(self.client("-v", "places").stdout):
            if p.name == name:
                return p.acquired
        raise NetPortError(f"no place {name}")

    def stop(self) -> None:
        for p in reversed(self.procs):  # the exporter first: it stops its ser2nets
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []

