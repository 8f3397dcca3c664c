from __future__ import annotations

from mmvc.core.layout import HEAD, REFS, branch_ref


def reflog(repo, ref: str = HEAD) -> list[dict]:
    """Where a ref has pointed, newest first (HEAD's log records every switch and commit)."""
    if ref != HEAD and not ref.startswith(REFS):
        ref = branch_ref(ref)
    return repo.refs.read_log(ref)
