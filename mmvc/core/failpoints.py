"""Named points where the fault tests stop the process as ``kill -9`` would.

``MMVC_FAILPOINT=name:N`` (several, comma-separated) makes the N-th time the running process
reaches ``name`` its last: it sends itself SIGKILL there, so nothing of Python's cleanup runs,
as in a power cut or an OOM kill. Unset, reaching a point costs one dictionary lookup. The
points (``POINTS``) sit between the steps whose order the crash guarantees depend on
(docs/guarantees.md); tests/faults/ kills at them and at random moments, then checks that the
next command finds a repository it can use.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "worktree-file",  # a move (switch, checkout, merge) wrote or removed one work-tree file
    "worktree-index",  # a move wrote the index, before HEAD moves
)
_armed: dict[str, int] | None = None


def _parse(spec: str) -> dict[str, int]:
    out = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, count = part.partition(":")
        out[name] = int(count) if count.isdigit() else 1
    return out


def reached(name: str) -> None:
    """Die here when the environment armed this point and its count has run down."""
    global _armed
    if _armed is None:
        _armed = _parse(os.environ.get("MMVC_FAILPOINT", ""))
    left = _armed.get(name)
    if left is None:
        return
    if left <= 1:
        os.kill(os.getpid(), signal.SIGKILL)
    _armed[name] = left - 1
