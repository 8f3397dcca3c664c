"""How a DataLoader worker hands a batch's payloads to the training process.

torch pickles what a worker returns: a batch of large payloads is copied into a pickle, through
a pipe, out of it and into new bytes objects, and each of those buffers is fresh memory the
kernel must fault in (on a loaded two-core machine, most of the epoch). Instead a worker
copies the payloads into one of a few shared-memory slots it keeps (memfd: not bounded by the
size of /dev/shm) and sends the slot's descriptor and where each payload ends; the training
process maps the slot and copies each payload out once.

A slot is written again only once the training process has copied out the batch it held: a
worker has at most ``prefetch_factor`` batches outstanding, and the next index reaches it only
after the batch ``prefetch_factor`` places back has been handed out, so ``prefetch_factor + 1``
slots are never overwritten early. The DataLoader copies a batch out before yielding it.
"""

from __future__ import annotations

import mmap
import os

PACK_MIN = 1 << 20  # a batch smaller than this pickles about as fast


class PackedPayloads:
    """A batch's byte payloads, laid end to end in a worker's shared-memory slot."""

    def __init__(self, fd: int, size: int, ends: list[int]):
        self._fd = os.dup(fd)  # the slot's descriptor may be replaced before this is pickled
        self.size, self.ends = size, ends

    def __reduce__(self):
        from multiprocessing.reduction import DupFd

        return _received, (DupFd(self._fd), self.size, self.ends)

    def __del__(self):
        fd, self._fd = getattr(self, "_fd", -1), -1
        if fd >= 0:
            os.close(fd)


class ReceivedPayloads:
    """A packed batch as the training process receives it: ``unpack()`` copies it out."""

    def __init__(self, fd: int, size: int, ends: list[int]):
        self.map = mmap.mmap(fd, size, access=mmap.ACCESS_READ) if size else b""
        self.ends = ends

    def unpack(self) -> list[bytes]:
        m, out, lo = self.map, [], 0
        for hi in self.ends:
            out.append(m[lo:hi])
            lo = hi
        if isinstance(m, mmap.mmap):
            m.close()
        return out


def _received(df, size: int, ends: list[int]) -> ReceivedPayloads:
    fd = df.detach()
    try:
        return ReceivedPayloads(fd, size, ends)
    finally:
        os.close(fd)


class Slots:
    """A worker's shared-memory slots, used in turn; a slot grows when a batch outgrows it."""

    def __init__(self, count: int):
        self.count = count
        self.fds: list[int] = [-1] * count
        self.maps: list[mmap.mmap | None] = [None] * count
        self.turn = 0

    def pack(self, values: list) -> PackedPayloads | None:
        """The payloads packed into the next slot, or None where shared memory cannot be had
        (no memfd on this system, or the memory is refused): then they are pickled as usual."""
        total = sum(len(v) for v in values)
        i = self.turn
        m = self.maps[i]
        if m is None or len(m) < total:
            m = self._grow(i, total + total // 4)
            if m is None:
                return None
        self.turn = (i + 1) % self.count
        ends, pos = [], 0
        for v in values:
            n = len(v)
            m[pos:pos + n] = v
            pos += n
            ends.append(pos)
        return PackedPayloads(self.fds[i], total, ends)

    def _grow(self, i: int, size: int) -> mmap.mmap | None:
        if not hasattr(os, "memfd_create"):
            return None
        try:
            fd = os.memfd_create("mmvc-batch", os.MFD_CLOEXEC)
        except OSError:
            return None
        try:
            os.posix_fallocate(fd, 0, size)  # refused here, cleanly, rather than SIGBUS on a write
            m = mmap.mmap(fd, size)
        except OSError:
            os.close(fd)
            return None
        old_map, old_fd = self.maps[i], self.fds[i]
        if old_map is not None:
            old_map.close()
            os.close(old_fd)
        self.maps[i], self.fds[i] = m, fd
        return m


_slots: tuple[int, Slots] | None = None  # (process id, its slots)


def pack(values: list, count: int) -> PackedPayloads | None:
    """Pack a worker's batch of payloads (all bytes, ``PACK_MIN`` or more in all), or None."""
    global _slots
    if count < 1 or sum(len(v) for v in values) < PACK_MIN:
        return None
    if _slots is None or _slots[0] != os.getpid() or _slots[1].count != count:
        _slots = (os.getpid(), Slots(count))
    return _slots[1].pack(values)
