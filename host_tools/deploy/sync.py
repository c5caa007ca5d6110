"""`hearth flash`: bring a board's filesystem to a build, sending only what differs.

One flash, over the raw REPL:

1. **inventory** (one program, one round trip): the board walks its filesystem and
   prints, for every file, its size and the first 16 hex digits of its sha256
   (computed on the board).
2. if anything differs: a small **agent** program is raw-pasted once and then reads
   commands from the console until told to stop. In order: delete /manifest.json
   (from here on, a reset boots safe and reports an incomplete firmware); delete
   files the new build no longer lists (stale ``hearth/*`` and whatever the old
   manifest listed); write each differing file (boot.py and main.py first) to
   ``path~``, re-read it from flash, compare its full sha256, rename it over ``path``
   (atomic on LittleFS: every file is the old or the new one, never half of each);
3. **commit**: the new manifest goes to ``manifest.json~``; the board checks the full
   sha256 and size of every file it lists and only then renames it to
   /manifest.json. The manifest is always the last thing written.
4. soft reset (boot.py, then main.py), then `hello` must report the new build.

Compression: when the board has `deflate`, the files go as one raw-deflate stream
(4 KiB window, matches across files) that the board inflates file by file, checking
each one's sha256; a single file goes deflated on its own (1 KiB window) when that
saves 10 %.

Wire encoding: raw bytes, except the few a console or tty would act on (0x01-0x03
raw REPL / interrupt, 0x1a/0x1c tty suspend/quit, and the escape 0x10 itself), each
sent as 0x10, byte+0x40. About 4 % overhead on .mpy files, against 33 % for base64
and ~4x for mpremote's repr. Flow control: frames of at most FRAME bytes, each acked
by the board as soon as it has read it (before it writes flash), with at most WINDOW
frames unacked; the frames in flight (FRAME + a 2-byte header each) stay within what the
ESP32's REPL UART holds for a board busy writing flash: its 260-byte stdin ring (filled
by an interrupt that runs from IRAM even while flash is written) and the 128-byte RX
FIFO (ports/esp32/mphalport.c, uart.c). Three frames in flight keep the wire busy over
a USB-UART bridge, whose latency timer holds each small ack ~16 ms.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_tools.deploy.build import KEEP, MANIFEST, BuildError, Manifest, load_build
from host_tools.transport.rawrepl import BoardExecError, RawRepl, ReplError

ESC = 0x10
ZBITS = 10  # deflate window 2**10: 1 KiB of RAM on the board to inflate one file
ABITS = 12  # the archive of many files: 4 KiB window (matches across files)
SPECIAL = bytes((0x01, 0x02, 0x03, 0x10, 0x1A, 0x1C))
FRAME = 126
WINDOW = 3
TMP_SUFFIX = "~"

_ENC = {b: bytes((ESC, b + 0x40)) for b in SPECIAL}
_TABLE = [_ENC.get(i, bytes((i,))) for i in range(256)]


def encode(data: bytes) -> bytes:
    if not any(b in data for b in (b"\x01", b"\x02", b"\x03", b"\x10", b"\x1a", b"\x1c")):
        return data
    return b"".join(_TABLE[b] for b in data)


def compressed(data: bytes) -> bytes | None:
    """Raw deflate of `data` when that saves at least 10 % on the wire, else None."""
    import zlib

    co = zlib.compressobj(9, zlib.DEFLATED, -ZBITS)
    z = co.compress(data) + co.flush()
    return z if len(encode(z)) < 0.9 * len(encode(data)) else None


def decode(data: bytes) -> bytes:
    """What the board's agent does (the reference for tests)."""
    for b in (0x01, 0x02, 0x03, 0x1A, 0x1C):
        data = data.replace(bytes((ESC, b + 0x40)), bytes((b,)))
    return data.replace(bytes((ESC, ESC + 0x40)), bytes((ESC,)))


def frames(enc: bytes, size: int = FRAME) -> list[bytes]:
    """Frames of at most `size` bytes: 2 hex digits of length, then at most `size - 2`
    encoded bytes, never cut inside an escape pair."""
    if not 8 <= size <= 257:
        raise ValueError("frame size must be within 8..257")
    out = []
    i = 0
    n = size - 2
    while i < len(enc):
        j = min(i + n, len(enc))
        if j < len(enc) and enc[j - 1] == ESC:
            j -= 1
        out.append(b"%02x" % (j - i) + enc[i:j])
        i = j
    return out


