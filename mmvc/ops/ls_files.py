from __future__ import annotations

from collections.abc import Iterator

from mmvc.core.manifest import ManifestEntry


def ls_files(repo, rev: str | None = None, prefix: str = "") -> Iterator[ManifestEntry]:
    """Items of a version (``rev``) or, with no revision, of the index; sorted by path."""
    if rev is None:
        return (e.manifest() for e in repo.load_index().iter_entries(prefix))
    root = repo.read_commit(repo.resolve(rev)).tree
    return repo.tree.iter_entries(root, prefix)
