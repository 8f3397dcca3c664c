from __future__ import annotations

from dataclasses import dataclass, field

from mmvc.core.modality import MODALITY_SLOTS, slot_name


@dataclass
class ShowResult:
    oid: str
    tree: str
    parents: tuple[str, ...]
    author: dict
    committer: dict
    message: str
    gate: dict
    items: int = 0
    bytes: int = 0
    by_modality: dict[str, dict[str, int]] = field(default_factory=dict)


def tree_summary(repo, root: str) -> tuple[int, int, dict[str, dict[str, int]]]:
    """(items, bytes, per-modality counts and bytes), read from the root node alone."""
    s = repo.tree.stats(root)
    by = {}
    for code in range(MODALITY_SLOTS):
        if s[code]:
            by[slot_name(code)] = {"items": s[code], "bytes": s[MODALITY_SLOTS + code]}
    return sum(s[:MODALITY_SLOTS]), sum(s[MODALITY_SLOTS:]), by


def show(repo, rev: str = "HEAD") -> ShowResult:
    oid = repo.resolve(rev)
    c = repo.read_commit(oid)
    items, nbytes, by = tree_summary(repo, c.tree)
    return ShowResult(oid, c.tree, c.parents, c.author.to_json(), c.committer.to_json(), c.message, c.gate.to_json(), items, nbytes, by)
