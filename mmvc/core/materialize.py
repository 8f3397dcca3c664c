"""Writing stored items back into the work tree, whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Iterator

from mmvc.core.hashing import new_hasher
from mmvc.core.atomicfile import temp_path
from mmvc.errors import BadInputError, CorruptError, storage_error


def write_item(store, oid: str, dest: str, executable: bool = False) -> os.stat_result:
    """Copy object ``oid`` to ``dest`` through a temp file, verifying its hash on the way."""
    d = os.path.dirname(dest)
    if not os.path.isdir(d):
        os.makedirs(d, exist_ok=True)
    tmp = temp_path(dest)
    try:
        h = new_hasher()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755 if executable else 0o644)
        with os.fdopen(fd, "wb") as out, store.open(oid) as src:
            while chunk := src.read(8 << 20):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != oid:
            raise CorruptError(f"object {oid} is corrupt (its bytes no longer hash to its id)", "run `mmvc fsck`")
        os.replace(tmp, dest)
    except OSError as e:
        _unlink(tmp)
        raise storage_error(e, f"writing {dest}") from e
    except BaseException:
        _unlink(tmp)
        raise
    return os.lstat(dest)


def check_no_link_in_path(root: str, key: str) -> None:
    """Refuse to write ``key`` through a symbolic link to a folder, which could lead outside the work tree."""
    link = link_in_path(root, key)
    if link is not None:
        raise BadInputError(f"refusing to write {key}: {link} is a symbolic link", "replace the link with a real folder")


def link_in_path(root: str, key: str) -> str | None:
    """The first folder of ``key`` (relative to ``root``) that is a symbolic link, or None."""
    d = root
    for part in key.split("/")[:-1]:
        d = os.path.join(d, part)
        if os.path.islink(d):
            return os.path.relpath(d, root)
    return None


WRITERS = 8  # files written at once: a checkout of many small files waits on the file system
BATCH = 4096  # files handed to the writers at a time (their results are kept in order)


def write_items(store, items: list[tuple[str, str, bool]], jobs: int = WRITERS) -> Iterator[os.stat_result]:
    """``write_item`` of each (object id, destination, executable), ``jobs`` at a time; the
    stats in the order of ``items``. The first failure is raised once the writes under way end."""
    if jobs <= 1 or len(items) < 2 * jobs:
        for oid, dest, executable in items:
            yield write_item(store, oid, dest, executable)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mmvc-write")
    try:
        for lo in range(0, len(items), BATCH):
            yield from pool.map(lambda it: write_item(store, *it), items[lo:lo + BATCH])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after a failure, start no other write


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
