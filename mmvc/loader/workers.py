"""What a DataLoader worker process sets up for itself.

A worker is usually forked from the training process and may be stuck where torch's own check
of its parent never runs (inside a decoder, a read, a deadlock); it must still not outlive a
killed trainer.
"""

from __future__ import annotations

import os
import threading
import time

_watching_in: int | None = None  # the process whose parent is watched


def exit_with_parent() -> None:
    """Exit this process as soon as its parent has gone (polled twice a second by a daemon
    thread, which runs whatever the worker's main thread is blocked in). Once per process."""
    global _watching_in
    if _watching_in == os.getpid():
        return
    _watching_in = os.getpid()
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="mmvc-parent-watch", daemon=True).start()


UNKNOWN, CHECKING, GOOD, BAD = 0, 1, 2, 3


def _not_shared():
    return None


class SharedChecks:
    """Which shards a DataLoader's workers have checked against the index, so that each shard
    is hashed (or downloaded) by one of them, not by every worker that reads from it: the
    first to open a shard claims it, the others wait for its verdict."""

    def __init__(self, count: int, ctx):
        self.states = ctx.RawArray("b", count)
        self.lock = ctx.Lock()

    def __reduce__(self):
        from multiprocessing.context import get_spawning_popen

        if get_spawning_popen() is None:  # only a starting worker inherits them
            return _not_shared, ()
        return super().__reduce__()

    def claim(self, j: int) -> int:
        """GOOD or BAD once a worker has checked shard j, else CHECKING: the caller checks it
        and must ``settle`` it."""
        with self.lock:
            if self.states[j] == UNKNOWN:
                self.states[j] = CHECKING
                return CHECKING
        while self.states[j] == CHECKING:
            time.sleep(0.002)
        return self.states[j] if self.states[j] != UNKNOWN else self.claim(j)

    def settle(self, j: int, verdict: int) -> None:
        """GOOD or BAD; UNKNOWN when the check failed before a verdict (another may retry)."""
        self.states[j] = verdict
