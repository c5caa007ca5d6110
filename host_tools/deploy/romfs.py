"""ROMFS images and writing one into a board's ``romfs`` partition over the console.

A ROMFS image (MicroPython's read-only filesystem; format in extmod/vfs_rom.c) sits in
a flash partition that MicroPython maps into memory and mounts at /rom: bytecode there
runs in place instead of being copied into the GC heap. Images are made with mpremote's
writer (``mpremote.romfs.VfsRomWriter``) and checked here before anything is sent.

Writing, as ``mpremote romfs deploy`` does, through the board's own interface:
``vfs.rom_ioctl`` prepare (erase) / write / complete where the port has them (the
virtual board's interpreter), or the partition object's erase (``ioctl(6)``) and
``writeblocks`` (ports/esp32). Differences that matter for a board in the field:

* the image's first block is written last: until the very end the partition has no
  valid header, so an interrupted write leaves /rom unmounted (nothing half-read);
* /rom is unmounted first, and remounted after the image's sha256 was checked on the
  board, so the firmware check that follows can read it;
* blocks go deflated when the board has ``deflate``, each in frames the board acks
  (the framing and escapes of host_tools/deploy/sync.py).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpremote.romfs import VfsRomWriter

from host_tools.deploy.sync import encode, frames
from host_tools.transport.rawrepl import RawRepl

HEADER = VfsRomWriter.ROMFS_HEADER
BLOCK = 4096  # the flash sector: the unit of erase
ZBITS = 12  # deflate window per block (4 KiB of RAM on the board)


class RomfsError(Exception):
    """A bad image, a board without ROMFS, or a write that failed; `code` as FlashError's."""

    def __init__(self, msg: str, code: int = 1) -> None:
        super().__init__(msg)
        self.code = code


# ---- images --------------------------------------------------------------------------------
def make_image(files: dict[str, bytes]) -> bytes:
    """A ROMFS image holding `files` ({"hearth/app.mpy": data, ...}), directories in
    sorted order (the same input always gives the same bytes)."""
    w = VfsRomWriter()
    tree: dict[str, Any] = {}
    for path, data in files.items():
        node = tree
        *dirs, name = path.split("/")
        for d in dirs:
            node = node.setdefault(d, {})
        node[name] = data

    def emit(node: dict[str, Any]) -> None:
        for name in sorted(node):
            v = node[name]
            if isinstance(v, dict):
                w.opendir(name)
                emit(v)
                w.closedir()
            else:
                assert isinstance(v, bytes)
                w.mkfile(name, v)

    emit(tree)
    return w.finalise()


def _uint(b: bytes, i: int, end: int) -> tuple[int, int]:
    v = 0
    while True:
        if i >= end:
            raise IndexError
        c = b[i]
        i += 1
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, i


def parse_image(data: bytes, what: str = "the image") -> dict[str, bytes]:
    """Every file of a ROMFS image, {path: data}; RomfsError (code 2) for anything that is
    not a whole, well-formed image: another file type, a truncated or padded copy."""
    if not data.startswith(HEADER):
        raise RomfsError(f"{what} is not a ROMFS image (it does not start with d2:cd:31): "
                         "make one with `hearth build --format romfs`", 2)
    try:
        n, start = _uint(data, 3, len(data))
    except IndexError:
        raise RomfsError(f"{what} is truncated (it ends inside its header)", 2) from None
    end = start + n
    if end > len(data):
        raise RomfsError(f"{what} is truncated: its header says {end} bytes, it has {len(data)}; "
                         "rebuild it with `hearth build --format romfs`", 2)
    if end != len(data):
        raise RomfsError(f"{what} has {len(data) - end} bytes after its end ({end} bytes): not an image "
                         "as `hearth build` makes them", 2)
    out: dict[str, bytes] = {}

    def walk(i: int, stop: int, prefix: str) -> None:
        while i < stop:
            kind, i = _uint(data, i, stop)
            size, i = _uint(data, i, stop)
            if i + size > stop:
                raise IndexError
            body_end = i + size
            if kind in (4, 5):  # directory, file: name, then nested records
                ln, j = _uint(data, i, body_end)
                name = data[j : j + ln].decode()
                j += ln
                if j > body_end or not name or "/" in name:
                    raise IndexError
                if kind == 4:
                    walk(j, body_end, prefix + name + "/")
                else:
                    out[prefix + name] = _file_data(j, body_end)
            i = body_end

    def _file_data(i: int, stop: int) -> bytes:
        while i < stop:
            kind, i = _uint(data, i, stop)
            size, i = _uint(data, i, stop)
            if i + size > stop:
                raise IndexError
            if kind == 2:
                return data[i : i + size]
            if kind == 3:
                off, k = _uint(data, i, i + size)
                ln, _ = _uint(data, k, i + size)
                if start + off + ln > end:
                    raise IndexError
                return data[start + off : start + off + ln]
            i += size
        return b""

    try:
        walk(start, end, "")
    except (IndexError, UnicodeDecodeError):
        raise RomfsError(f"{what} is corrupt: a record runs past its end", 2) from None
    return out


