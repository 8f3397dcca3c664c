"""BLAKE3-256 object ids. An id is the lowercase hex digest of the object's exact bytes."""

from __future__ import annotations

import os
import re

from blake3 import blake3

ID_HEX_LEN = 64
ID_RAW_LEN = 32
EMPTY_ID = blake3(b"").hexdigest()
_ID_RE = re.compile(r"^[0-9a-f]{64}$")


def hash_bytes(data: bytes | memoryview) -> str:
    return blake3(data).hexdigest()


def is_object_id(text: str) -> bool:
    return bool(_ID_RE.match(text))


# blake3.AUTO hashes on rayon's one global pool per process. A forked child inherits that pool
# without its threads, and its first large update waits for them forever (a DataLoader worker
# forked after an in-process epoch hung exactly so); forked children never use it.
_forked = False
_LARGE = 64 << 20


def _after_fork_in_child() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def hash_threads(nbytes: int = 0) -> int:
    """blake3's ``max_threads`` for hashing ``nbytes`` at once (0: a stream of unknown size):
    the global pool, or in a forked child one thread, and for a large buffer a pool of the
    hasher's own (about a millisecond to start)."""
    if not _forked:
        return blake3.AUTO
    return min(8, os.cpu_count() or 1) if nbytes >= _LARGE else 1


def new_hasher():
    """A streaming hasher; large updates release the GIL and use several threads."""
    return blake3(max_threads=hash_threads())


def hash_file(path: str) -> str | None:
    """Id of a file's current content, streamed; None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            h = new_hasher()
            while chunk := f.read(8 << 20):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None
