# CRC-32 into a buffer, with no allocation: the journal's power-fail commit uses it.
# binascii.crc32 returns an int that on the ESP32 can exceed the 31-bit small int and
# so be a heap object; this viper routine writes the CRC's bytes straight into the
# buffer instead. Viper's own builtins (ptr8, ptr32, uint) are unknown to the 1.28
# stubs, hence the pyright setting below; it applies to this file only.
# pyright: reportUndefinedVariable=false
import binascii
import struct

import micropython

# CRC-32 table (same polynomial as binascii.crc32), one entry per 4 bits, little-endian
# u32: 64 bytes of heap instead of 1 KB for a byte table, at two lookups per byte (a
# power-fail record is ~80 bytes: still microseconds in viper). The entry for nibble i
# is the byte table's entry for i << 4 (its low four bits only shift).
_TBL = bytearray(64)


def _make_table():
    for i in range(16):
        struct.pack_into("<I", _TBL, 4 * i, binascii.crc32(bytes((i << 4,)), 0xFFFFFFFF) ^ 0xFFFFFFFF)


_make_table()


@micropython.viper  # noqa: F821 - ptr8/ptr32/uint are viper builtins
def _crc_into(buf, n: int, tbl):
    # CRC-32 of buf[0:n], stored little-endian at buf[n:n+4]. Allocation-free: the
    # value never becomes a Python int.
    b = ptr8(buf)  # noqa: F821
    t = ptr32(tbl)  # noqa: F821
    c = uint(0xFFFFFFFF)  # noqa: F821
    i = 0
    while i < n:
        c = c ^ uint(b[i])  # noqa: F821
        c = uint(t[int(c & uint(0xF))]) ^ (c >> 4)  # noqa: F821
        c = uint(t[int(c & uint(0xF))]) ^ (c >> 4)  # noqa: F821
        i += 1
    c = c ^ uint(0xFFFFFFFF)  # noqa: F821
    b[n] = int(c & uint(0xFF))  # noqa: F821
    b[n + 1] = int((c >> 8) & uint(0xFF))  # noqa: F821
    b[n + 2] = int((c >> 16) & uint(0xFF))  # noqa: F821
    b[n + 3] = int((c >> 24) & uint(0xFF))  # noqa: F821


def crc32_into(buf, n):
    # Public wrapper (tests): CRC of buf[0:n] into buf[n:n+4].
    _crc_into(buf, n, _TBL)