# Runs on the board: "# platform deflate chip", "@ name role chip" of the installed
# board file ("@ - - -" without one), then "path size sha256[:16]" per file. The chip
# comes from the interpreter (a virtual board's from its simulated world), never from
# the board file: that is what is checked against it.
INVENTORY = b"""import os,sys,hashlib,binascii
try:
 import deflate;_z=1
except ImportError:_z=0
try:
 import _hearth_sim;_c=_hearth_sim.chip
except ImportError:
 _m=sys.implementation._machine;_c='?'
 for _n in ('ESP32S3','ESP32S2','ESP32C3','ESP32C6','ESP32'):
  if _n in _m:_c=_n.lower();break
print('#',sys.platform,_z,_c)
try:
 import json
 with open('/board.json') as f:_b=json.load(f)
 print('@',_b.get('name','-'),_b.get('role') or '-',_b.get('chip','-'))
except Exception:print('@ - - -')
def _h(p,z):
 if z>262144:return '-'
 h=hashlib.sha256();b=bytearray(1024);m=memoryview(b)
 with open(p,'rb') as f:
  while 1:
   n=f.readinto(b)
   if not n:break
   h.update(m[:n])
 return binascii.hexlify(h.digest()).decode()[:16]
def _w(d):
 for e in os.ilistdir(d or '/'):
  p=d+'/'+e[0] if d else e[0]
  if e[1]==0x4000:_w(p)
  else:
   z=os.stat('/'+p)[6];print(p,z,_h('/'+p,z))
_w('')
"""

# Runs on the board until "Q": the receiving end of a flash. Replies: "." per frame
# read, "k\\n" per command done, "e message\\n" on an error (then it stops).
AGENT = b"""import os,sys,hashlib,binascii,json,gc
_r=sys.stdin.buffer.read
_o=sys.stdout.write
_D=set()
def _l():
 b=b''
 while 1:
  c=_r(1)
  if c==b'\\n':return b.decode()
  b+=c
def _h(p):
 h=hashlib.sha256();b=bytearray(1024);m=memoryview(b);z=0
 with open(p,'rb') as f:
  while 1:
   n=f.readinto(b)
   if not n:break
   h.update(m[:n]);z+=n
 return binascii.hexlify(h.digest()).decode(),z
def _md(p):
 i=p.find('/',1)
 while i>0:
  d=p[:i]
  if d not in _D:
   try:os.mkdir(d)
   except OSError:pass
   _D.add(d)
  i=p.find('/',i+1)
def _x(d):
 if 16 in d:
  for a,b in ((b'\\x10A',b'\\x01'),(b'\\x10B',b'\\x02'),(b'\\x10C',b'\\x03'),(b'\\x10Z',b'\\x1a'),(b'\\x10\\\\',b'\\x1c'),(b'\\x10P',b'\\x10')):d=d.replace(a,b)
 return d
def _rx(p,n):
 with open(p,'wb') as f:
  while n>0:
   d=_r(int(_r(2),16));_o('.');d=_x(d);f.write(d);n-=len(d)
def _rm(p):
 try:os.remove(p)
 except OSError:pass
while 1:
 c=_l().split(' ')
 try:
  k=c[0]
  if k=='Q':break
  p='/'+c[1] if len(c)>1 else ''
  if k=='D':_rm(p)
  elif k=='A':
   import deflate
   L=_r(int(c[4]));_o('.')
   _rx('/~a',int(c[2]))
   bad=[];i=0
   gc.collect()
   with open('/~a','rb') as g:
    d=deflate.DeflateIO(g,deflate.RAW,12)
    for _ in range(int(c[3])):
     j=L.find(b'\\n',i);q,n,s=L[i:j].decode().split(' ');i=j+1
     t='/'+q+'~';_md(t);n=int(n);h=hashlib.sha256()
     with open(t,'wb') as f:
      while n>0:
       b=d.read(min(n,512))
       if not b:break
       f.write(b);h.update(b);n-=len(b)
     if n or binascii.hexlify(h.digest()).decode()!=s or _h(t)[0]!=s:_rm(t);bad.append(q)
     else:os.rename(t,'/'+q)
   _rm('/~a')
   if bad:
    _o('e sha256 on the board differs for: %s\\n'%' '.join(bad[:8]));continue
  elif k and k in 'WZMN':
   _md(p);t=p+'~'
   if k in 'WM':_rx(t,int(c[2]))
   else:
    import deflate
    _rx(t+'z',int(c[2]))
    gc.collect()
    with open(t+'z','rb') as g:
     d=deflate.DeflateIO(g,deflate.RAW,10)
     with open(t,'wb') as f:
      while 1:
       b=d.read(512)
       if not b:break
       f.write(b)
    _rm(t+'z')
   if k in 'WZ':
    h,z=_h(t)
    if h!=c[3]:
     _rm(t);_o('e %s: sha256 on the board %s\\n'%(c[1],h));continue
   else:
    with open(t) as f:m=json.load(f)
    bad=[]
    for q in m['files']:
     try:h,z=_h('/'+q)
     except OSError:h,z='missing',0
     if h!=m['files'][q][1] or z!=m['files'][q][0]:bad.append(q)
    if bad:
     _rm(t);_o('e files differ from the manifest: %s\\n'%' '.join(bad[:8]));continue
   os.rename(t,p)
  _o('k\\n')
 except Exception as e:
  _o('e %s %r\\n'%(k,e))
"""


