"""Crash-safe file writing: a reader sees the old file or the whole new one, never a part.

Every file mmvc replaces in place (refs, the index, config, caches, pack indexes) goes through
``atomic_write``: the bytes go to a temp name beside the target, are flushed, and the temp file is
renamed over the target; the folder is then flushed so that the rename itself survives a crash.
"""

from __future__ import annotations

import os
import threading


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
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
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