def check_fits(image: bytes, partition: int) -> None:
    if len(image) > partition:
        raise RomfsError(f"the ROMFS image ({len(image)} bytes) does not fit the board's romfs partition "
                         f"({partition} bytes): make the partition bigger in the board's partition table "
                         "(boards/*.csv) and flash it with `hearth flash --base`, or leave modules out", 2)


# ---- writing it on a board -------------------------------------------------------------------
# Runs on the board: what ROMFS it has. Prints "# platform deflate", then
# "size blocksize mounted imagesize sha256" (size 0 when there is no ROMFS partition).
PROBE = b"""import sys,vfs,os
try:
 import deflate;_z=1
except ImportError:_z=0
print('#',sys.platform,_z)
def _p():
 if not hasattr(vfs,'rom_ioctl') or vfs.rom_ioctl(1)<1:return '0 0 0 0 -'
 d=vfs.rom_ioctl(2,0)
 if isinstance(d,int):return '0 0 0 0 -'
 if hasattr(d,'ioctl'):bs=d.ioctl(5,0);n=d.ioctl(4,0)*bs
 else:bs=4096;n=len(memoryview(d))
 m=memoryview(d);h=m[:12];z=0
 if bytes(h[:3])==b'\\xd2\\xcd\\x31':
  i=3;v=0
  while 1:
   c=h[i];i+=1;v=(v<<7)|(c&127)
   if not c&128:break
  z=i+v
 s='-'
 if 0<z<=n:
  import hashlib,binascii
  g=hashlib.sha256()
  for o in range(0,z,1024):g.update(m[o:min(z,o+1024)])
  s=binascii.hexlify(g.digest()).decode()
 try:os.stat('/rom');t=1
 except OSError:t=0
 return '%d %d %d %d %s'%(n,bs,t,z,s)
print(_p())
"""

# Runs on the board until "Q". Replies as the flash agent: "." per frame read, "k\\n" per
# command done, "e message\\n" on an error.
#   U N        unmount /rom, erase the first N bytes of the partition
#   W|Z OFF N  N bytes on the wire (Z: raw deflate) to program at OFF
#   C N SHA    complete; check the sha256 of the first N bytes; mount /rom again
AGENT = b"""import sys,vfs,hashlib,binascii
_r=sys.stdin.buffer.read
_o=sys.stdout.write
_d=vfs.rom_ioctl(2,0)
_P=hasattr(_d,'ioctl')
_B=_d.ioctl(5,0) if _P else 4096
def _l():
 b=b''
 while 1:
  c=_r(1)
  if c==b'\\n':return b.decode()
  b+=c
def _x(d):
 if 16 in d:
  for a,b in ((b'\\x10A',b'\\x01'),(b'\\x10B',b'\\x02'),(b'\\x10C',b'\\x03'),(b'\\x10Z',b'\\x1a'),(b'\\x10\\\\',b'\\x1c'),(b'\\x10P',b'\\x10')):d=d.replace(a,b)
 return d
def _rx(n):
 b=bytearray()
 while n>0:
  d=_r(int(_r(2),16));_o('.');d=_x(d);b+=d;n-=len(d)
 return b
def _ck(r):
 if isinstance(r,int) and r<0:raise OSError(-r)
while 1:
 c=_l().split(' ')
 k=c[0]
 try:
  if k=='Q':break
  if k=='U':
   try:vfs.umount('/rom')
   except OSError:pass
   n=int(c[1])
   if _P:
    for b in range((n+_B-1)//_B):_d.ioctl(6,b)
   else:_ck(vfs.rom_ioctl(3,0,n))
  elif k in 'WZ':
   o=int(c[1]);b=_rx(int(c[2]))
   if k=='Z':
    import io,deflate
    b=deflate.DeflateIO(io.BytesIO(b),deflate.RAW,12).read()
   if _P:_d.writeblocks(o//_B,b,o%_B)
   else:_ck(vfs.rom_ioctl(4,0,o,b))
   b=None
  elif k=='C':
   if not _P:_ck(vfs.rom_ioctl(5,0))
   n=int(c[1]);m=memoryview(_d);g=hashlib.sha256()
   for o in range(0,n,1024):g.update(m[o:min(n,o+1024)])
   h=binascii.hexlify(g.digest()).decode()
   if h!=c[2]:
    _o('e the image read back from flash has sha256 %s\\n'%h);continue
   vfs.mount(vfs.VfsRom(_d),'/rom')
  _o('k\\n')
 except Exception as e:
  _o('e %s %r\\n'%(k,e))
"""