class FlashError(Exception):
    """A flash did not complete. `code` 1: the board or a check failed; 2: usage or a
    lost connection (the board stopped answering mid-flash)."""

    def __init__(self, msg: str, code: int = 1) -> None:
        super().__init__(msg)
        self.code = code


@dataclass
class FlashResult:
    port: str
    board: str
    build: str
    ok: bool = False
    message: str = ""
    unchanged: bool = False
    sent_files: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    payload_bytes: int = 0  # file bytes that had to move
    sent_bytes: int = 0  # the same after compression (before the wire encoding)
    wire_bytes: int = 0  # bytes actually written to the wire (encoding, framing, programs)
    seconds: float = 0.0
    hello: dict[str, Any] = field(default_factory=dict)
    code: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "port": self.port, "board": self.board, "build": self.build, "ok": self.ok,
            "message": self.message, "unchanged": self.unchanged, "sent_files": self.sent_files,
            "removed": self.removed, "payload_bytes": self.payload_bytes, "sent_bytes": self.sent_bytes, "wire_bytes": self.wire_bytes,
            "seconds": round(self.seconds, 3), "hello": self.hello, "exit_code": self.code,
        }


Progress = Callable[[str, int, int], None]  # (phase, done_bytes, total_bytes)


def _noprogress(phase: str, done: int, total: int) -> None:
    pass


def inventory(r: RawRepl, timeout: float = 30.0) -> dict[str, tuple[int, str]]:
    """{path: (size, sha256[:16])} of every file on the board; r.platform is set too."""
    out = r.run(INVENTORY, timeout)
    files: dict[str, tuple[int, str]] = {}
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("# "):
            head = line[2:].split()
            r.platform = head[0] if head else ""
            r.deflate = len(head) > 1 and head[1] == "1"
            r.chip = head[2] if len(head) > 2 and head[2] != "?" else None
            continue
        if line.startswith("@ "):
            b = line[2:].split()
            if len(b) == 3 and b[0] != "-":
                r.installed = {"name": b[0], "role": None if b[1] == "-" else b[1], "chip": b[2]}
            continue
        parts = line.strip().rsplit(" ", 2)
        if len(parts) == 3 and parts[1].isdigit():
            files[parts[0]] = (int(parts[1]), parts[2])
    return files


