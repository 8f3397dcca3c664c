from __future__ import annotations


def reflog(repo, ref: str = "HEAD") -> list[dict]:
    """Where a ref has pointed, newest first (HEAD's log records every switch and commit)."""
    if ref != "HEAD" and not ref.startswith("refs/"):
        ref = f"refs/heads/{ref}"
    return repo.refs.read_log(ref)
