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