def board_mismatch(want: dict[str, Any], chip: str | None, installed: dict[str, Any] | None) -> str | None:
    """Why board file `want` must not go to a board whose chip is `chip` (None:
    unknown) and whose installed board file is `installed` (None: none), or None."""
    name, wchip, wrole = want.get("name"), want.get("chip"), want.get("role")
    inst = installed or {}
    own = f" (its board file: {inst['name']}, role {inst.get('role')})" if inst.get("name") else ""
    fix = f"flash its own board file (`hearth flash --board {inst['name']}`)" if inst.get("name") else \
        "pick the board file for its chip (`ls boards/`)"
    if chip and wchip and chip != wchip:
        return (f"refused: this board is an {chip}{own}, {name} is a board file for an {wchip}; its pin numbers "
                f"are other wires here. Nothing was written: {fix}, or pass --force")
    if inst.get("role") and wrole and inst["role"] != wrole:
        return (f"refused: this board is a {inst['role']} board{own}, {name} is a {wrole} board file. "
                f"Nothing was written: {fix}, or pass --force to change its role")
    return None


def plan(man: Manifest, board_files: dict[str, tuple[int, str]], old: Manifest | None,
         manifest_bytes: bytes) -> tuple[list[str], list[str], list[str], bool]:
    """-> (files to send in order, keep-files to send, files to remove, manifest needs writing)."""
    send = [p for p in man.order() if board_files.get(p) != (man.files[p][0], man.files[p][1][:16])]
    keep = [p for p in sorted(man.keep) if p not in board_files]
    listed = set(man.files) | set(man.keep) | {MANIFEST}
    remove = []
    for p in sorted(board_files):
        if p in listed:
            continue
        tmp = p.endswith((TMP_SUFFIX, TMP_SUFFIX + "z")) or p == TMP_SUFFIX + "a"  # left by an interrupted flash
        stale = p.startswith("hearth/") or tmp or (old is not None and p in old.files)
        if stale and p not in KEEP:
            remove.append(p)
    mh = hashlib.sha256(manifest_bytes).hexdigest()[:16]
    needs_manifest = bool(send or remove) or board_files.get(MANIFEST) != (len(manifest_bytes), mh)
    return send, keep, remove, needs_manifest


class _Agent:
    def __init__(self, r: RawRepl, progress: Progress, total: int, frame: int, window: int,
                 timeout: float) -> None:
        self.r, self.progress, self.total = r, progress, total
        self.frame, self.window, self.timeout = frame, window, timeout
        self.done = 0

    def _reply(self, what: str, timeout: float | None = None) -> None:
        line = self.r.read_until(b"\n", timeout or self.timeout, f"answer to {what}")
        line = line.lstrip(b".").strip()
        if line == b"k":
            return
        if line.startswith(b"e"):
            raise FlashError(f"{self.r.name}: the board failed {what}: {line[1:].decode(errors='replace').strip()}")
        raise FlashError(f"{self.r.name}: unexpected answer to {what}: {line[-200:]!r}")

    def command(self, line: str, timeout: float | None = None) -> None:
        self.r.write(line.encode() + b"\n")
        self._reply(line.split(" ")[0] + " " + line.split(" ")[1] if " " in line else line, timeout)

    def send(self, kind: str, path: str, data: bytes, sha: str | None = None, timeout: float | None = None) -> None:
        """W: a file (Z: the same, deflated; `data` is then the compressed bytes); M: the manifest."""
        head = f"{kind} {path} {len(data)}" + (f" {sha}" if sha else "")
        self.r.write(head.encode() + b"\n")
        self._frames(path, data)
        self._reply(f"writing {path}", timeout)

    def send_archive(self, archive: bytes, count: int, listing: str, timeout: float) -> None:
        """A: `count` files as one deflate stream; `listing` has a "path size sha256" line each."""
        lb = listing.encode()
        # The board reads the listing as one object and parses a line per file as it goes:
        # read line by line, its ~40 entries lay themselves every 1-2 KiB across a 136 KiB
        # heap, and the 4 KiB inflate window found no room (MemoryError with 100 KiB free).
        self.r.write(f"A ~a {len(archive)} {count} {len(lb)}\n".encode())
        # the listing is paced like data (a board's receive buffer is 256 bytes), then acked
        for i in range(0, len(lb), self.frame):
            self.r.write(lb[i : i + self.frame])
            if i + self.frame < len(lb):
                time.sleep(self.frame / 11520 / 2)
        self._ack("archive listing")
        self._frames("archive", archive)
        self._reply("unpacking the archive", timeout)

    def _frames(self, path: str, data: bytes) -> None:
        fr = frames(encode(data), self.frame)
        sizes = _raw_sizes(fr)
        unacked = 0
        for i, f in enumerate(fr):
            while unacked >= self.window:
                self._ack(path)
                unacked -= 1
            self.r.write(f)
            unacked += 1
            self.done += sizes[i]
            self.progress("send", self.done, self.total)
        while unacked:
            self._ack(path)
            unacked -= 1

    def _ack(self, path: str) -> None:
        c = self.r.read_exact(1, self.timeout)
        if c == b".":
            return
        rest = c + self.r.drain(0.2, 1.0)
        if c == b"e":
            raise FlashError(f"{self.r.name}: the board failed writing {path}: {rest[1:].decode(errors='replace').strip()}")
        raise FlashError(
            f"{self.r.name}: the board stopped taking {path} mid-transfer (reset or power loss?): "
            f"{rest[:200]!r}. It boots safe with an incomplete firmware; run `hearth flash` again.", 2
        )


