"""The trust boundary: the one function that decides whether staged entries may enter a version.

Every path into a version (commit, and later merge) goes through ``admit``. Until the process
pipeline exists there is nothing to check items against, so it admits everything and says so:
the commit is recorded as ``ungated`` whatever the repository's setting, never as gated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmvc.core.objects import Gate


@dataclass
class Verdict:
    gate: Gate
    admitted: list = field(default_factory=list)  # (path, IndexEntry | None) to apply
    refused: list = field(default_factory=list)  # (path, reason)


def admit(repo, staged: list) -> Verdict:
    """``staged``: (path, index entry or None for a deletion, HEAD entry or None)."""
    return Verdict(gate=Gate(mode="ungated"), admitted=[(p, e) for p, e, _ in staged])