Progress = Callable[[str, int, int], None]


@dataclass
class RomInfo:
    platform: str
    deflate: bool
    size: int  # the partition, bytes (0: no ROMFS partition)
    block: int
    mounted: bool
    image_size: int  # of the image the partition holds now (0: none)
    image_sha: str  # its sha256, "-" when there is none


def probe(r: RawRepl, timeout: float = 10.0) -> RomInfo:
    """What ROMFS the board has (changes nothing)."""
    out = r.run(PROBE, timeout).decode(errors="replace").split("\n")
    head = out[0].split()
    try:
        n, bs, t, z, s = out[1].split()
        return RomInfo(head[1], head[2] == "1", int(n), int(bs), t == "1", int(z), s)
    except (IndexError, ValueError):
        raise RomfsError(f"{r.name}: unexpected answer to the ROMFS probe: {out[:3]!r}") from None


def _send(r: RawRepl, line: str, payload: bytes | None, timeout: float, frame: int, window: int) -> int:
    """One agent command, with `payload` in acked frames; returns the bytes written."""
    wire = len(line) + 1
    r.write(line.encode() + b"\n")
    if payload is not None:
        unacked = 0
        for f in frames(encode(payload), frame):
            while unacked >= window:
                _ack(r, line, timeout)
                unacked -= 1
            r.write(f)
            wire += len(f)
            unacked += 1
        while unacked:
            _ack(r, line, timeout)
            unacked -= 1
    reply = r.read_until(b"\n", timeout, f"answer to {line.split()[0]}").lstrip(b".").strip()
    if reply != b"k":
        msg = reply[1:].decode(errors="replace").strip() if reply.startswith(b"e") else repr(reply[-200:])
        raise RomfsError(f"{r.name}: writing the ROMFS failed ({line.split()[0]}): {msg}. The board boots "
                         "safe with an incomplete firmware: run `hearth flash --format romfs` again")
    return wire


def _ack(r: RawRepl, what: str, timeout: float) -> None:
    c = r.read_exact(1, timeout)
    if c != b".":
        rest = c + r.drain(0.2, 1.0)
        raise RomfsError(f"{r.name}: the board stopped taking the ROMFS image mid-transfer (reset or power "
                         f"loss?): {rest[:200]!r}. It boots safe with an incomplete firmware: run "
                         "`hearth flash --format romfs` again")


def write_image(r: RawRepl, image: bytes, info: RomInfo, progress: Progress | None = None,
                timeout: float = 10.0, frame: int = 128, window: int = 2) -> tuple[int, int]:
    """Write `image` into the board's ROMFS partition (the board is in the raw REPL and
    nothing runs from /rom); returns (bytes on the wire, payload bytes after compression)."""
    parse_image(image)
    check_fits(image, info.size)
    progress = progress or (lambda phase, done, total: None)
    sha = hashlib.sha256(image).hexdigest()
    # Erasing is up to 0.4 s a sector on a worst-case chip: a long, silent wait.
    slow = max(timeout, 2.0 + 0.5 * (len(image) // BLOCK + 1))
    r.start(AGENT, timeout)
    wire = _send(r, f"U {len(image)}", None, slow, frame, window)
    blocks = list(range(BLOCK, len(image), BLOCK)) + [0]  # the header's block last
    done = sent = 0
    for off in blocks:
        data = image[off : off + BLOCK]
        if len(data) % 4:  # whole flash words; 0xFF programs nothing
            data += b"\xff" * (4 - len(data) % 4)
        payload, kind = data, "W"
        if info.deflate:
            co = zlib.compressobj(9, zlib.DEFLATED, -ZBITS)
            z = co.compress(data) + co.flush()
            if len(z) < 0.9 * len(data):
                payload, kind = z, "Z"
        wire += _send(r, f"{kind} {off} {len(payload)}", payload, timeout, frame, window)
        sent += len(payload)
        done += min(BLOCK, len(image) - off)
        progress("romfs", done, len(image))
    wire += _send(r, f"C {len(image)} {sha}", None, slow, frame, window)
    r.write(b"Q\n")
    _out, err = r.finish(timeout)
    if err:
        raise RomfsError(f"{r.name}: the ROMFS agent failed: {err.decode(errors='replace').strip()}")
    return wire, sent


def read_image_file(path: Path) -> bytes:
    """An image from a file, checked (RomfsError code 2 when it is not one)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise RomfsError(f"cannot read {path}: {e.strerror or e}", 2) from e
    parse_image(data, str(path))
    return data


def image_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