def _raw_sizes(fr: list[bytes]) -> list[int]:
    out = []
    for f in fr:
        body = f[2:]
        out.append(len(body) - body.count(bytes((ESC,))))
    return out


Resolver = Callable[[str], Path]  # board's sys.platform ("esp32", "linux" = virtual) -> build folder


def flash_build(build: Path | Resolver, port: str, progress: Progress = _noprogress, frame: int = FRAME,
                window: int = WINDOW, timeout: float = 10.0, check_hello: bool = True,
                baud: int = 115200, compress: bool = True, force: bool = False) -> FlashResult:
    """Flash a build folder (or the one `build(platform)` names once the board said
    what it is) to the board on `port`. Raises nothing: see `.ok` and `.code`.
    A board file for another chip, or another role than the installed one, is
    refused before anything is written unless `force`."""
    t0 = time.monotonic()
    res = FlashResult(port, "?", "?")
    try:
        r = RawRepl.open(port, baud)
    except Exception as e:  # noqa: BLE001 - PortError and serial errors alike
        res.message, res.code = str(e), 2
        return res
    try:
        progress("connect", 0, 0)
        try:
            r.enter()
            # A clean interpreter before the agent is compiled: the app is not in RAM
            # (boot.py runs, main.py does not), and the working directory is / again.
            r.soft_reset_raw(max(timeout, 10.0))
        except ReplError as e:
            raise FlashError(str(e), 2) from e
        progress("inventory", 0, 0)
        try:
            board_files = inventory(r)
        except BoardExecError as e:
            raise FlashError(f"{r.name}: listing the board's files failed: {e}") from e
        build_dir = build if isinstance(build, Path) else build(r.platform)
        try:
            man = load_build(build_dir)
        except BuildError as e:
            raise FlashError(str(e), 2) from e
        res.board, res.build = man.board, man.build
        why = board_mismatch(_board_file(build_dir, man.board), r.chip, r.installed)
        if why and not force:
            try:
                r.reset()  # nothing was written: the app the board had runs again
            except ReplError:
                pass
            raise FlashError(why)
        _flash(r, build_dir, man, board_files, res, progress, frame, window, timeout, compress)
        if check_hello:
            progress("hello", res.payload_bytes, res.payload_bytes)
            r.close()
            _check_hello(port, man, res)
        res.ok = True
    except FlashError as e:
        res.message, res.code = str(e), e.code
    except ReplError as e:
        # the board stopped answering (reset, power loss, cable): a connection error
        res.message = f"{e}. If the board reset or lost power mid-flash it boots safe (incomplete firmware): run `hearth flash` again."
        res.code = 2
    except (BuildError, OSError) as e:
        res.message, res.code = str(e), 2
    finally:
        if not res.ok and not res.code:
            res.code = 1
        res.wire_bytes = r.wire_out
        r.close()
        res.seconds = time.monotonic() - t0
    return res


