"""The repository write lock: one writer at a time, the others waiting a bounded time.

``.mmvc/lock`` appears whole: the owner (pid, host, command, since) is written to a temp file
that is then hard-linked to the lock's name, so no reader ever finds an empty lock, even when
the disk fills up halfway. The holder also keeps an ``flock`` on the file for as long as it
runs; the kernel drops it when the process dies, however it dies. A lock nobody holds is
stale and is taken over by the next writer, with a note on stderr:

* the flock is free and the owner is a process of this host that is gone, or the owner
  recorded that it holds the flock (``"flock": true``) for as long as it runs;
* or the file is empty or unreadable (written by an older mmvc that died mid-write) and
  older than ``GARBLED_GRACE`` seconds.

A lock of another host with a free flock is never taken over: a network filesystem may not
carry flocks between hosts. Writers wait up to ``core.lock_timeout`` seconds (default 30) for
a live holder, then fail with exit 5 naming it.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import socket
import time
from dataclasses import dataclass

from mmvc.core.atomicfile import temp_path
from mmvc.core.layout import Layout
from mmvc.errors import LockedError, StorageError, storage_error

try:
    import fcntl
except ImportError:  # Windows: liveness by pid alone
    fcntl = None  # type: ignore[assignment]

DEFAULT_TIMEOUT = 30.0  # well above what eight writers queueing for a commit each need
GARBLED_GRACE = 5.0
log = logging.getLogger("mmvc")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class LockState:
    """What a lock file says and whether anyone still holds it."""

    owner: dict
    stale: bool
    why: str = ""  # why it is stale

    def describe(self) -> str:
        o = self.owner
        since = o.get("since")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(since, (int, float)) else "?"
        if not o:
            return "an unreadable lock file"
        return f"`mmvc {o.get('command', '?')}` (pid {o.get('pid')} on {o.get('host', '?')}, since {when})"


def inspect_lock(path: str) -> LockState | None:
    """The state of the lock file at ``path``, or None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return _state(fd, release=True)
    finally:
        os.close(fd)


def _state(fd: int, release: bool) -> LockState:
    """Judge the lock open at ``fd``; a stale lock's flock stays held by ``fd`` unless ``release``."""
    raw = b""
    try:
        raw = os.pread(fd, 4096, 0)
        owner = json.loads(raw)
        if not isinstance(owner, dict):
            owner = {}
    except (OSError, ValueError):
        owner = {}
    free = _try_flock(fd)
    try:
        if not free:
            return LockState(owner, False)
        pid, host = owner.get("pid"), owner.get("host")
        if not owner:
            age = time.time() - os.fstat(fd).st_mtime
            if age > GARBLED_GRACE:
                return LockState(owner, True, "it is empty or unreadable" if raw.strip() else "it is empty")
            return LockState(owner, False)
        if host != socket.gethostname():
            return LockState(owner, False)
        if isinstance(pid, int) and not pid_alive(pid):
            return LockState(owner, True, "that process is no longer running")
        if owner.get("flock") is True and pid != os.getpid():  # its holder flocks it for as long as it runs
            return LockState(owner, True, "no process holds it any more")
        return LockState(owner, False)
    finally:
        if free and release and fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            except OSError:
                pass


def _try_flock(fd: int) -> bool:
    """Whether the flock was free (and is now ours); True where flocks are not supported."""
    return _flock(fd) is not False


def _flock(fd: int) -> bool | None:
    """True: taken; False: another holds it; None: no flock on this system or filesystem."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        return None


class RepoLock:
    def __init__(self, mmvc_dir: str, what: str = "write", timeout: float = DEFAULT_TIMEOUT):
        self.path = Layout(mmvc_dir).lock
        self.what = what
        self.timeout = timeout
        self.held = False
        self._fd: int | None = None

    def acquire(self) -> None:
        deadline = time.monotonic() + max(0.0, self.timeout)
        delay = 0.005
        while True:
            if self._create():
                return
            state = self._take_over_if_stale()
            if state is None:
                continue  # it went away, or was stale and is gone now: try again at once
            me = state.owner.get("pid") == os.getpid() and state.owner.get("host") == socket.gethostname()
            left = deadline - time.monotonic()
            if me or left <= 0:
                raise LockedError(
                    f"the repository is locked by {state.describe()}",
                    f"wait for it to finish (writers wait up to core.lock_timeout = {self.timeout:g} s); "
                    f"if that process is gone, delete {self.path}",
                )
            time.sleep(min(left, delay * random.uniform(0.5, 1.5)))
            delay = min(delay * 2, 0.2)

    def _create(self) -> bool:
        """Make the lock appear whole, already flocked; False when another holds it."""
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": int(time.time()), "command": self.what}
        tmp = temp_path(self.path)
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as e:
            raise self._storage(e) from e
        try:
            try:
                info["flock"] = _flock(fd) is True  # before the link: the lock is never seen unflocked
                os.write(fd, json.dumps(info).encode())
                os.link(tmp, self.path)
            except FileExistsError:
                os.close(fd)
                return False
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
                    os.close(fd)
                    raise self._storage(e) from e
                os.close(fd)
                return self._create_without_link(info)  # a filesystem without hard links
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        self._fd = fd
        self.held = True
        return True

    def _create_without_link(self, info: dict) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        except OSError as e:
            raise self._storage(e) from e
        info["flock"] = _flock(fd) is True
        try:
            os.write(fd, json.dumps(info).encode())
        except OSError as e:
            os.close(fd)
            os.unlink(self.path)
            raise self._storage(e) from e
        self._fd = fd
        self.held = True
        return True

    def _storage(self, e: OSError) -> StorageError:
        # named after the lock, not the temp file it is written through
        return storage_error(OSError(e.errno, e.strerror, self.path), "taking the repository lock")

    def _take_over_if_stale(self) -> LockState | None:
        """The live holder's state; None after removing a stale lock (or finding none)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise self._storage(e) from e
        try:
            state = _state(fd, release=False)
            if not state.stale:
                return state
            # We hold the stale file's flock, so no other writer can judge it stale too; it is
            # removed only if the name still points at it.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                return None
            if same:
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    return None
                except OSError as e:
                    raise self._storage(e) from e
                log.warning("mmvc: removed a stale lock left by %s: %s", state.describe(), state.why)
            return None
        finally:
            os.close(fd)

    def release(self) -> None:
        if self.held:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self.held = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False
