"""``mmvc pull [REMOTE [BRANCH]]``: fetch, then merge the remote's branch into the current one
(a fast-forward when the local branch has nothing of its own)."""

from __future__ import annotations

from dataclasses import dataclass

from mmvc.core.layout import HEADS, tracking_ref
from mmvc.errors import BadInputError


@dataclass
class PullResult:
    fetch: object  # FetchResult
    merge: object  # MergeResult
    source: str  # the remote-tracking ref merged


def pull(repo, remote: str | None = None, branch: str | None = None, progress=None, jobs: int = 8, strategies=(),
         message: str | None = None) -> PullResult:
    from mmvc.ops.fetch import fetch
    from mmvc.ops.merge import merge
    from mmvc.services.remotes import get_spec

    spec = get_spec(repo, remote)
    head_ref, head = repo.head()
    if branch is None:
        if head_ref is None:
            raise BadInputError("HEAD is detached: there is no current branch to pull into", f"name the branch: `mmvc pull {spec.name} BRANCH`")
        branch = head_ref[len(HEADS):]
    f = fetch(repo, spec.name, progress=progress, jobs=jobs)
    source = tracking_ref(spec.name, branch)
    if repo.refs.read(source) is None:
        raise BadInputError(f"remote {spec.name} has no branch {branch}", "check the branch name, or push that branch there first")
    if head is None:
        from mmvc.ops.checkout import checkout

        if head_ref is not None:
            repo.refs.update(head_ref, repo.refs.read(source), None, f"pull {spec.name} {branch}", "")
            checkout(repo, head_ref[len(HEADS):])
        from mmvc.ops.merge import MergeResult

        return PullResult(f, MergeResult("fast-forward", None, repo.refs.read(source), None, commit=repo.refs.read(source)), source)
    m = merge(repo, source, strategies=list(strategies), message=message or f"Merge {spec.name}/{branch}\n")
    return PullResult(f, m, source)