def _flash(r: RawRepl, build_dir: Path, man: Manifest, board_files: dict[str, tuple[int, str]],
           res: FlashResult, progress: Progress, frame: int, window: int, timeout: float, compress: bool) -> None:
    old = None
    mbytes = man.to_json()
    same = board_files.get(MANIFEST) == (len(mbytes), hashlib.sha256(mbytes).hexdigest()[:16])
    if MANIFEST in board_files and not same:  # the old list tells what to remove
        try:
            old = Manifest.from_json(r.run(b"print(open('/manifest.json').read())", timeout))
        except (BuildError, BoardExecError):
            old = None
    send, keep, remove, needs_manifest = plan(man, board_files, old, mbytes)
    res.payload_bytes = sum(man.files[p][0] for p in send) + sum(man.keep[p][0] for p in keep) + len(mbytes) * needs_manifest
    payloads: dict[str, tuple[str, bytes]] = {}
    archive: bytes | None = None
    todo = [*send, *keep]
    shas = {**{p: h for p, (_, h) in man.files.items()}, **{p: h for p, (_, h) in man.keep.items()}}
    if compress and r.deflate and len(todo) > 1:
        # One deflate stream for all files: matches across files, ~8 % fewer bytes than per file.
        import zlib

        co = zlib.compressobj(9, zlib.DEFLATED, -ABITS)
        archive = b"".join(co.compress((build_dir / p).read_bytes()) for p in todo) + co.flush()
    else:
        for p in todo:
            data = (build_dir / p).read_bytes()
            z = compressed(data) if (compress and r.deflate) else None
            payloads[p] = ("Z", z) if z is not None else ("W", data)
    res.sent_bytes = (len(archive) if archive else 0) + sum(len(d) for _, d in payloads.values()) + len(
        (compressed(mbytes) if (compress and r.deflate) else None) or mbytes) * needs_manifest
    if not needs_manifest and not keep:
        res.unchanged = True
    else:
        ag = _Agent(r, progress, res.sent_bytes, frame, window, timeout)
        r.start(AGENT, timeout)
        if MANIFEST in board_files:
            ag.command(f"D {MANIFEST}")
        for p in remove:
            ag.command(f"D {p}")
            res.removed.append(p)
        if archive is not None:
            listing = "".join(f"{p} {(build_dir / p).stat().st_size} {shas[p]}\n" for p in todo)
            ag.send_archive(archive, len(todo), listing, max(timeout, 60.0))
            res.sent_files += todo
        else:
            for p in todo:
                ag.send(payloads[p][0], p, payloads[p][1], shas[p])
                res.sent_files.append(p)
        mz = compressed(mbytes) if (compress and r.deflate) else None
        ag.send("N" if mz else "M", MANIFEST, mz or mbytes, timeout=max(timeout, 60.0))
        r.write(b"Q\n")
        out, err = r.finish(timeout)
        if err:
            raise FlashError(f"{r.name}: the flash agent failed: {err.decode(errors='replace').strip()}")
    progress("reset", res.payload_bytes, res.payload_bytes)
    r.reset()


def _board_file(build_dir: Path, name: str) -> dict[str, Any]:
    import json

    try:
        return dict(json.loads((build_dir / "board.json").read_text()))
    except (OSError, ValueError):
        from host_tools.boards import BoardError, load_board

        try:
            return load_board(name)
        except BoardError:
            return {"name": name}


def _check_hello(port: str, man: Manifest, res: FlashResult) -> None:
    from host_tools.protocol import BoardClient, ProtocolError
    from host_tools.transport.serialport import PortError, open_port

    try:
        ser = open_port(port)
    except PortError as e:
        raise FlashError(f"flashed, but cannot reopen {port} to check `hello`: {e}", 2) from e
    client = BoardClient(ser, own=True)
    try:
        h = client.request("hello", None, timeout=0.4, retries=25)
    except ProtocolError as e:
        client.close()  # free the port for the probe
        from host_tools.transport.replstate import probe

        st = probe(port)
        raise FlashError(f"flashed and verified, but the app does not answer `hello`: "
                         f"{st.why if st.at_repl else e}") from e
    finally:
        client.close()  # at once (exclusive): the next flash or tool must be able to open it
    res.hello = h
    if h.get("board") != man.board:
        raise FlashError(f"the board answers as {h.get('board')!r}, expected {man.board!r}")
    if "build" in h and h["build"] != man.build:
        raise FlashError(f"`hello` reports build {h['build']!r}, expected {man.build!r}: the new firmware is not running")
    if "build" not in h:
        res.message = "hello does not report a build id yet; the on-board manifest check stands in"
