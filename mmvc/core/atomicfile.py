"""Crash-safe file writing: a reader sees the old file or the whole new one, never a part.

Every file mmvc replaces in place (refs, the index, config, caches, pack indexes) goes through
``atomic_write``: the bytes go to a temp name beside the target, are flushed, and the temp file is
renamed over the target; the folder is then flushed so that the rename itself survives a crash.

Temp names. A temp file sits in the folder of the file it becomes (so the rename is atomic)
under a short name of its own, never ``<name>`` plus a suffix: a name of 250 bytes is legal,
and one more suffix would pass the filesystem's 255-byte limit. The fixed prefix makes every
temp file recognisable: the work-tree walk, ``add`` and ``status`` never see one, and
``fsck``/``gc`` report and remove the ones an interrupted command left. Names written by older
versions (``<name>.mmvc-tmp-<pid>`` in the work tree, ``<name>.tmp-<pid>-<thread>`` under
``.mmvc``) are recognised too.

Durable batches. An fsync per object costs a disk flush per object; Git's
``core.fsyncMethod = batch`` instead writes everything, then flushes once before the ref
update. ``sync_written`` is that one flush: ``syncfs(2)`` on the filesystem holding the store
(Linux: every dirty page and folder entry of that filesystem, one call); elsewhere each file
is fsynced, then each folder that received one.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from typing import Any

TEMP_PREFIX = ".mmvc-tmp-"
_TEMP_PID = re.compile(r"\.mmvc-tmp-\d+")
_LEGACY_TEMP = re.compile(r"\.(?:mmvc-tmp-\d+|tmp-\d+-\d+)$")


def temp_path(path: str) -> str:
    """A fresh temp name beside ``path`` (at most 28 bytes, whatever ``path``'s length)."""
    return os.path.join(os.path.dirname(path), f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")


def temp_owner(name: str) -> int | None:
    """The pid of the process that made the temp file ``name`` (a temp name), when it says."""
    m = _TEMP_PID.match(name) or _LEGACY_TEMP.search(name)
    digits = re.match(r"\.?(?:mmvc-)?tmp-(\d+)", m.group(0)) if m else None
    return int(digits.group(1)) if digits else None


def is_temp_name(name: str) -> bool:
    """Whether a file name (not a path) is one of mmvc's temp files."""
    return name.startswith(TEMP_PREFIX) or "tmp-" in name and _LEGACY_TEMP.search(name) is not None


def fsync_dir(path: str) -> None:
    """Flush a folder's entries (a rename into it is durable only once this returns)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, data, fsync: bool = True) -> None:
    """Write ``path`` so that readers see either the old file or the whole new one. ``data`` is
    bytes, or an iterable of byte chunks for a file too large to build in memory first."""
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                for chunk in data:
                    f.write(chunk)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if fsync:
        fsync_dir(os.path.dirname(path) or ".")


_syncfs: Any = None  # the libc function, found once; False where there is none


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
    folders naming them to stable storage, in one flush where the OS allows it."""
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
        _fsync_file(p)
    for d in sorted({os.path.dirname(p) for p in paths}):
        fsync_dir(d)


def _fsync_file(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return  # already replaced or removed by another writer: nothing of ours to flush
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
