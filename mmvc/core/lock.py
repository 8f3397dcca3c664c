"""The repository write lock. One writer at a time; the lock file says who holds it so that a
stale lock left by a killed process is reported with its owner and the fix, never waited on."""

from __future__ import annotations

import json
import os
import socket
import time

from mmvc.core.layout import Layout
from mmvc.errors import LockedError


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RepoLock:
    def __init__(self, mmvc_dir: str, what: str = "write"):
        self.path = Layout(mmvc_dir).lock
        self.what = what
        self.held = False

    def acquire(self) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": int(time.time()), "command": self.what}
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise self._held_error() from None
        with os.fdopen(fd, "w") as f:
            json.dump(info, f)
        self.held = True

    def _held_error(self) -> LockedError:
        try:
            with open(self.path) as f:
                owner = json.load(f)
        except (OSError, ValueError):
            owner = {}
        pid, host = owner.get("pid"), owner.get("host", "?")
        cmd = owner.get("command", "?")
        since = owner.get("since")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?"
        if isinstance(pid, int) and host == socket.gethostname() and not pid_alive(pid):
            return LockedError(
                f"stale lock: {self.path} was left by `mmvc {cmd}` (pid {pid}, since {when}), which is no longer running",
                f"no mmvc process holds it; delete it with `rm {self.path}` and run `mmvc fsck`",
            )
        return LockedError(
            f"the repository is locked by `mmvc {cmd}` (pid {pid} on {host}, since {when})",
            f"wait for it to finish; if that process is gone, delete {self.path}",
        )

    def release(self) -> None:
        if self.held:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.held = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False
