"""Object ids and the hashers that make them."""

from __future__ import annotations

import os
import signal
import sys

import pytest
from blake3 import blake3

from mmvc.core.hashing import hash_threads, new_hasher


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs fork")
def test_a_forked_child_hashes_large_buffers_after_its_parent_did():
    """A parent that hashed on blake3's global thread pool, then forked (a DataLoader starting
    its workers): the child's hashers must not wait on the pool threads it did not inherit."""
    data = os.urandom(1 << 20)
    h = new_hasher()
    h.update(data)  # starts the global pool in this process
    expected = h.hexdigest()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        signal.alarm(30)  # a hang ends the child with SIGALRM
        stream = new_hasher()
        stream.update(data)
        whole = blake3(data, max_threads=hash_threads(len(data)))
        os._exit(0 if stream.hexdigest() == whole.hexdigest() == expected else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
