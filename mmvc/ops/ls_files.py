from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mmvc.core.manifest import ManifestEntry
from mmvc.core.modality import MODALITY_SLOTS
from mmvc.errors import BadInputError


def ls_files(repo, rev: str | None = None, prefix: str = "") -> Iterator[ManifestEntry]:
    """Items of a version (``rev``) or, with no revision, of the index; sorted by path."""
    if rev is None:
        return (e.manifest() for e in repo.load_index().iter_entries(prefix))
    root = repo.read_commit(repo.resolve(rev)).tree
    return repo.tree.iter_entries(root, prefix)


@dataclass
class ItemsPage:
    """One page of a version's items in path order, and how many the version holds."""

    rev: str
    commit: str
    total: int
    offset: int
    entries: list[ManifestEntry]


def ls_page(repo, rev: str, offset: int, limit: int) -> ItemsPage:
    """Items ``offset`` to ``offset + limit`` of a version, read by skipping subtrees by their
    recorded counts (a page of a million items reads a handful of nodes)."""
    oid = repo.resolve(rev)
    root = repo.read_commit(oid).tree
    total = sum(repo.tree.stats(root)[:MODALITY_SLOTS])
    return ItemsPage(rev, oid, total, offset, repo.tree.entries_at(root, offset, limit))


def item(repo, key: str, rev: str = "HEAD") -> ManifestEntry:
    """The item at ``key`` in a version."""
    root = repo.read_commit(repo.resolve(rev)).tree
    found = repo.tree.get_many(root, [key]).get(key)
    if found is None:
        raise BadInputError(f"no item {key!r} in {rev}", f"`mmvc ls-files {rev}` lists its items")
    return found
