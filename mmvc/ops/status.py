"""``mmvc status``: staged changes (index vs HEAD) and unstaged ones (work tree vs index).

Unchanged files are recognised by their stat fingerprint (size, mtime, inode) alone; only
files whose fingerprint moved, or that were written too close to the index to trust it, are
re-hashed to tell a real change from a touch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import os

from mmvc.core.hashing import hash_file
from mmvc.core.index import FLAG_SKIP_WORKTREE, PROC_STATUS, RACY_WINDOW_NS
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
    merging: dict | None = None  # {"theirs": id, "conflicts": [paths], "curation": [{ours, theirs, tier, detail}]} while a merge is open

    verdicts: dict = field(default_factory=dict)  # gated repos: process verdict -> modality -> n, for staged items

    def add_verdict(self, verdict: str, modality: int) -> None:
        per = self.verdicts.setdefault(verdict, {})
        name = modality_name(modality)
        per[name] = per.get(name, 0) + 1

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


@dataclass
class WorktreeScan:
    """What differs between the work tree and the index, found without re-reading unchanged files.

    ``modified`` rows are (key, index modality code, walked file, the file's id when it had to
    be hashed to tell a touch from a change, else None)."""

    modified: list[tuple] = field(default_factory=list)
    deleted: list[tuple[str, int]] = field(default_factory=list)  # (key, index modality code)
    untracked: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def scan_worktree(repo, index, untracked: bool = True, keep=None) -> WorktreeScan:
    """Work tree against ``index``, shared by status and diff. ``keep(key)`` limits the files
    that are looked at beyond the stat check (nothing outside it is hashed or reported).
    Entries marked skip-worktree (sparse) are absent on purpose: neither deleted nor modified."""
    res = WorktreeScan()
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
    for f in suspects:
        key, fsize, fmtime, fino, _ = f
        if key in overlay:
            seen_overlay.add(key)
        if keep is not None and not keep(key):
            continue
        if key in overlay:
            e = overlay[key]
            if e is None:
                if untracked:
                    res.untracked.append(key)
                continue
            if e.flags & FLAG_SKIP_WORKTREE:
                continue
            size, mtime, ino, oid, mod = e.size, e.mtime_ns, e.ino, e.oid, e.modality
            racy = index.is_racy(e)
        else:
            i = pos.get(key)
            if i is None:
                if untracked:
                    res.untracked.append(key)
                continue
            if base.flags[i] & FLAG_SKIP_WORKTREE:
                continue
            size, mtime, ino, mod = sizes[i], mtimes[i], inos[i], base.mods[i]
            oid = base.ids[i * 32 : i * 32 + 32].hex()
            racy = mtime >= trusted_before
        if size != fsize:
            res.modified.append((key, mod, f, None))
        elif mtime != fmtime or ino != fino or racy:
            now = hash_file(wt.abspath(key))
            if now != oid:
                res.modified.append((key, mod, f, now))
    gone = lambda p: (keep is None or keep(p)) and not os.path.lexists(wt.abspath(p))  # noqa: E731  (tracked files may be ignored now)
    i = seen.find(0)
    while i >= 0:
        p = base.paths[i]
        if p not in overlay and not base.flags[i] & FLAG_SKIP_WORKTREE and gone(p):
            res.deleted.append((p, base.mods[i]))
        i = seen.find(0, i + 1)
    for p, e in overlay.items():
        if e is not None and p not in seen_overlay and not e.flags & FLAG_SKIP_WORKTREE and gone(p):
            res.deleted.append((p, e.modality))
    res.modified.sort(key=lambda r: r[0])
    res.deleted.sort()
    res.untracked.sort()
    return res


def _count_processed(repo, res: StatusResult, runs: dict) -> None:
    """Verdicts of processed staged items; an item judged under another config is "stale"."""
    from mmvc.ops.process import read_run
    from mmvc.process.config import ProcessConfig

    current = ProcessConfig.load(repo).config_hash()
    for run_id, rows in runs.items():
        stale = read_run(repo, run_id).get("config") != current
        for _, modality, verdict in rows:
            res.add_verdict("stale" if stale else verdict, modality)


def status(repo, untracked: bool = True) -> StatusResult:
    branch, head = repo.head()
    root = repo.read_commit(head).tree if head else ""
    index = repo.load_index()
    res = StatusResult(branch=branch, head=head, gated=repo.config.gated)
    state_path = os.path.join(repo.dir, "MERGE_STATE.json")
    if os.path.exists(state_path):
        import json

        with open(state_path) as f:
            state = json.load(f)
        res.merging = {"theirs": state["theirs"], "conflicts": [c["path"] for c in state["conflicts"]],
                       "curation": state.get("curation", [])}
    runs = {}
    for p, e, h in index.staged(repo.tree, root):
        kind = "deleted" if e is None else "added" if h is None else "modified"
        res.staged.append(Change(p, kind, modality_name((e or h).modality)))
        if e is not None and res.gated:
            verdict = PROC_STATUS.get(e.proc_status, "unprocessed")
            if e.proc_id:
                runs.setdefault(e.proc_id, []).append((p, e.modality, verdict))
            else:
                res.add_verdict(verdict, e.modality)
    if runs:
        _count_processed(repo, res, runs)
    scan = scan_worktree(repo, index, untracked)
    res.skipped = scan.skipped
    res.unstaged = sorted([Change(key, "modified", modality_name(mod)) for key, mod, _, _ in scan.modified]
                          + [Change(key, "deleted", modality_name(mod)) for key, mod in scan.deleted], key=lambda c: c.path)
    res.untracked = [Change(key, "untracked", modality_name(extension_modality(key))) for key in scan.untracked]
    return res
