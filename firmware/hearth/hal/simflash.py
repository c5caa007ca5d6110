# A flash partition as a file, indexed like a bytearray: the virtual board's flash (its
# peripherals, host_tools/sim/rom/_simlink.py) and the firmware tests' in-process world
# (hal/simlocal.py) both keep their images this way. Sim only: never on a chip.


class FileImage:
    # A partition image file with bytearray-style indexing, written through at once.
    # A chip's flash is not RAM: keeping the image in a file keeps it off the GC heap
    # whose size the faithful interpreter holds to a chip's.
    def __init__(self, f, size, base=0):
        self._f = f
        self._size = size
        self._base = base

    def __len__(self):
        return self._size

    def __getitem__(self, i):
        if isinstance(i, slice):
            self._f.seek(self._base + i.start)
            return self._f.read(i.stop - i.start)
        self._f.seek(self._base + i)
        return self._f.read(1)[0]

    def readinto(self, start, buf):
        # Into the caller's buffer: esp32.Partition.readblocks allocates nothing either
        # (a read slice here was a new 256-byte object per journal read).
        self._f.seek(self._base + start)
        self._f.readinto(buf)

    def __setitem__(self, i, data):
        if isinstance(i, slice):
            self._f.seek(self._base + i.start)
            self._f.write(data)  # unbuffered: on disk for the next boot even if killed now
        else:
            self._f.seek(self._base + i)
            self._f.write(bytes((data,)))
