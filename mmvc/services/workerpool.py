"""Worker processes for verbs that write many objects at once: ``add`` hashing files, ``import``
reading a source's units.

Workers come from a fork server, not from the calling process: forking a parent that holds a
walk of millions of files and the index would charge every worker for that memory. Each worker
opens the repository's object store itself (``store_args``) and reports progress through
shared counters (``worker_counters``), which the caller's ``on_progress`` reads about five times
a second. When the caller is interrupted or a worker fails, the other workers are terminated,
not awaited (one hit by the same Ctrl-C may never answer), and the temp files they left in the
store are removed: the caller holds the repository lock, so those are its own.

Workers ignore Ctrl-C (the caller, which gets it too, stops them without a traceback from each)
and end themselves within a second of the caller's death, however it dies: a ``kill -9`` of
``mmvc add`` must not leave helpers holding its stdout (``mmvc add . | cat`` would never end).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

_counters = None  # in a worker: the pool's shared progress counters


def _init_worker(counters, caller: int) -> None:
    import signal
    import threading

    global _counters
    _counters = counters
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(caller,), name="mmvc-caller-watch", daemon=True).start()


def _end_with(caller: int) -> None:
    """End this worker once the process that started the pool is gone."""
    while _running(caller):
        time.sleep(0.5)
    os._exit(1)


def _running(pid: int) -> bool:
    """Whether ``pid`` runs: alive, and (where /proc tells) not a zombie waiting to be reaped."""
    from mmvc.core.lock import pid_alive

    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def worker_counters():
    """In a worker, the pool's shared array of progress counters; None in the calling process."""
    return _counters


def store_args(store) -> dict:
    """What a worker needs to open the same local object store (``open_store``)."""
    return dict(root=store.root, link_modes=store.link_modes, pack_threshold=store.pack_threshold, fsync=store.fsync)


def open_store(args: dict):
    from mmvc.core.store import LocalObjectStore

    return LocalObjectStore(**args)


def run(fn, calls: list[tuple], workers: int, store, preload: tuple[str, ...] = (), counters: int = 1,
        on_progress: Callable | None = None) -> Iterator[tuple[int, Any]]:
    """``fn(*args)`` for each ``args`` of ``calls`` in ``workers`` processes; yields (call number,
    result) as each finishes, and raises the first failure. ``counters``: how many int64 slots
    the shared progress array has (``on_progress`` gets the array). ``store``: the local store
    the workers write to, whose temp files an interruption removes (None: they write nothing).
    ``preload``: modules the fork server imports once, so workers start warm."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload([__name__, "mmvc.core.store", *preload])
    shared = ctx.Array("q", max(1, counters), lock=False)
    started = time.time()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(shared, os.getpid()))
    try:
        futures = {pool.submit(fn, *args): i for i, args in enumerate(calls)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            if on_progress:
                on_progress(shared)
            for f in finished:
                yield futures[f], f.result()
    except BaseException:
        procs = list(getattr(pool, "_processes", {}).values())
        for proc in procs:
            proc.terminate()
        for proc in procs:  # a worker still alive could begin a temp file after the clean-up below
            proc.join(timeout=5)
        pool.shutdown(wait=False, cancel_futures=True)
        if store is not None:
            remove_temp_files(store, since=started)
        raise
    pool.shutdown(wait=True)


def remove_temp_files(store, since: float) -> None:
    """The unfinished packs and objects that interrupted workers had no time to delete: temp
    files of the store begun since ``since``."""
    try:
        names = os.listdir(store.tmp_dir)
    except OSError:
        return
    for name in names:
        path = os.path.join(store.tmp_dir, name)
        try:
            if name.startswith(("pack-", "obj-")) and os.stat(path).st_mtime >= since - 1:
                os.unlink(path)
        except OSError:
            pass
