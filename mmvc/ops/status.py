"""``mmvc status``: staged changes (index vs HEAD) and unstaged ones (work tree vs index).

Unchanged files are recognised by their stat fingerprint (size, mtime, inode) alone; only
files whose fingerprint moved, or that were written too close to the index to trust it, are
re-hashed to tell a real change from a touch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import os

from mmvc.core.hashing import new_hasher
from mmvc.core.index import RACY_WINDOW_NS
from mmvc.core.modality import extension_modality, modality_name
from mmvc.core.worktree import WalkResult


@dataclass
class Change:
    path: str
    kind: str  # added | modified | deleted
    modality: str


@dataclass
class StatusResult:
    branch: str | None
    head: str | None
    gated: bool
    staged: list[Change] = field(default_factory=list)
    unstaged: list[Change] = field(default_factory=list)  # modified / deleted in the work tree
    untracked: list[Change] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def counts(self) -> dict:
        out: dict[str, dict[str, int]] = {}
        for section, changes in (("staged", self.staged), ("unstaged", self.unstaged), ("untracked", self.untracked)):
            per: dict[str, int] = {}
            for c in changes:
                per[c.modality] = per.get(c.modality, 0) + 1
            out[section] = dict(sorted(per.items()))
        return out

    @property
    def clean(self) -> bool:
        return not (self.staged or self.unstaged or self.untracked)


def _file_hash(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            h = new_hasher()
            while chunk := f.read(8 << 20):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


def status(repo, untracked: bool = True) -> StatusResult:
    branch, head = repo.head()
    root = repo.read_commit(head).tree if head else ""
    index = repo.load_index()
    res = StatusResult(branch=branch, head=head, gated=repo.config.gated)
    for p, e, h in index.staged(repo.tree, root):
        kind = "deleted" if e is None else "added" if h is None else "modified"
        res.staged.append(Change(p, kind, modality_name((e or h).modality)))

    walk = WalkResult()
    wt = repo.worktree
    wt.walk("", walk)
    res.skipped = walk.skipped
    base = index.base
    overlay = index.overlay
    pos = {p: i for i, p in enumerate(base.paths)}
    sizes, mtimes, inos = base.sizes, base.mtimes, base.inos
    trusted_before = index.base_written_ns - RACY_WINDOW_NS
    seen = bytearray(len(base))
    suspects = []
    for f in walk.files:  # the hot loop: one dict lookup and three compares per unchanged file
        i = pos.get(f[0])
        if i is not None and f[0] not in overlay:
            seen[i] = 1
            m = mtimes[i]
            if sizes[i] == f[1] and m == f[2] and inos[i] == f[3] and m < trusted_before:
                continue
        suspects.append(f)
    seen_overlay = set()
    for key, fsize, fmtime, fino, _ in suspects:
        if key in overlay:
            seen_overlay.add(key)
            e = overlay[key]
            if e is None:
                if untracked:
                    res.untracked.append(Change(key, "untracked", modality_name(extension_modality(key))))
                continue
            size, mtime, ino, oid, mod = e.size, e.mtime_ns, e.ino, e.oid, e.modality
            racy = index.is_racy(e)
        else:
            i = pos.get(key)
            if i is None:
                if untracked:
                    res.untracked.append(Change(key, "untracked", modality_name(extension_modality(key))))
                continue
            size, mtime, ino, mod = sizes[i], mtimes[i], inos[i], base.mods[i]
            oid = base.ids[i * 32 : i * 32 + 32].hex()
            racy = mtime >= trusted_before
        if size != fsize:
            res.unstaged.append(Change(key, "modified", modality_name(mod)))
        elif (mtime != fmtime or ino != fino or racy) and _file_hash(wt.abspath(key)) != oid:
            res.unstaged.append(Change(key, "modified", modality_name(mod)))
    gone = lambda p: not os.path.lexists(wt.abspath(p))  # noqa: E731  (tracked files may be ignored now)
    i = seen.find(0)
    while i >= 0:
        p = base.paths[i]
        if p not in overlay and gone(p):
            res.unstaged.append(Change(p, "deleted", modality_name(base.mods[i])))
        i = seen.find(0, i + 1)
    for p, e in overlay.items():
        if e is not None and p not in seen_overlay and gone(p):
            res.unstaged.append(Change(p, "deleted", modality_name(e.modality)))
    res.unstaged.sort(key=lambda c: c.path)
    res.untracked.sort(key=lambda c: c.path)
    return res


