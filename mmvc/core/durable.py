"""Making a batch of written files durable at once, before anything names them.

An fsync per object costs a disk flush per object; Git's ``core.fsyncMethod = batch`` instead
writes everything, then flushes once before the ref update. Here the one flush is ``syncfs(2)``
on the filesystem holding the store (Linux: every dirty page and folder entry of that
filesystem, one call); elsewhere each file is fsynced, then each folder that received one.
"""

from __future__ import annotations

import os
import sys

_syncfs = None  # the libc function, found once; False where there is none


def _libc_syncfs():
    global _syncfs
    if _syncfs is None:
        _syncfs = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes
                import ctypes.util

                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
                fn = libc.syncfs
                fn.argtypes = [ctypes.c_int]
                fn.restype = ctypes.c_int
                _syncfs = fn
            except (OSError, AttributeError):
                pass
    return _syncfs


def sync_written(paths, where: str) -> None:
    """Flush ``paths`` (files just written and renamed into place under ``where``) and the
    folders naming them to stable storage."""
    paths = list(paths)
    if not paths:
        return
    fn = _libc_syncfs()
    if fn:
        fd = os.open(where, os.O_RDONLY)
        try:
            if fn(fd) == 0:
                return
        finally:
            os.close(fd)
    for p in paths:
        _fsync_path(p, os.O_RDONLY)
    for d in sorted({os.path.dirname(p) for p in paths}):
        _fsync_path(d, os.O_RDONLY)


def _fsync_path(path: str, flags: int) -> None:
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return  # already replaced or removed by another writer: nothing of ours to flush
    try:
        os.fsync(fd)
    except OSError as e:
        import errno

        if e.errno not in (errno.EINVAL, errno.EBADF):  # folders that cannot be fsynced on this OS
            raise
    finally:
        os.close(fd)
