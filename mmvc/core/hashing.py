"""BLAKE3-256 object ids. An id is the lowercase hex digest of the object's exact bytes."""

from __future__ import annotations

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


def new_hasher():
    """A streaming hasher; large updates release the GIL and use several threads."""
    return blake3(max_threads=blake3.AUTO)


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
